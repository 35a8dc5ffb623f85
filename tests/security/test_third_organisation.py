"""The adversary every test in this package plays: a third organisation (AXX, a
provider) with its own agreement with the Trust and none with AZZ, whose EPR is
registered with broad scopes. It must be a real, working participant, or the refusals
the other tests assert would prove nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import ODS, TRUST_ODS, service_request


def test_the_third_organisation_works_with_the_trust_under_its_own_agreement(
    anonymous: TestClient, third_token: dict[str, str], trust_token: dict[str, str]
) -> None:
    referral = service_request(requester={"identifier": {"system": ODS, "value": "AXX"}})
    created = anonymous.post("/fhir/ServiceRequest", json=referral, headers=third_token)
    assert created.status_code == 201, created.text
    location = created.headers["Location"].split("/_history")[0]
    path = location[location.index("/fhir/") :]
    assert anonymous.get(path, headers=trust_token).status_code == 200
    assert created.json()["performer"][0]["identifier"]["value"] == TRUST_ODS
