from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.platform.settings import DEFAULT_DATABASE_URL, Settings


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


def test_trusted_proxies_are_addresses_or_networks_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.5, 10.0.0.0/24,fd00::1")
    assert Settings().trusted_proxies == ("10.0.0.5/32", "10.0.0.0/24", "fd00::1/128")
    monkeypatch.delenv("GATEWAY_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == ()


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.5/24", "0.0.0.0/0", "::/0"])
def test_a_trusted_proxy_that_is_not_a_named_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings()


def test_the_openapi_document_is_served_in_dev_and_in_prod_only_when_asked() -> None:
    assert Settings(env="dev").serves_openapi
    assert not Settings(env="prod").serves_openapi
    assert Settings(env="prod", openapi=True).serves_openapi
    assert not Settings(env="dev", openapi=False).serves_openapi
