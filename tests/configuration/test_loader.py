"""Loading a configuration directory: a bad file stops the start, naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.configuration.loader import load_config
from gateway.errors import ConfigurationError
from tests.conftest import DEMO_CONFIG


def _write(directory: Path, organisations: str, deployment: str = "name: test\n") -> Path:
    (directory / "deployment.yaml").write_text(deployment)
    (directory / "organisations.yaml").write_text(organisations)
    return directory


def test_the_demo_configuration_loads() -> None:
    config = load_config(DEMO_CONFIG)
    assert config.deployment.demo is True
    assert {o.ods for o in config.directory.organisations} == {"AZZ", "RZZ"}


def test_a_bad_ods_code_names_the_file_and_field(tmp_path: Path) -> None:
    _write(tmp_path, "organisations:\n  - {ods: rzz, name: T, role: trust}\n")
    with pytest.raises(ConfigurationError) as raised:
        load_config(tmp_path)
    assert "organisations.yaml" in raised.value.message
    assert "organisations.0.ods" in raised.value.message


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "organisations:\n  - {ods: RZZ, name: T, role: trust, colour: red}\n")
    with pytest.raises(ConfigurationError, match="colour"):
        load_config(tmp_path)


def test_duplicate_ods_codes_are_refused(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "organisations:\n"
        "  - {ods: RZZ, name: A, role: trust}\n"
        "  - {ods: RZZ, name: B, role: trust}\n",
    )
    with pytest.raises(ConfigurationError, match="only once"):
        load_config(tmp_path)


def test_invalid_yaml_and_missing_files_are_reported(tmp_path: Path) -> None:
    _write(tmp_path, "organisations: [\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_config(tmp_path)
    (tmp_path / "deployment.yaml").unlink()
    with pytest.raises(ConfigurationError, match=r"deployment\.yaml: file is missing"):
        load_config(tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "nowhere")
