"""FHIR search through the real app: parameters, paging that survives new arrivals,
_include for the crisis view, totals, and POST _search."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.builders import (
    CATEGORY,
    NHS,
    ODS,
    OTHER_NHS_NUMBER,
    PATIENT_NHS_NUMBER,
    communication,
    flag,
    service_request,
)

FHIR = {"Content-Type": "application/fhir+json"}


def _create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/fhir/{body['resourceType']}", json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle["link"] if x["relation"] == relation), None)


def test_search_by_nhs_number_finds_only_that_patients_requests(client: TestClient) -> None:
    mine = _create(client, service_request(PATIENT_NHS_NUMBER))
    _create(client, service_request(OTHER_NHS_NUMBER))

    bundle = client.get(
        "/fhir/ServiceRequest", params={"subject:identifier": f"{NHS}|{PATIENT_NHS_NUMBER}"}
    ).json()

    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    assert _ids(bundle) == [mine["id"]]
    patient_param = client.get(
        "/fhir/ServiceRequest", params={"patient:identifier": f"{NHS}|{OTHER_NHS_NUMBER}"}
    ).json()
    assert patient_param["total"] == 1


def test_token_search_distinguishes_systems(client: TestClient) -> None:
    escalation = _create(client, communication(category="escalation"))
    _create(client, communication(category="handover"))

    assert _ids(client.get("/fhir/Communication?category=escalation").json()) == [escalation["id"]]
    by_system = client.get("/fhir/Communication", params={"category": f"{CATEGORY}|escalation"})
    assert _ids(by_system.json()) == [escalation["id"]]
    wrong_system = client.get("/fhir/Communication", params={"category": "http://other|escalation"})
    assert wrong_system.json()["total"] == 0
    no_system = client.get("/fhir/Communication", params={"category": "|escalation"})
    assert no_system.json()["total"] == 0


def test_comma_means_any_and_repeats_mean_all(client: TestClient) -> None:
    active = _create(client, service_request())
    done = _create(client, service_request(status="completed"))
    _create(client, service_request(status="revoked"))

    either = client.get("/fhir/ServiceRequest?status=active,completed").json()
    assert sorted(_ids(either)) == sorted([active["id"], done["id"]])
    both = client.get("/fhir/ServiceRequest?status=active&status=completed").json()
    assert both["total"] == 0


def test_reference_searches_by_literal_reference_and_by_identifier(client: TestClient) -> None:
    to_rzz = _create(client, communication(recipient="Organization/rzz"))
    _create(client, communication(recipient="Organization/other"))
    by_ods = _create(
        client,
        communication(recipient="Organization/x")
        | {"recipient": [{"identifier": {"system": ODS, "value": "RXX"}}]},
    )

    assert _ids(client.get("/fhir/Communication?recipient=Organization/rzz").json()) == [
        to_rzz["id"]
    ]
    assert _ids(client.get("/fhir/Communication?recipient=rzz").json()) == [to_rzz["id"]]
    found = client.get("/fhir/Communication", params={"recipient:identifier": f"{ODS}|RXX"})
    assert _ids(found.json()) == [by_ods["id"]]
    requester = client.get("/fhir/ServiceRequest", params={"requester:identifier": f"{ODS}|AZZ"})
    assert requester.status_code == 200


def test_date_parameters_compare_ranges(client: TestClient) -> None:
    early = _create(client, service_request(authoredOn="2026-11-01T09:00:00Z"))
    late = _create(client, service_request(authoredOn="2026-11-20T09:00:00+01:00"))

    assert _ids(client.get("/fhir/ServiceRequest?authored=2026-11-01").json()) == [early["id"]]
    assert _ids(client.get("/fhir/ServiceRequest?authored=gt2026-11-10").json()) == [late["id"]]
    assert _ids(client.get("/fhir/ServiceRequest?authored=lt2026-11").json()) == []
    assert _ids(client.get("/fhir/ServiceRequest?authored=eb2026-11-20T07:30:00Z").json()) == [
        early["id"]
    ]
    in_month = client.get("/fhir/ServiceRequest?authored=ge2026-11&authored=le2026-11").json()
    assert in_month["total"] == 2


def test_flag_period_with_an_open_end_matches_later_dates(client: TestClient) -> None:
    open_flag = _create(client, flag())
    assert _ids(client.get("/fhir/Flag?date=ge2030-01-01").json()) == [open_flag["id"]]
    assert client.get("/fhir/Flag?date=lt2026-11-19").json()["total"] == 0


def test_last_updated_gt_returns_only_newer_resources(client: TestClient) -> None:
    old = _create(client, communication())
    marker = old["meta"]["lastUpdated"]
    time.sleep(0.002)
    new = _create(client, communication())

    bundle = client.get("/fhir/Communication", params={"_lastUpdated": f"gt{marker}"}).json()

    assert _ids(bundle) == [new["id"]]
    assert bundle["meta"]["lastUpdated"] >= new["meta"]["lastUpdated"]


def test_id_parameter(client: TestClient) -> None:
    one = _create(client, service_request())
    two = _create(client, service_request())
    _create(client, service_request())
    bundle = client.get(f"/fhir/ServiceRequest?_id={one['id']},{two['id']}").json()
    assert sorted(_ids(bundle)) == sorted([one["id"], two["id"]])


def test_results_are_newest_first_unless_sorted_ascending(client: TestClient) -> None:
    created = [_create(client, service_request())["id"] for _ in range(3)]
    assert _ids(client.get("/fhir/ServiceRequest").json()) == created[::-1]
    assert _ids(client.get("/fhir/ServiceRequest?_sort=_lastUpdated").json()) == created


def test_paging_links_survive_new_arrivals_without_gaps_or_repeats(client: TestClient) -> None:
    created = [_create(client, service_request())["id"] for _ in range(7)]

    first = client.get("/fhir/ServiceRequest?_count=3").json()
    assert first["total"] == 7
    assert _ids(first) == created[::-1][:3]
    assert _link(first, "previous") is None

    arrived = _create(client, service_request())["id"]  # lands before page one
    second = client.get(_link(first, "next")).json()
    third = client.get(_link(second, "next")).json()

    assert _ids(second) == created[::-1][3:6]
    assert _ids(third) == created[::-1][6:]
    assert _link(third, "next") is None
    assert arrived not in _ids(second) + _ids(third)
    back = client.get(_link(third, "previous")).json()
    assert _ids(back) == _ids(second)
    # Walking back from page two gives page one again; the resource that arrived
    # meanwhile is one step further back, not spliced into page one.
    back_again = client.get(_link(back, "previous")).json()
    assert _ids(back_again) == _ids(first)
    newest = client.get(_link(back_again, "previous")).json()
    assert _ids(newest) == [arrived]
    assert _link(newest, "previous") is None


def test_paging_keeps_the_query_in_its_links(client: TestClient) -> None:
    for _ in range(3):
        _create(client, service_request())
    _create(client, service_request(OTHER_NHS_NUMBER))
    params = {"subject:identifier": f"{NHS}|{PATIENT_NHS_NUMBER}", "_count": "2"}
    first = client.get("/fhir/ServiceRequest", params=params).json()
    second = client.get(_link(first, "next")).json()
    assert first["total"] == second["total"] == 3
    assert len(_ids(first)) + len(_ids(second)) == 3
    assert "subject%3Aidentifier" in _link(second, "self")


def test_count_is_capped_and_zero_gives_only_the_total(client: TestClient) -> None:
    for _ in range(3):
        _create(client, service_request())
    only_total = client.get("/fhir/ServiceRequest?_count=0").json()
    assert only_total["total"] == 3
    assert "entry" not in only_total
    capped = client.get("/fhir/ServiceRequest?_count=100000").json()
    assert len(_ids(capped)) == 3


def test_total_none_skips_counting(client: TestClient) -> None:
    _create(client, service_request())
    bundle = client.get("/fhir/ServiceRequest?_total=none").json()
    assert "total" not in bundle
    assert len(_ids(bundle)) == 1


def test_include_gives_the_crisis_team_request_and_risks_in_one_call(client: TestClient) -> None:
    risk = _create(client, flag())
    request = _create(client, service_request(supportingInfo=[{"reference": f"Flag/{risk['id']}"}]))
    escalation = _create(
        client, communication(basedOn=[{"reference": f"ServiceRequest/{request['id']}"}])
    )
    _create(client, communication())  # unrelated, not based on anything

    bundle = client.get(
        "/fhir/Communication",
        params=[
            ("_id", escalation["id"]),
            ("_include", "Communication:based-on"),
            ("_include:iterate", "ServiceRequest:supporting-info"),
        ],
    ).json()

    assert bundle["total"] == 1
    assert _ids(bundle) == [escalation["id"]]
    assert sorted(_ids(bundle, "include")) == sorted([request["id"], risk["id"]])
    without_iterate = client.get(
        "/fhir/Communication",
        params=[("_id", escalation["id"]), ("_include", "Communication:based-on")],
    ).json()
    assert _ids(without_iterate, "include") == [request["id"]]


def test_post_search_keeps_identifiers_out_of_the_url(client: TestClient) -> None:
    mine = _create(client, service_request())
    response = client.post(
        "/fhir/ServiceRequest/_search",
        data={"subject:identifier": f"{NHS}|{PATIENT_NHS_NUMBER}"},
    )
    assert response.status_code == 200
    assert _ids(response.json()) == [mine["id"]]


def test_lenient_handling_ignores_unknown_parameters_and_says_what_was_applied(
    client: TestClient,
) -> None:
    _create(client, service_request())
    strict = client.get("/fhir/ServiceRequest?colour=blue&status=active")
    assert strict.status_code == 400
    lenient = client.get(
        "/fhir/ServiceRequest?colour=blue&status=active", headers={"Prefer": "handling=lenient"}
    ).json()
    assert lenient["total"] == 1
    assert _link(lenient, "self") == "http://testserver/fhir/ServiceRequest?status=active"


def test_an_updated_resource_enters_a_polling_window_by_its_new_time(client: TestClient) -> None:
    """The index rows carry last_updated too; an update must move them with it."""
    first = _create(client, communication(recipient="Organization/rzz"))
    marker = _create(client, communication(recipient="Organization/other"))["meta"]["lastUpdated"]
    time.sleep(0.002)
    client.put(
        f"/fhir/Communication/{first['id']}", json={**first, "status": "completed"}, headers=FHIR
    )

    window = {"recipient": "Organization/rzz", "_lastUpdated": f"gt{marker}"}
    bundle = client.get("/fhir/Communication", params=window).json()
    assert _ids(bundle) == [first["id"]]
    before = {"recipient": "Organization/rzz", "_lastUpdated": f"le{marker}"}
    assert client.get("/fhir/Communication", params=before).json()["total"] == 0
