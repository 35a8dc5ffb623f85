from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.settings import DEFAULT_DATABASE_URL, Settings


def test_defaults_need_nothing_but_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GATEWAY_DATABASE_URL", "GATEWAY_ENV", "GATEWAY_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.env == "dev"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.effective_log_format == "console"


def test_environment_variables_use_the_gateway_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ENV", "prod")
    monkeypatch.setenv("GATEWAY_MAX_PAGE_SIZE", "50")
    settings = Settings()
    assert settings.env == "prod"
    assert settings.max_page_size == 50
    assert settings.effective_log_format == "json"


def test_inconsistent_page_sizes_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(default_page_size=500, max_page_size=100)


def test_the_database_gives_up_before_the_request_timeout() -> None:
    with pytest.raises(ValidationError, match="below request_timeout_seconds"):
        Settings(request_timeout_seconds=10, db_statement_timeout_seconds=15)
    with pytest.raises(ValidationError, match="below request_timeout_seconds"):
        Settings(request_timeout_seconds=10, db_lock_timeout_seconds=10)


def test_database_timeouts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DB_CONNECT_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("GATEWAY_DB_LOCK_TIMEOUT_SECONDS", "1.5")
    timeouts = Settings().database_timeouts
    assert (timeouts.connect, timeouts.lock, timeouts.statement) == (3, 1.5, 15.0)
