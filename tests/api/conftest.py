"""Fixtures the API tests share."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.platform.settings import Settings


@pytest.fixture
def withholding(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The application with the demo agreement saying: share without free text."""
    config = tmp_path / "config"
    shutil.copytree(settings.config_dir, config)
    agreement = config / "agreements" / "dsa-north-crisis-pathway.yaml"
    agreement.write_text(agreement.read_text() + "withhold_free_text: true\n")
    app = create_app(settings.model_copy(update={"config_dir": config}))
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as test:
        yield test
