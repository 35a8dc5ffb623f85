"""Hypothesis strategies for every valid handover and escalation summary, as the JSON a
sender posts: each enumeration's every value, optional fields present or absent, lists of
0 to 3, free text in any script with tabs, newlines and the other whitespace the models
normalise, instants at any offset with or without microseconds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, get_args

from hypothesis import strategies as st

from core.handover.dataset import (
    NO_NHS_NUMBER_STATUSES,
    EscalationLevel,
    NhsNumberStatus,
    Pathway,
    Priority,
    RequestType,
    RiskLevel,
    RiskType,
    SharingBasis,
)
from tests.core.handover.fhir.support import nhs_number


def one_of_literal(literal: Any) -> st.SearchStrategy[str]:
    return st.sampled_from(get_args(literal))


# Letters of many scripts, digits, punctuation, emoji; and whitespace the models keep
# (space, tab, CR, LF) or turn into a space (NBSP, line separator, ideographic space, NEL).
_CHARACTERS = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
    st.sampled_from("aéñŁßøŵ中\u0627 \t\n\r\u00a0\u2028\u3000\x85"),
)
text = st.text(_CHARACTERS, min_size=1, max_size=24).filter(lambda value: value.strip() != "")
external_ids = st.text(_CHARACTERS, min_size=1, max_size=40).filter(
    lambda value: value.strip() != ""
)


# A check digit of 10 is never issued; all zeros passes the arithmetic but is refused.
nhs_numbers: st.SearchStrategy[str] = (
    st.text("0123456789", min_size=9, max_size=9)
    .map(lambda digits: nhs_number(digits) or "")
    .filter(lambda number: number not in ("", "0000000000"))
)


local_systems = st.one_of(
    st.just("https://example-recovery.example.org/Id/client-number"),
    st.from_regex(r"https://[a-z]{1,12}\.example\.org/Id/[a-z\-]{1,20}", fullmatch=True),
    st.from_regex(r"urn:oid:1\.2\.826\.0\.1\.[0-9]{1,7}", fullmatch=True),
)
local_values = st.from_regex(r"[A-Za-z0-9\-._:/]{1,64}", fullmatch=True)


ods_codes = st.one_of(
    st.sampled_from(["AZZ", "RZZ", "R1A", "RZY", "A81001", "8J123"]),
    st.from_regex(r"[A-Z0-9]{3,10}", fullmatch=True),
)
fhir_ids = st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True)


@st.composite
def instants(draw: st.DrawFn) -> str:
    moment = draw(
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31, 23, 59))
    )
    offset = draw(st.integers(min_value=-14 * 60, max_value=14 * 60))
    written = moment.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()
    if offset == 0 and draw(st.booleans()):
        written = written.removesuffix("+00:00") + "Z"
    return written


dates = st.dates(
    min_value=datetime(1900, 1, 1).date(), max_value=datetime(2100, 12, 31).date()
).map(lambda day: day.isoformat())


def part(
    required: dict[str, st.SearchStrategy[Any]] | None = None,
    /,
    **optional: st.SearchStrategy[Any],
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required or {}, optional=optional)


def lists(element: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(element, max_size=3)


addresses = part(lines=lists(text), city=text, postcode=text)
key_risks = part(
    {"type": one_of_literal(RiskType)},
    level=one_of_literal(RiskLevel),
    description=text,
    since=dates,
)
_common: dict[str, st.SearchStrategy[Any]] = {
    "locality": text,
    "current_presentation": text,
    "key_risks": lists(key_risks),
    "what_has_changed": text,
    "actions_taken": lists(part({"action": text}, at=instants(), by=text)),
    "current_plan": text,
    "request": part(summary=text, type=one_of_literal(RequestType)),
    "time_sensitivity": part(priority=one_of_literal(Priority), respond_by=instants()),
    "sharing": part(
        basis=one_of_literal(SharingBasis), consent_obtained=st.booleans(), reason_if_not=text
    ),
    "legal": part(mental_health_act_status=text, capacity_concerns=st.booleans()),
}


def _required(kind: str) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "dataset": st.just(kind),
        "external_id": external_ids,
        "pathway": one_of_literal(Pathway),
        "patient": st.one_of(
            part(
                {"nhs_number": nhs_numbers},
                nhs_number_status=one_of_literal(NhsNumberStatus),
                name=part(given=text, family=text),
                birth_date=dates,
                address=addresses,
            ),
            # A person with no NHS number yet: the sender's local identifier, and why.
            part(
                {
                    "local_identifier": st.fixed_dictionaries(
                        {"system": local_systems, "value": local_values}
                    ),
                    "nhs_number_status": st.sampled_from(NO_NHS_NUMBER_STATUSES),
                },
                name=part(given=text, family=text),
                birth_date=dates,
                address=addresses,
            ),
        ),
        "sender": part({"ods": ods_codes}, team=text, practitioner=text, role=text, contact=text),
        "receiver": part({"ods": ods_codes}, service=text),
    }


escalations = part(
    {"level": one_of_literal(EscalationLevel)},
    escalated_at=instants(),
    escalated_by=part(name=text, role=text, team=text),
    escalated_to=part(ods=ods_codes, service=text, role=text),
    information_shared=text,
    response=part(received_at=instants(), summary=text, **{"from": text}),
    next_action=text,
    early_warning_indicators=lists(text),
    related_referral=fhir_ids,
)

handover_bodies = st.fixed_dictionaries(_required("handover"), optional=_common)
escalation_bodies = st.fixed_dictionaries(
    {**_required("escalation"), "escalation": escalations}, optional=_common
)
dataset_bodies = st.one_of(handover_bodies, escalation_bodies)
