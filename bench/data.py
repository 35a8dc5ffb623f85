"""The synthetic workload: patients, organisations and the resources they exchange.

Everything is deterministic for a seed, so two runs store the same resources. The store
grows along a timeline with a constant arrival rate (one resource every `step`), the way
a live system grows: a bigger store is an older one, not a busier one, so a "what is new
since a few minutes ago" poll matches about as many resources at 10k as at 1M.
"""

from __future__ import annotations

import random
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.fhir.organisations import organization_resource

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CATEGORY_SYSTEM = "https://fhir.mh-gateway.example.org/CodeSystem/communication-category"

SERVICE_REQUEST = "ServiceRequest"
COMMUNICATION = "Communication"
ORGANIZATION = "Organization"

# Each organisation is the recipient of about 1/ORGANISATIONS of the Communications, and
# the performer of the ServiceRequests of the patients in its care (`Workload.trust`), so
# that its client, which sees only what its organisation is party to, finds all of a
# patient's requests when it searches by NHS number. Requesters and senders are random.
ORGANISATIONS = 200
# Each patient's resources arrive within an episode: resource i goes to one of the
# EPISODE_PATIENTS patients "in care" at that moment (those from i // 10 on), so every
# patient ends with about ten resources (100k patients at 1M), and a search matches as
# many at 10k stored resources as at 1M.
RESOURCES_PER_PATIENT = 10
EPISODE_PATIENTS = 1000
# Patients created over HTTP (create throughput) come from a range the loader never uses.
HTTP_PATIENT_OFFSET = 5_000_000

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_NHS_TEST_RANGE = 900_000_000  # 9xx: the range set aside for test NHS numbers


def nhs_number(patient: int) -> str:
    """A valid (Modulus 11) NHS number, distinct for every patient index."""
    for offset in range(11):
        prefix = str(_NHS_TEST_RANGE + patient * 11 + offset)
        check = 11 - sum(int(d) * w for d, w in zip(prefix, _NHS_WEIGHTS, strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return prefix + str(check)
    raise AssertionError("eleven consecutive prefixes always include a valid one")


def organisation_code(number: int) -> str:
    """The ODS code of the numberth (from 1) generated organisation: B0001 to B0200."""
    return f"B{number:04d}"


def organisation_name(ods: str) -> str:
    return f"Benchmark organisation {ods}"


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    ods: str


@dataclass(frozen=True, slots=True)
class Generated:
    """One resource as a client would have sent it, with the id and time it gets."""

    resource_type: str
    id: str
    last_updated: datetime
    body: dict[str, Any]
    sender: str  # the ODS code of the organisation that sends it (whose client creates it)


@dataclass
class Workload:
    """Generates resources in arrival order and remembers what searches can ask for."""

    seed: int
    start: datetime
    step: timedelta
    generated: int = 0
    rng: random.Random = field(init=False)
    organisations: list[Organisation] = field(init=False)
    # The patient of every ServiceRequest so far: searches pick from these, so a patient
    # with more requests is asked about more often, as in real use.
    request_patients: array[int] = field(init=False)
    last_communication: datetime | None = None
    _step_us: int = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.organisations = [
            Organisation(self._uuid(), organisation_code(n)) for n in range(1, ORGANISATIONS + 1)
        ]
        self.request_patients = array("i")
        self._step_us = max(1, int(self.step / timedelta(microseconds=1)))

    @classmethod
    def before_now(cls, seed: int, step: timedelta, largest: int) -> Workload:
        """The timeline of `largest` resources, one every `step`, ending a day before now,
        so that resources created over HTTP are always the newest."""
        start = datetime.now(UTC).replace(microsecond=0) - step * largest - timedelta(days=1)
        return cls(seed=seed, start=start, step=step)

    def companion(self, seed: int) -> Workload:
        """Other resources on the same timeline, between the same organisations."""
        other = Workload(seed=seed, start=self.start, step=self.step)
        other.organisations = self.organisations
        return other

    def organisation_resources(self) -> list[Generated]:
        """The organisations, as the server's start-up stores its configured directory
        (bench/auth.py lists the same codes and names), so it finds them unchanged."""
        return [
            Generated(
                ORGANIZATION,
                org.id,
                self.start,
                organization_resource(org.ods, organisation_name(org.ods)),
                org.ods,
            )
            for org in self.organisations
        ]

    def next_batch(self, count: int) -> list[Generated]:
        return [self._next() for _ in range(count)]

    def _next(self) -> Generated:
        index = self.generated
        self.generated += 1
        jitter = timedelta(microseconds=self.rng.randrange(self._step_us))
        moment = self.start + index * self.step + jitter
        patient = index // RESOURCES_PER_PATIENT + self.rng.randrange(EPISODE_PATIENTS)
        if self.rng.random() < 0.5:
            self.request_patients.append(patient)
            requester = self._org()
            self._org()  # drawn and unused, so the rest of the data stay as they were
            performer = self.trust(patient)
            body = service_request(patient, requester, performer, moment, self.rng)
            return Generated(SERVICE_REQUEST, self._uuid(), moment, body, requester.ods)
        self.last_communication = moment
        recipient, sender = self._org(), self._org()
        body = communication(patient, recipient, sender, moment, self.rng)
        return Generated(COMMUNICATION, self._uuid(), moment, body, sender.ods)

    def _org(self) -> Organisation:
        return self.organisations[self.rng.randrange(ORGANISATIONS)]

    def trust(self, patient: int) -> Organisation:
        """The organisation in whose care the patient is: the performer of every one of
        the patient's ServiceRequests."""
        return self.organisations[patient % ORGANISATIONS]

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- what the measurements ask for ---------------------------------------------------

    def request_patient(self, rng: random.Random) -> int:
        """A patient with ServiceRequests (one with more of them is drawn more often)."""
        return self.request_patients[rng.randrange(len(self.request_patients))]

    def recipient(self, rng: random.Random) -> Organisation:
        return self.organisations[rng.randrange(ORGANISATIONS)]


def service_request(
    patient: int,
    requester: Organisation,
    performer: Organisation,
    authored: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    return {
        "resourceType": SERVICE_REQUEST,
        "status": rng.choice(("active", "active", "completed")),
        "intent": "order",
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number(patient)}},
        "requester": {"identifier": {"system": ODS_SYSTEM, "value": requester.ods}},
        "performer": [{"identifier": {"system": ODS_SYSTEM, "value": performer.ods}}],
        "authoredOn": _instant(authored),
    }


def communication(
    patient: int,
    recipient: Organisation,
    sender: Organisation,
    sent: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    return {
        "resourceType": COMMUNICATION,
        "status": rng.choice(("in-progress", "completed")),
        "category": [
            {
                "coding": [
                    {"system": CATEGORY_SYSTEM, "code": rng.choice(("escalation", "handover"))}
                ]
            }
        ],
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number(patient)}},
        "recipient": [{"reference": f"Organization/{recipient.id}"}],
        "sender": {"reference": f"Organization/{sender.id}"},
        "sent": _instant(sent),
    }


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
