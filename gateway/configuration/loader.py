"""Reading a configuration directory; a bad file stops the start, naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gateway.configuration.models import Deployment, Directory, GatewayConfig
from gateway.errors import ConfigurationError

_Model = TypeVar("_Model", bound=BaseModel)


def load_config(directory: Path) -> GatewayConfig:
    if not directory.is_dir():
        raise ConfigurationError(f"configuration directory {directory} does not exist")
    return GatewayConfig(
        deployment=_load(directory / "deployment.yaml", Deployment),
        directory=_load(directory / "organisations.yaml", Directory),
    )


def _load(path: Path, model: type[_Model]) -> _Model:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: file is missing") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(f"{path}{where}: not valid YAML") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigurationError(f"{path}: {field}: {first['msg']}") from None
