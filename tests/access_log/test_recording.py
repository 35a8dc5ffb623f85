"""Every interaction leaves AuditEvents, read back through the IG's own search: successes
and refusals, one per patient, a write's record committed with the write, and the
request failing closed (503, nothing stored) when the log cannot be written."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from gateway.platform.database import Database
from gateway.platform.schema import audit_events, resources
from tests.access_log.reading import event_rules
from tests.builders import OTHER_NHS_NUMBER, PATIENT_NHS_NUMBER, service_request
from tests.tokens import IG_LEAD, TRUST, access_token, assertion, bearer, token_form

FHIR = {"Content-Type": "application/fhir+json"}
THIRD_NHS_NUMBER = "9876543210"


def _events(
    client: TestClient, ig: dict[str, str], *, ig_too: bool = False, **params: str
) -> list[dict[str, Any]]:
    """Every matching AuditEvent, following next links, newest first. The IG lead's own
    searches are logged too (against the patient searched for); they are left out
    unless asked for, so that looking does not change what the next look finds."""
    found: list[dict[str, Any]] = []
    response = client.get("/fhir/AuditEvent", params=params, headers=ig)
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        found += [entry["resource"] for entry in bundle.get("entry", [])]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            return [e for e in found if ig_too or _summary(e)[3] != IG_LEAD]
        response = client.get(following[0], headers=ig)


def _summary(event: dict[str, Any]) -> tuple[str, str, str, str | None, str | None]:
    subtype = event["subtype"][0]["code"]
    client = next(
        (
            agent["who"]["identifier"]["value"]
            for agent in event["agent"]
            if agent.get("who", {})
            .get("identifier", {})
            .get("system", "")
            .endswith("/Id/client-id")
        ),
        None,
    )
    patient = next(
        (
            entity["what"]["identifier"]["value"]
            for entity in event.get("entity", [])
            if entity.get("what", {}).get("identifier", {}).get("system", "").endswith("nhs-number")
        ),
        None,
    )
    return subtype, event["action"], event["outcome"], client, patient


def _data(event: dict[str, Any]) -> list[str]:
    return [
        entity["what"]["reference"]
        for entity in event.get("entity", [])
        if "reference" in entity.get("what", {})
    ]


def _count(database: Database, table: Any) -> int:
    with database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_a_scenario_leaves_exactly_the_expected_events(
    client: TestClient, ig_token: dict[str, str], trust_token: dict[str, str]
) -> None:
    created = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    assert created.status_code == 201
    request_id = created.json()["id"]
    assert client.get(f"/fhir/ServiceRequest/{request_id}").status_code == 200
    # The Trust is the performer, so it may read; another organisation's resource is
    # refused as missing.
    other = client.post(
        "/fhir/ServiceRequest",
        json=service_request(
            OTHER_NHS_NUMBER,
            performer=[
                {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": "AZZ",
                    }
                }
            ],
        ),
        headers=FHIR,
    )
    assert other.status_code == 201
    refused = client.get(f"/fhir/ServiceRequest/{other.json()['id']}", headers=trust_token)
    assert refused.status_code == 404
    assert client.get("/fhir/ServiceRequest", headers={"Authorization": ""}).status_code == 401

    events = _events(client, ig_token, ig_too=True, _count="100")
    summaries = [_summary(event) for event in reversed(events)]
    # Token issues for the provider, the IG lead and the Trust come first (fixtures).
    assert [s for s in summaries if s[0] == "110122"] == [
        ("110122", "E", "0", "demo-provider-epr", None),
        ("110122", "E", "0", "demo-ig-lead", None),
        ("110122", "E", "0", "demo-trust-crisis", None),
    ]
    rest = [s for s in summaries if s[0] not in ("110122", "configuration-load")]
    assert rest == [
        ("create", "C", "0", "demo-provider-epr", PATIENT_NHS_NUMBER),
        ("read", "R", "0", "demo-provider-epr", PATIENT_NHS_NUMBER),
        ("create", "C", "0", "demo-provider-epr", OTHER_NHS_NUMBER),
        # Refused as "not found"; the log still says whose record was asked for.
        ("read", "R", "4", "demo-trust-crisis", OTHER_NHS_NUMBER),
        ("search-type", "E", "4", None, None),
    ]
    read_refused = next(e for e in events if _summary(e)[:3] == ("read", "R", "4"))
    assert _data(read_refused) == [f"ServiceRequest/{other.json()['id']}/_history/1"]
    assert event_rules(read_refused) == ["access:organisation-not-party"]
    no_token = next(e for e in events if _summary(e)[0] == "search-type")
    assert event_rules(no_token) == ["access:no-valid-token"]
    create = [e for e in events if _summary(e)[0] == "create"][-1]
    assert _data(create) == [f"ServiceRequest/{request_id}/_history/1"]
    assert create["type"]["code"] == "rest"
    assert create["purposeOfEvent"][0]["coding"][0]["code"] == "direct-care"


def test_a_search_over_three_peoples_records_writes_three_events(
    client: TestClient, ig_token: dict[str, str]
) -> None:
    for number in (PATIENT_NHS_NUMBER, OTHER_NHS_NUMBER, THIRD_NHS_NUMBER):
        assert (
            client.post(
                "/fhir/ServiceRequest", json=service_request(number), headers=FHIR
            ).status_code
            == 201
        )
    found = client.get("/fhir/ServiceRequest", params={"status": "active"})
    assert found.status_code == 200
    assert len(found.json()["entry"]) == 3

    searches = _events(client, ig_token, subtype="search-type", outcome="0")
    assert sorted(_summary(e)[4] or "" for e in searches) == sorted(
        [PATIENT_NHS_NUMBER, OTHER_NHS_NUMBER, THIRD_NHS_NUMBER]
    )
    for event in searches:
        assert len(_data(event)) == 1
        query = [e for e in event["entity"] if "query" in e]
        assert base64.b64decode(query[0]["query"]) == b"status=active"


def test_refusals_are_audited_with_what_is_known(
    anonymous: TestClient, client: TestClient, ig_token: dict[str, str]
) -> None:
    provider_only = client.headers["Authorization"]
    assert anonymous.get("/fhir/ServiceRequest/x", headers={"Authorization": ""}).status_code == 401
    narrow = bearer(access_token(anonymous, TRUST, "system/Communication.cu"))
    assert anonymous.get("/fhir/ServiceRequest/x", headers=narrow).status_code == 403
    # The log itself needs the IG scope; trying without it is recorded.
    denied = anonymous.get("/fhir/AuditEvent", headers={"Authorization": provider_only})
    assert denied.status_code == 403

    refused = _events(anonymous, ig_token, outcome="4")
    failures = [_summary(e) for e in refused]
    unidentified = next(e for e in refused if _summary(e)[3] is None)
    # Who it was is unknown; where it came from is still recorded.
    assert {"address": "testclient", "type": "2"} in [
        agent.get("network") for agent in unidentified["agent"]
    ]
    assert ("read", "R", "4", None, None) in failures  # no token: no client known
    assert ("read", "R", "4", "demo-trust-crisis", None) in failures
    assert ("search-type", "E", "4", "demo-provider-epr", None) in failures
    scoped = next(e for e in refused if _summary(e)[3] == "demo-trust-crisis")
    assert event_rules(scoped) == ["access:scope-not-granted"]


def test_token_refusals_name_the_rule(anonymous: TestClient, ig_token: dict[str, str]) -> None:
    form = token_form(assertion(TRUST), "system/*.rs")
    assert anonymous.post("/oauth2/token", data=form).status_code == 200
    assert anonymous.post("/oauth2/token", data=form).status_code == 400  # replayed jti

    logins = _events(anonymous, ig_token, subtype="110122")
    refused = [e for e in logins if e["outcome"] == "4"]
    assert len(refused) == 1
    assert _summary(refused[0])[3] == "demo-trust-crisis"
    rules = json.dumps(refused[0]["entity"])
    assert "token-endpoint:jti-replayed" in rules


def test_a_failed_write_stores_nothing_but_its_refusal(
    client: TestClient, ig_token: dict[str, str], database: Database
) -> None:
    before = _count(database, resources)
    bad = client.post(
        "/fhir/ServiceRequest", json={**service_request(), "status": "bogus"}, headers=FHIR
    )
    assert bad.status_code == 400
    assert _count(database, resources) == before
    failed = [_summary(e) for e in _events(client, ig_token, subtype="create")]
    assert failed == [("create", "C", "4", "demo-provider-epr", None)]


def _break_the_log(database: Database) -> None:
    with database.write() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                    "BEGIN SELECT RAISE(ABORT, 'log unavailable'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'log unavailable'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
                )
            )


def _mend_the_log(database: Database) -> None:
    with database.write() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER refuse_audit"))
        else:
            connection.execute(text("DROP TRIGGER refuse_audit ON audit_events"))
            connection.execute(text("DROP FUNCTION refuse_audit()"))


def test_when_the_log_cannot_be_written_requests_fail_closed(
    client: TestClient, database: Database
) -> None:
    created = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    assert created.status_code == 201
    stored, logged = _count(database, resources), _count(database, audit_events)
    _break_the_log(database)
    try:
        refused_write = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
        refused_read = client.get(f"/fhir/ServiceRequest/{created.json()['id']}")
        refused_bad = client.get("/fhir/ServiceRequest/missing")
    finally:
        _mend_the_log(database)
    for response in (refused_write, refused_read, refused_bad):
        assert response.status_code == 503
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "transient"
        # A fault of the moment: the sender is told when to retry, not to give up.
        assert response.headers["Retry-After"].isdigit()
        assert "log unavailable" not in response.text
    assert _count(database, resources) == stored
    assert _count(database, audit_events) == logged


def test_the_ig_search_filters_and_pages(client: TestClient, ig_token: dict[str, str]) -> None:
    ids = []
    for number in (PATIENT_NHS_NUMBER, OTHER_NHS_NUMBER):
        created = client.post("/fhir/ServiceRequest", json=service_request(number), headers=FHIR)
        ids.append(created.json()["id"])
    for _ in range(3):
        client.get(f"/fhir/ServiceRequest/{ids[0]}")

    mine = _events(client, ig_token, patient=PATIENT_NHS_NUMBER)
    assert [_summary(e)[0] for e in mine] == ["read", "read", "read", "create"]
    by_system = _events(
        client, ig_token, patient=f"https://fhir.nhs.uk/Id/nhs-number|{PATIENT_NHS_NUMBER}"
    )
    assert by_system == mine
    assert len(_events(client, ig_token, entity=f"ServiceRequest/{ids[0]}")) == 4
    assert len(_events(client, ig_token, entity=f"ServiceRequest/{ids[1]}")) == 1
    assert {_summary(e)[3] for e in _events(client, ig_token, agent="AZZ")} == {"demo-provider-epr"}
    assert _events(client, ig_token, agent="demo-provider-epr") == _events(
        client, ig_token, agent="AZZ"
    )
    assert len(_events(client, ig_token, action="R", patient=PATIENT_NHS_NUMBER)) == 3
    assert len(_events(client, ig_token, purpose="direct-care", action="C")) == 2
    newest = mine[0]["recorded"]
    assert [
        e["recorded"]
        for e in _events(client, ig_token, patient=PATIENT_NHS_NUMBER, date=f"ge{newest}")
    ] == [newest]
    assert len(_events(client, ig_token, patient=PATIENT_NHS_NUMBER, date=f"lt{newest}")) == 3
    assert _events(client, ig_token, date="lt2000-01-01") == []

    paged = _events(client, ig_token, patient=PATIENT_NHS_NUMBER, _count="1")
    assert paged == mine  # walking next links, one per page, finds each exactly once


@pytest.mark.parametrize(
    "params",
    [
        {"patient": "9434765918"},  # bad check digit
        {"unknown": "x"},
        {"date": "yesterday"},
        {"outcome": "2"},
        {"action": "X"},
        {"entity": "not a reference"},
        {"_cursor": "bm90LWEtY3Vyc29y"},
        {"_count": "0"},
    ],
)
def test_a_malformed_ig_search_is_a_400_that_quotes_nothing(
    client: TestClient, ig_token: dict[str, str], params: dict[str, str]
) -> None:
    response = client.get("/fhir/AuditEvent", params=params, headers=ig_token)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    for value in params.values():
        assert value not in response.text


def test_an_audit_event_can_be_read_by_id(client: TestClient, ig_token: dict[str, str]) -> None:
    event = _events(client, ig_token)[0]
    read = client.get(f"/fhir/AuditEvent/{event['id']}", headers=ig_token)
    assert read.status_code == 200
    assert read.json() == event
    assert client.get("/fhir/AuditEvent/missing", headers=ig_token).status_code == 404


def test_the_patient_access_report(client: TestClient, ig_token: dict[str, str]) -> None:
    created = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    client.get(
        f"/fhir/ServiceRequest/{created.json()['id']}", headers={"X-Request-ID": "sar-read-1"}
    )
    client.post("/fhir/ServiceRequest", json=service_request(OTHER_NHS_NUMBER), headers=FHIR)

    report = client.post(
        "/audit/reports/patient-access",
        data={"patient": PATIENT_NHS_NUMBER, "date": "ge2026-01-01", "format": "csv"},
        headers=ig_token,
    )
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(report.text)))
    assert lines[0][:5] == ["recorded", "event_id", "interaction", "action", "outcome"]
    assert [line[2] for line in lines[1:]] == ["create", "read"]
    assert "sar-read-1" in lines[2]
    assert OTHER_NHS_NUMBER not in report.text

    ndjson = client.get(
        "/audit/reports/patient-access",
        params={"patient": PATIENT_NHS_NUMBER, "format": "ndjson"},
        headers=ig_token,
    )
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in ndjson.text.splitlines()]
    clinical = [e for e in events if _summary(e)[3] != IG_LEAD]
    assert [e["subtype"][0]["code"] for e in clinical] == ["create", "read"]
    # The report was itself audited, with its own subtype.
    assert _events(client, ig_token, ig_too=True, subtype="patient-access-report")
    missing = client.post("/audit/reports/patient-access", data={"format": "csv"}, headers=ig_token)
    assert missing.status_code == 400


def test_looking_at_a_persons_access_history_is_logged_against_them(
    client: TestClient, ig_token: dict[str, str]
) -> None:
    client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    first = _events(client, ig_token, patient=PATIENT_NHS_NUMBER)
    client.get(f"/fhir/AuditEvent/{first[0]['id']}", headers=ig_token)

    ig_reads = _events(
        client, ig_token, ig_too=True, agent="demo-ig-lead", patient=PATIENT_NHS_NUMBER
    )
    assert [(_summary(e)[0], _summary(e)[4]) for e in ig_reads] == [
        ("read", PATIENT_NHS_NUMBER),
        ("search-type", PATIENT_NHS_NUMBER),
    ]
    assert _data(ig_reads[0]) == [f"AuditEvent/{first[0]['id']}"]
    query = next(e for e in ig_reads[1]["entity"] if "query" in e)
    assert base64.b64decode(query["query"]) == f"patient={PATIENT_NHS_NUMBER}".encode()
