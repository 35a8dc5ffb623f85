"""Restrictions on a person through the real application, on both databases: recorded by
their author and shared with the Trust; refused for each bad input with nothing stored;
reviewed (continued with a longer time limit, stepped down, ended); never extended
silently through /fhir; and hidden from an organisation with no part in them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.deadline_sources import deadline_watcher
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.schema import audit_events, resources, restrictions
from gateway.safeguarding.restrictions import RestrictionService
from gateway.safeguarding.restrictions_store import RestrictionStore
from gateway.sharing.policy import SharingPolicy
from gateway.sharing.requester import Requester
from tests.exchange.test_worker import dissent_of
from tests.paths import REPO

JSON = {"Content-Type": "application/json"}
NHS_NUMBER = "9434765919"
RESTRICTION_CATEGORY = "https://fhir.mh-gateway.example.org/CodeSystem/flag-category"
TIME_LIMIT = "https://fhir.mh-gateway.example.org/StructureDefinition/restriction-time-limit"


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def restriction(*, start: timedelta = timedelta(hours=-1), **changes: Any) -> dict[str, Any]:
    """The example restriction, starting `start` from now, its review date a week and its
    time limit two weeks after that, then `changes`."""
    body: dict[str, Any] = json.loads((REPO / "examples" / "restriction.json").read_text())
    begins = datetime.now(UTC).replace(microsecond=0) + start
    body["start"] = instant(begins)
    body["review_date"] = instant(begins + timedelta(days=7))
    body["time_limit"] = instant(begins + timedelta(days=14))
    body.update(changes)
    return body


def record(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/api/restrictions", content=json.dumps(body), headers={**JSON, **headers})


def recorded(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = record(client, body or restriction())
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def review(client: TestClient, restriction_id: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/api/restrictions/{restriction_id}/reviews",
        content=json.dumps(body),
        headers={**JSON, **headers},
    )


def reviewing(decision: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reviewed_by": {"name": "Dr Example Reviewer", "role": "Responsible clinician"},
        "reviewed_at": instant(datetime.now(UTC)),
        "decision": decision,
        "reason": "Reviewed with the person and the safeguarding lead.",
    }
    if decision != "end":
        body["next_review_date"] = instant(datetime.now(UTC) + timedelta(days=7))
    body.update(changes)
    return body


def stored(client: TestClient) -> tuple[int, int]:
    """Restriction rows, and every FHIR resource besides the directory."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.read() as connection:
        rows = connection.execute(select(func.count()).select_from(restrictions)).scalar_one()
        kept = connection.execute(
            select(func.count())
            .select_from(resources)
            .where(resources.c.resource_type != "Organization")
        ).scalar_one()
    return rows, kept


def test_a_restriction_is_recorded_by_its_author_and_read_by_those_it_is_shared_with(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    body = restriction()
    answer = record(client, body)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert answer.headers["Location"] == f"/api/restrictions/{made['id']}"
    assert made["state"] == "active"
    assert made["fhir"] == f"Flag/{made['id']}/_history/1"
    assert {key: made[key] for key in body} == body
    assert made["reviews"] == []

    for headers in ({}, trust_token):
        read = client.get(f"/api/restrictions/{made['id']}", headers=headers)
        assert read.status_code == 200, read.text
        assert read.json() == made
    flag = client.get(f"/fhir/Flag/{made['id']}", headers=trust_token).json()
    assert flag["status"] == "active"
    assert flag["category"][0]["coding"][0]["system"] == RESTRICTION_CATEGORY
    assert flag["meta"]["tag"][0]["code"] == "safeguarding"
    # The third organisation has no part in it: not found, by either road.
    assert client.get(f"/api/restrictions/{made['id']}", headers=third_token).status_code == 404
    assert client.get(f"/fhir/Flag/{made['id']}", headers=third_token).status_code == 404
    assert client.get("/api/restrictions", headers=third_token).json()["restrictions"] == []


def _without(field: str) -> dict[str, Any]:
    body = restriction()
    del body[field]
    return body


def _dates(review_in: timedelta, limit_in: timedelta) -> dict[str, Any]:
    begins = datetime.now(UTC).replace(microsecond=0)
    return restriction(
        start=timedelta(0),
        review_date=instant(begins + review_in),
        time_limit=instant(begins + limit_in),
    )


BAD = {
    "no alternatives considered": (
        restriction(alternatives_considered=[]),
        "alternatives_considered",
    ),
    "alternatives missing": (_without("alternatives_considered"), "alternatives_considered"),
    "an alternative without why": (
        restriction(alternatives_considered=[{"alternative": "Safety planning"}]),
        "alternatives_considered.0.why_not_enough",
    ),
    "review date after the time limit": (
        _dates(timedelta(days=10), timedelta(days=7)),
        "review_date",
    ),
    "review interval longer than the maximum": (
        _dates(timedelta(days=29), timedelta(days=60)),
        "review_date",
    ),
    "time limit before the start": (_dates(timedelta(days=-2), timedelta(days=-1)), "time_limit"),
    "no NHS number": (restriction(patient={}), "patient.nhs_number"),
    "an NHS number failing Modulus 11": (
        restriction(patient={"nhs_number": "9434765918"}),
        "patient.nhs_number",
    ),
    "shared with an unknown organisation": (
        restriction(shared_with=[{"ods": "QQQ99"}]),
        "shared_with.0.ods",
    ),
    "no rationale": (_without("rationale"), "rationale"),
    "no step-down plan": (restriction(step_down_plan="  "), "step_down_plan"),
    "an unknown kind": (restriction(kind="seclusion"), "kind"),
    "a field it does not define": (restriction(notes=NHS_NUMBER), None),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_restriction_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, case: str
) -> None:
    body, field = BAD[case]
    before = stored(client)
    answer = record(client, body)
    assert answer.status_code == 422, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    if field is not None:
        assert field in [issue["expression"][0] for issue in outcome["issue"]], outcome
    # Nothing sent is repeated (the words, the NHS number).
    assert NHS_NUMBER not in answer.text
    assert "county-lines" not in answer.text
    assert stored(client) == before


def test_a_restriction_in_another_organisations_name_is_refused(
    client: TestClient, third_token: dict[str, str]
) -> None:
    before = stored(client)
    # The provider cannot record the Trust's restriction, nor the third organisation AZZ's.
    assert record(client, restriction(author={"ods": "RZZ"})).status_code == 403
    assert record(client, restriction(), **third_token).status_code == 403
    assert stored(client) == before


def test_a_restriction_is_continued_with_a_longer_time_limit_stepped_down_and_ended(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    made = recorded(client)
    later = instant(datetime.now(UTC) + timedelta(days=21))
    continued = review(client, made["id"], reviewing("continue", time_limit=later))
    assert continued.status_code == 200, continued.text
    assert continued.json()["time_limit"] == later  # extended, by a review
    assert continued.json()["fhir"].endswith("/_history/2")

    lighter = {"kind": "contact", "detail": "Supervised contact with the two adults only."}
    stepped = review(client, made["id"], reviewing("step-down", stepped_down_to=lighter))
    assert stepped.status_code == 200, stepped.text
    assert stepped.json()["detail"] == lighter["detail"]
    assert stepped.json()["state"] == "active"

    ended = review(client, made["id"], reviewing("end"))
    assert ended.status_code == 200, ended.text
    final = ended.json()
    assert final["state"] == "ended"
    assert final["end_reason"] == "review"
    assert "review_date" not in final
    assert [r["decision"] for r in final["reviews"]] == ["continue", "step-down", "end"]
    # Ended is ended: no more reviews.
    assert review(client, made["id"], reviewing("continue")).status_code == 409

    # The history is the Flag's: one version per review, each readable by the Trust.
    history = client.get(f"/fhir/Flag/{made['id']}/_history", headers=trust_token).json()
    assert history["total"] == 4 if "total" in history else len(history["entry"]) == 4
    assert len(history["entry"]) == 4
    assert client.get(f"/api/restrictions/{made['id']}", headers=trust_token).json() == final


def test_reviews_keep_the_rules_and_only_the_author_reviews(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    made = recorded(client)
    too_far = instant(datetime.now(UTC) + timedelta(days=29))
    limit = datetime.fromisoformat(made["time_limit"])
    after_limit = instant(limit + timedelta(hours=1))
    for bad, field in (
        (reviewing("continue", next_review_date=too_far), "next_review_date"),
        (reviewing("continue", next_review_date=after_limit), "next_review_date"),
        (
            reviewing("continue", reviewed_at=instant(datetime.now(UTC) + timedelta(days=1))),
            "reviewed_at",
        ),
        (reviewing("step-down"), None),  # what it becomes is missing
        (reviewing("end", next_review_date=made["review_date"]), None),
        (reviewing("pause"), "decision"),
    ):
        body = {key: value for key, value in bad.items() if value is not None}
        answer = review(client, made["id"], body)
        if field is None and answer.status_code == 200:
            pytest.fail(f"accepted: {body}")
        assert answer.status_code == 422, answer.text
        if field is not None:
            assert field in [i["expression"][0] for i in answer.json()["issue"]], answer.text
    # The Trust reads it but does not review it; the third organisation does not find it.
    assert review(client, made["id"], reviewing("end"), **trust_token).status_code == 403
    assert review(client, made["id"], reviewing("end"), **third_token).status_code == 404
    unchanged = client.get(f"/api/restrictions/{made['id']}").json()
    assert unchanged["fhir"].endswith("/_history/1")
    assert unchanged["reviews"] == []


def test_a_restriction_is_never_written_or_extended_through_fhir(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    made = recorded(client)
    flag = client.get(f"/fhir/Flag/{made['id']}").json()
    later = instant(datetime.now(UTC) + timedelta(days=60))
    extended = {key: value for key, value in flag.items() if key != "meta"} | {
        "meta": {"tag": flag["meta"]["tag"]}
    }
    for extension in extended["extension"]:
        if extension["url"] == TIME_LIMIT:
            extension["valueDateTime"] = later
    extended["period"]["end"] = later
    for headers in ({}, trust_token):
        answer = client.put(
            f"/fhir/Flag/{made['id']}",
            content=json.dumps(extended),
            headers={"Content-Type": "application/fhir+json", **headers},
        )
        assert answer.status_code in (403, 422), answer.text
    silent = client.put(
        f"/fhir/Flag/{made['id']}",
        content=json.dumps(extended),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert silent.status_code == 422
    assert "/api/restrictions" in silent.json()["issue"][0]["diagnostics"]
    # Nor by taking the category off.
    plain = extended | {"category": [{"text": "note"}]}
    put = client.put(
        f"/fhir/Flag/{made['id']}",
        content=json.dumps(plain),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert put.status_code == 422
    # The third organisation is told no more about it than about a Flag that does not exist.
    foreign = client.put(
        f"/fhir/Flag/{made['id']}",
        content=json.dumps(extended),
        headers={"Content-Type": "application/fhir+json", **third_token},
    )
    nowhere = client.put(
        "/fhir/Flag/no-such-flag",
        content=json.dumps(extended | {"id": "no-such-flag"}),
        headers={"Content-Type": "application/fhir+json", **third_token},
    )
    assert foreign.status_code == nowhere.status_code == 422
    assert foreign.json()["issue"] == nowhere.json()["issue"]
    # A new restriction Flag through /fhir is refused as well.
    new = {key: value for key, value in extended.items() if key != "id"}
    created = client.post(
        "/fhir/Flag", content=json.dumps(new), headers={"Content-Type": "application/fhir+json"}
    )
    assert created.status_code == 422
    assert client.get(f"/api/restrictions/{made['id']}").json()["time_limit"] == made["time_limit"]


def test_restrictions_are_found_by_person_state_and_how_long_they_have_run(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    recent = recorded(client)
    other_person = recorded(client, restriction(patient={"nhs_number": "9000000009"}))
    # Started 40 days ago, its review date (28 days at most after the start) has passed.
    begins = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    long_running = recorded(
        client,
        restriction(
            start=timedelta(days=-40),
            review_date=instant(begins + timedelta(days=28)),
            time_limit=instant(begins + timedelta(days=56)),
        ),
    )
    ended = recorded(client)
    assert review(client, ended["id"], reviewing("end")).status_code == 200

    def ids(**params: str) -> set[str]:
        answer = client.get("/api/restrictions", params=params, headers=trust_token)
        assert answer.status_code == 200, answer.text
        return {found["id"] for found in answer.json()["restrictions"]}

    everyone = {recent["id"], other_person["id"], long_running["id"], ended["id"]}
    assert ids() == everyone
    assert ids(person="9000000009") == {other_person["id"]}
    assert ids(state="active") == everyone - {ended["id"]}
    assert ids(state="overdue-review") == {long_running["id"]}
    assert ids(state="ended") == {ended["id"]}
    assert ids(longer_than="P28D") == {long_running["id"]}
    assert ids(longer_than="") == {long_running["id"]}  # the deployment's threshold
    assert ids(longer_than="P6W") == set()
    assert ids(longer_than="PT12H") == {long_running["id"]}
    (shown,) = client.get(
        "/api/restrictions", params={"state": "overdue-review"}, headers=trust_token
    ).json()["restrictions"]
    assert shown["state"] == "overdue-review"
    for bad in ({"state": "open"}, {"person": "123"}, {"longer_than": "28 days"}):
        answer = client.get("/api/restrictions", params=bad)
        assert answer.status_code == 400, answer.text
        assert answer.json()["issue"][0]["expression"] == [next(iter(bad))]


# -- deadlines: the watcher with its clock moved, not waited for ---------------------------

NOTICE = "https://fhir.mh-gateway.example.org/CodeSystem/restriction-notice|time-limit-reached"


def watch(client: TestClient, after: timedelta) -> list[tuple[str, str]]:
    """One look by the app's own watcher wiring, its clock `after` from now: what it did."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    moved = datetime.now(UTC) + after
    watcher = deadline_watcher(runtime.database, lambda: runtime.config, clock=lambda: moved)
    return [(done.source, done.action) for done in watcher.run_once()]


def due_soon(review_in: timedelta, limit_in: timedelta) -> dict[str, Any]:
    begins = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    now = begins + timedelta(hours=1)
    return restriction(
        start=timedelta(hours=-1),
        review_date=instant(now + review_in),
        time_limit=instant(now + limit_in),
    )


def test_an_unreviewed_restriction_climbs_its_authors_safeguarding_ladder_until_reviewed(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    made = recorded(client, due_soon(timedelta(minutes=30), timedelta(days=10)))
    assert watch(client, timedelta(minutes=20)) == []  # not yet due
    assert watch(client, timedelta(minutes=31)) == [("safeguarding-overdue", "step-up")]
    assert watch(client, timedelta(minutes=32)) == []  # once only

    shown = client.get(f"/api/restrictions/{made['id']}", headers=trust_token).json()
    assert shown["state"] == "overdue-review"
    (front_line,) = shown["review_escalation"]
    assert front_line["level"] == "front-line"
    # The author and the Trust are told; the third organisation sees none of it.
    for headers in ({}, trust_token):
        notice = client.get(f"/fhir/{front_line['notice']}", headers=headers)
        assert notice.status_code == 200, notice.text
        assert "Provider registered manager" in notice.json()["payload"][0]["contentString"]
    assert client.get(f"/fhir/{front_line['notice']}", headers=third_token).status_code == 404

    # The manager level (urgent: two hours on the provider's ladder) is missed too.
    assert watch(client, timedelta(hours=2, minutes=40)) == [("safeguarding-overdue", "step-up")]
    levels = client.get(f"/api/restrictions/{made['id']}").json()["review_escalation"]
    assert [level["level"] for level in levels] == ["front-line", "manager"]

    # Reviewed: the clock stops, and nothing more climbs.
    assert review(client, made["id"], reviewing("continue")).status_code == 200
    assert watch(client, timedelta(hours=6)) == []
    assert client.get(f"/api/restrictions/{made['id']}").json()["state"] == "active"


def test_a_restriction_past_its_time_limit_ends_by_itself_and_both_sides_are_told(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    made = recorded(client, due_soon(timedelta(minutes=30), timedelta(hours=1)))
    assert ("restriction-time-limits", "ended") not in watch(client, timedelta(minutes=50))
    acted = watch(client, timedelta(hours=1, minutes=1))
    assert ("restriction-time-limits", "ended") in acted
    assert ("restriction-time-limits", "ended") not in watch(client, timedelta(hours=2))

    ended = client.get(f"/api/restrictions/{made['id']}", headers=trust_token).json()
    assert ended["state"] == "ended"
    assert ended["end_reason"] == "time-limit"
    assert ended["ended_at"] == made["time_limit"]
    assert ended["fhir"].endswith("/_history/2")
    flag = client.get(f"/fhir/Flag/{made['id']}").json()
    assert flag["status"] == "inactive"
    # The gateway wrote that version, and says why in a Provenance.
    provenance = client.get("/fhir/Provenance", params={"target": f"Flag/{made['id']}"}).json()
    (cause,) = [e["resource"] for e in provenance.get("entry", [])]
    assert cause["entity"][0]["what"]["reference"] == f"Flag/{made['id']}/_history/1"
    # Both sides are told, in a notice each can find; the third organisation is not.
    for headers in ({}, trust_token):
        found = client.get(
            "/fhir/Communication", params={"category": NOTICE}, headers=headers
        ).json()
        (notice,) = [e["resource"] for e in found["entry"]]
        assert "ended it" in notice["payload"][0]["contentString"]
        assert NHS_NUMBER not in notice["payload"][0]["contentString"]
    nothing = client.get("/fhir/Communication", params={"category": NOTICE}, headers=third_token)
    assert nothing.json().get("entry", []) == []
    # Ended is ended: no review revives it, and no overdue review climbs.
    assert review(client, made["id"], reviewing("continue")).status_code == 409
    assert watch(client, timedelta(hours=8)) == []


def test_every_read_and_write_of_a_restriction_is_in_the_persons_access_history(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    made = recorded(client)
    assert client.get(f"/api/restrictions/{made['id']}", headers=trust_token).status_code == 200
    assert review(client, made["id"], reviewing("end"), **trust_token).status_code == 403
    assert review(client, made["id"], reviewing("continue")).status_code == 200
    assert client.get("/api/restrictions", params={"person": NHS_NUMBER}).status_code == 200
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.ods_code, audit_events.c.subtype, audit_events.c.outcome).where(
                audit_events.c.patient == NHS_NUMBER
            )
        ).all()
    seen = {(row.ods_code, row.subtype, row.outcome == 0) for row in rows}
    assert ("AZZ", "create", True) in seen
    assert ("RZZ", "read", True) in seen
    assert ("RZZ", "update", False) in seen  # the refused review, too
    assert ("AZZ", "update", True) in seen
    assert ("AZZ", "search-type", True) in seen
    # The third organisation never touched it, so it is in no event about the person.
    assert not any(row.ods_code == "AXX" for row in rows)


def test_the_example_restriction_printed_fresh_starts_now_and_is_accepted(
    client: TestClient,
) -> None:
    fresh = subprocess.run(
        [sys.executable, str(REPO / "examples" / "fresh.py"), "restriction"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    body = json.loads(fresh)
    started = datetime.fromisoformat(body["start"])
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=1)
    # As far ahead of its start as in the file: a week to review, two to the time limit.
    assert datetime.fromisoformat(body["review_date"]) - started == timedelta(days=7)
    assert datetime.fromisoformat(body["time_limit"]) - started == timedelta(days=14)
    assert record(client, body).status_code == 201


def test_the_persons_recorded_dissent_decides_what_the_trust_sees_of_it(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    made = recorded(client)
    dissent = client.post(
        "/fhir/Consent",
        content=json.dumps(dissent_of(NHS_NUMBER)),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert dissent.status_code == 201, dissent.text
    # Read through the FHIR read path, so consent decides: the Trust no longer sees it...
    assert client.get(f"/api/restrictions/{made['id']}", headers=trust_token).status_code in (
        403,
        404,
    )
    assert client.get("/api/restrictions", headers=trust_token).json()["restrictions"] == []
    # ... its author still does, and a new one is not shared against the dissent.
    assert client.get(f"/api/restrictions/{made['id']}").status_code == 200
    before = stored(client)
    assert record(client, restriction()).status_code == 403
    assert stored(client) == before


def test_the_safeguarding_picture_gets_the_restrictions_in_force_the_reader_may_see(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    """For the summary page and pull contract: the service's in_force, as the Trust."""
    made = recorded(client)
    ended = recorded(client)
    assert review(client, ended["id"], reviewing("end")).status_code == 200
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    caller = Caller(
        client_id="demo-trust-crisis",
        ods_code="RZZ",
        role="trust-crisis-system",
        scopes=ScopeSet.parse(["system/*.rs"]),
        purpose_of_use="direct-care",
    )
    with runtime.database.read() as connection:
        service = RestrictionService(
            ResourceService(
                ResourceStore(connection),
                runtime.paging,
                caller=caller,
                sharing=SharingPolicy(
                    ResourceStore(connection),
                    Requester.of_caller(caller),
                    runtime.config.agreements,
                    datetime.now(UTC),
                ),
            ),
            RestrictionStore(connection),
            runtime.config.pathways.restrictions,
            frozenset(),
            caller,
            clock=lambda: datetime.now(UTC),
        )
        (shown,) = service.in_force(NHS_NUMBER, {"AZZ": "Demo provider"})
        assert service.in_force("9000000009", {}) == ()
    assert shown.reference == f"Flag/{made['id']}"
    assert shown.author == "Demo provider"
    assert shown.what.startswith("Limits on contact")
    assert shown.until == datetime.fromisoformat(made["time_limit"])
    assert not shown.overdue_review
