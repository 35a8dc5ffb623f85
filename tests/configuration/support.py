"""The demo configuration with one file changed, and the refusal it gets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.configuration.loader import load_config
from gateway.platform.errors import ConfigurationError
from tests.conftest import DEMO_CONFIG


def demo_file(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEMO_CONFIG / name).read_text())
    return data


def configured_with(tmp_path: Path, name: str, data: dict[str, Any] | None) -> Path:
    """The demo configuration with `data` as its file `name` (None: no such file)."""
    directory = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, directory)
    if data is None:
        (directory / name).unlink()
    else:
        (directory / name).write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


def refusal(directory: Path) -> str:
    """What loading `directory` is refused with."""
    with pytest.raises(ConfigurationError) as raised:
        load_config(directory)
    return raised.value.message
