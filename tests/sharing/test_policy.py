"""The decision point applied per request: a patient's Consents are read once per request
however many of their resources it touches, and a search's totals agree with what it
returns, consent weighed and all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from consent.agreements import Agreement
from core.search.query import PagingLimits, SearchQuery
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.platform.database import Database
from gateway.sharing.policy import SharingPolicy
from gateway.sharing.requester import Requester
from tests.builders import OTHER_NHS_NUMBER, PATIENT_NHS_NUMBER, nhs_identifier, service_request

LIMITS = PagingLimits(20, 100)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
AGREEMENT = Agreement(
    id="DSA-T",
    version="1",
    parties=frozenset({"AZZ", "RZZ"}),
    purposes=frozenset({"direct-care"}),
    categories=frozenset({"referral"}),
    valid_from=datetime(2026, 1, 1).date(),
    valid_to=None,
    status="active",
)


def _caller(ods: str, role: str) -> Caller:
    return Caller(
        client_id=f"test-{ods}",
        ods_code=ods,
        role=role,
        scopes=ScopeSet.parse(["system/*.cruds"]),
        purpose_of_use="direct-care",
    )


class CountingStore(ResourceStore):
    """The real store, counting how often Consents are read (and for whom)."""

    consent_reads: list[list[str]]

    def consents_for(self, patients: Sequence[str]) -> list[StoredResource]:
        self.consent_reads.append(sorted(patients))
        return super().consents_for(patients)


def _dissent(number: str) -> dict[str, object]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": nhs_identifier(number)},
        "organization": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "AZZ",
                }
            }
        ],
        "provision": {"type": "deny"},
    }


def test_consents_are_read_once_per_request_and_totals_match_the_page(
    database: Database,
) -> None:
    provider = _caller("AZZ", "provider-epr")
    with database.write() as connection:
        store = ResourceStore(connection)
        policy = SharingPolicy(store, Requester.of_caller(provider), (AGREEMENT,), NOW)
        service = ResourceService(store, LIMITS, caller=provider, sharing=policy)
        for _ in range(5):
            service.create("ServiceRequest", service_request())
            service.create("ServiceRequest", service_request(OTHER_NHS_NUMBER))
        service.create("Consent", _dissent(OTHER_NHS_NUMBER))

    trust = _caller("RZZ", "trust-crisis-system")
    with database.read() as connection:
        counting = CountingStore(connection)
        counting.consent_reads = []
        policy = SharingPolicy(counting, Requester.of_caller(trust), (AGREEMENT,), NOW)
        service = ResourceService(counting, LIMITS, caller=trust, sharing=policy)
        page = service.search(SearchQuery("ServiceRequest", (), count=3, total=True))

    assert page.total == 5
    assert len(page.matches) == 3
    patients = {record.facts.patient for record in page.matches if record.facts}
    assert patients == {PATIENT_NHS_NUMBER}
    # The total's candidates (the dissenting patient's five) read that patient's
    # statements once; the page, the other patient's once. Never once per resource.
    assert counting.consent_reads == [[OTHER_NHS_NUMBER], [PATIENT_NHS_NUMBER]]
