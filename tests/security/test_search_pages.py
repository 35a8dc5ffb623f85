"""POST /fhir/{type}/_search keeps NHS numbers out of URLs, but the review found the
Bundle's self/next/previous links put the parameters straight back into GET URLs (and so
into proxy logs and browser histories). A POST search's page links carry an opaque page
reference instead: the search is kept server-side, bound to the client that made it, for
a configured time, in the store (so every gateway process on the database knows it).
Following a link is a new request, authorised and consent-checked afresh; another
client's reference, or an expired one, is a clear 4xx and the refusal is logged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.platform.database import Database
from gateway.platform.schema import search_pages
from gateway.platform.settings import Settings
from tests.builders import NHS, PATIENT_NHS_NUMBER, service_request
from tests.security.refusals import assert_refusal_logged, refused_issue, store_contents
from tests.sharing.test_enforcement import consent
from tests.tokens import PROVIDER, THIRD_PROVIDER, TRUST, access_token, bearer

FHIR = {"Content-Type": "application/fhir+json"}
BY_NHS_NUMBER = {"subject:identifier": f"{NHS}|{PATIENT_NHS_NUMBER}", "_count": "1"}


def _referrals(client: TestClient, count: int, headers: dict[str, str] | None = None) -> list[str]:
    """The provider's referrals of the person to the Trust."""
    ids = []
    for _ in range(count):
        created = client.post(
            "/fhir/ServiceRequest", json=service_request(), headers={**FHIR, **(headers or {})}
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


def _post_search(client: TestClient, headers: dict[str, str], **form: str) -> dict[str, Any]:
    response = client.post(
        "/fhir/ServiceRequest/_search", data=form or BY_NHS_NUMBER, headers=headers
    )
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    return bundle


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _pages(
    client: TestClient, first: dict[str, Any], headers: dict[str, str]
) -> Iterator[dict[str, Any]]:
    bundle: dict[str, Any] | None = first
    while bundle is not None:
        yield bundle
        following = _link(bundle, "next")
        if following is None:
            return
        response = client.get(_path(following), headers=headers)
        assert response.status_code == 200, response.text
        bundle = response.json()


def _page_rows(database: Database) -> int:
    with database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(search_pages)).scalar_one())


def test_the_links_of_a_post_search_carry_an_opaque_reference_never_the_patient(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    made = _referrals(client, 3)

    first = _post_search(client, trust_token)
    pages = list(_pages(client, first, trust_token))

    links = [link["url"] for page in pages for link in page["link"]]
    assert {link["relation"] for page in pages for link in page["link"]} >= {
        "self",
        "next",
        "previous",
    }
    for url in links:
        assert PATIENT_NHS_NUMBER not in url
        assert "identifier" not in url
        names = {name for name, _ in parse_qsl(urlsplit(url).query)}
        assert names <= {"_page", "_cursor"}, url
        assert "_page" in names
    # The pages hold what the search finds, each once, as a GET search's pages do.
    found = [resource_id for page in pages for resource_id in _ids(page)]
    assert sorted(found) == sorted(made)
    assert [page["total"] for page in pages] == [3, 3, 3]


def test_a_get_search_keeps_its_own_parameters_in_its_links(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    _referrals(client, 2)

    bundle = client.get(
        "/fhir/ServiceRequest", params={"status": "active", "_count": "1"}, headers=trust_token
    ).json()

    assert "status=active" in (_link(bundle, "next") or "")
    assert "_page" not in (_link(bundle, "self") or "")


def test_following_a_link_is_consent_checked_afresh(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    _referrals(client, 3)
    first = _post_search(client, trust_token)
    assert len(_ids(first)) == 1
    following = _link(first, "next")
    assert following is not None

    # The person dissents (to the provider, whose records these are) before the Trust
    # reads on.
    recorded = client.post("/fhir/Consent", json=consent(), headers=FHIR)
    assert recorded.status_code == 201, recorded.text
    response = client.get(_path(following), headers=trust_token)

    assert response.status_code == 200, response.text
    assert _ids(response.json()) == []
    assert response.json()["total"] == 0


def test_following_a_link_is_authorised_afresh(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    _referrals(client, 2)
    following = _link(_post_search(client, trust_token), "next")
    assert following is not None
    # The same client, with a token that no longer grants ServiceRequest.
    narrower = bearer(access_token(client, TRUST, "system/Communication.rs"))

    response = client.get(_path(following), headers=narrower)

    assert refused_issue(response, 403, None)["code"] == "forbidden"


@pytest.mark.parametrize("relation", ["self", "next"])
def test_another_clients_reference_is_refused_as_unknown(
    client: TestClient,
    database: Database,
    trust_token: dict[str, str],
    third_token: dict[str, str],
    third_ig_token: dict[str, str],
    relation: str,
) -> None:
    _referrals(client, 2)
    link = _link(_post_search(client, trust_token), relation)
    assert link is not None
    before = store_contents(database), _page_rows(database)

    stolen = client.get(_path(link), headers=third_token)
    # The provider that wrote the records is another client too.
    provider = client.get(_path(link))

    for response in (stolen, provider):
        issue = refused_issue(response, 404, "_page")
        assert issue["code"] == "not-found"
        assert "entry" not in response.json()
        assert PATIENT_NHS_NUMBER not in response.text
    assert (store_contents(database), _page_rows(database)) == before
    assert_refusal_logged(client, third_ig_token, "search-type", THIRD_PROVIDER, "page reference")


def test_a_reference_is_for_its_own_resource_type_and_stands_alone(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    _referrals(client, 2)
    following = _link(_post_search(client, trust_token), "next")
    assert following is not None
    query = urlsplit(following).query

    other_type = client.get(f"/fhir/Communication?{query}", headers=trust_token)
    widened = client.get(f"/fhir/ServiceRequest?{query}&status=active", headers=trust_token)
    forged = client.get("/fhir/ServiceRequest?_page=not-a-reference", headers=trust_token)

    refused_issue(other_type, 404, "_page")
    refused_issue(widened, 400, "_page")
    refused_issue(forged, 404, "_page")


class _Clock:
    """The gateway's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_reference_expires_after_the_configured_time(
    settings: Settings, database: Database
) -> None:
    clock = _Clock()
    lifetime = timedelta(seconds=settings.search_page_lifetime_seconds)
    with TestClient(create_app(settings, clock=clock), base_url="http://testserver") as app:
        provider = bearer(access_token(app, PROVIDER))
        trust = bearer(access_token(app, TRUST))
        _referrals(app, 3, provider)
        first = _post_search(app, trust)
        following = _link(first, "next")
        assert following is not None

        clock.now += lifetime - timedelta(seconds=1)
        assert app.get(_path(following), headers=trust).status_code == 200
        clock.now += timedelta(seconds=2)
        expired = app.get(_path(following), headers=trust)

    issue = refused_issue(expired, 410, "_page")
    assert "expired" in issue["diagnostics"]
    assert "POST" in issue["diagnostics"]


def test_a_reference_made_by_one_gateway_process_is_followed_on_another(
    settings: Settings, client: TestClient, trust_token: dict[str, str]
) -> None:
    made = _referrals(client, 2)
    first = _post_search(client, trust_token)
    following = _link(first, "next")
    assert following is not None

    with TestClient(create_app(settings), base_url="http://testserver") as other:
        response = other.get(_path(following), headers=trust_token)

    assert response.status_code == 200, response.text
    assert sorted(_ids(first) + _ids(response.json())) == sorted(made)
