"""Who may write a new version of a record, and what a new version may not change.

A record belongs to its origin: the organisation whose client created it. Only that
organisation writes new versions; any other party answers in a record of its own (a Task
it owns, a Communication `inResponseTo`, a Flag it authors). And no version changes whom
the record is about: a record about the wrong person is entered in error by its author,
and a new one is written about the right person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.fhir.issues import Issue, IssueCode
from core.fhir.patients import PATIENT_ELEMENTS

# Where each type names the person it is about (FHIR R4 element names); a Patient is
# the person, named by its identifiers.
SUBJECT_ELEMENTS = {**PATIENT_ELEMENTS, "Patient": "identifier"}

NOT_AUTHOR_MESSAGE = (
    "Only the organisation that created this record may change it. Answer it in a record "
    "of your own: a Task you own, a Communication with inResponseTo, or a Flag you author."
)


def is_author(origin: str | None, caller_ods: str) -> bool:
    """Whether the caller's organisation is the record's origin; a record whose origin
    is not known belongs to nobody who calls (fail closed)."""
    return origin is not None and origin == caller_ods


def subject_change_issues(
    resource_type: str,
    previous: Mapping[str, Any],
    previous_patient: str | None,
    updated: Mapping[str, Any],
    updated_patient: str | None,
) -> list[Issue]:
    """An Issue at the patient element when `updated` is about someone else than
    `previous`: a different patient fact, or, where neither has one, a different
    element. Never names either person."""
    element = SUBJECT_ELEMENTS.get(resource_type)
    if element is None:
        return []
    if previous_patient is not None or updated_patient is not None:
        if previous_patient == updated_patient:
            return []
    elif previous.get(element) == updated.get(element):
        return []
    return [
        Issue(
            IssueCode.BUSINESS_RULE,
            f"{resource_type}.{element} cannot change: a record stays about the person it "
            "was written about. To correct a record about the wrong person, set its status "
            "to entered-in-error and create a new record about the right person.",
            f"{resource_type}.{element}",
        )
    ]
