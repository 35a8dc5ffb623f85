"""Where a Subscription may have the gateway call: only under a configured URL, and
nothing that could make one URL read as another."""

from __future__ import annotations

import pytest

from core.subscriptions.endpoints import MAX_URL_LENGTH, endpoint_allowed, resource_url

BASES = ("https://crisis.rzz.test/fhir", "http://127.0.0.1:8443/hooks/")


@pytest.mark.parametrize(
    "url",
    [
        "https://crisis.rzz.test/fhir",
        "https://crisis.rzz.test/fhir/",
        "https://crisis.rzz.test/fhir/hooks/escalations",
        "https://CRISIS.rzz.test/fhir/hooks",  # host names are case-insensitive
        "https://crisis.rzz.test:443/fhir/hooks",  # the scheme's own port, named
        "http://127.0.0.1:8443/hooks/a",
    ],
)
def test_a_url_under_a_configured_base_is_allowed(url: str) -> None:
    assert endpoint_allowed(url, BASES)


@pytest.mark.parametrize(
    "url",
    [
        "https://crisis.rzz.test/fhirx",  # a sibling, not below the base
        "https://crisis.rzz.test/other",
        "https://crisis.rzz.test",
        "http://crisis.rzz.test/fhir",  # another scheme
        "https://crisis.rzz.test:8443/fhir",  # another port
        "https://crisis.rzz.test.evil.example/fhir",
        "https://evil.example/fhir",
        "https://crisis.rzz.test@evil.example/fhir",  # user information
        "https://user:pw@crisis.rzz.test/fhir",
        "https://crisis.rzz.test/fhir?next=https://evil.example",
        "https://crisis.rzz.test/fhir#fragment",
        "https://crisis.rzz.test/fhir/../admin",
        "https://crisis.rzz.test/fhir/./hooks",
        "https://crisis.rzz.test/fhir/%2e%2e/admin",
        "https://crisis.rzz.test/fhir%2Fhooks",
        "https://crisis.rzz.test/fhir/%5c..",
        "https://crisis.rzz.test/fhir\\..\\admin",
        "https://crisis.rzz.test/fhir/hooks ",
        "https://crisis.rzz.test/fhir/h\u00e9",
        "https://crisis.rzz.test:0/fhir",
        "https://crisis.rzz.test:99999/fhir",
        "https://crisis.rzz.test:x/fhir",
        "ftp://crisis.rzz.test/fhir",
        "file:///etc/passwd",
        "//crisis.rzz.test/fhir",
        "/fhir/hooks",
        "http://127.0.0.1:8443/hook",  # the base is /hooks/
        "http://127.0.0.1/hooks/a",  # port 80, not 8443
        "http://localhost:8443/hooks/a",  # another name for the host is another host
        "https://crisis.rzz.test/fhir/" + "a" * MAX_URL_LENGTH,
    ],
)
def test_anything_else_is_refused(url: str) -> None:
    assert not endpoint_allowed(url, BASES)


def test_nothing_is_allowed_without_a_configured_base() -> None:
    assert not endpoint_allowed("https://crisis.rzz.test/fhir", ())


def test_a_notification_carrying_the_resource_goes_to_its_type_and_id() -> None:
    assert resource_url("https://h.test/fhir/", "Communication", "c-1") == (
        "https://h.test/fhir/Communication/c-1"
    )
    assert resource_url("https://h.test/fhir", "Flag", "f") == "https://h.test/fhir/Flag/f"
