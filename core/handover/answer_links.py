"""What an answer to a referral shares with what it answers: the resource it names, the
person it is about, and the data category that decides who may see it.

An answer (a Task accepting or declining a ServiceRequest, a Communication responding
to a handover or escalation Communication) is linked to what it answers by the gateway:
an element the sender left out is filled in from what is answered; one the sender gave
must agree with it. Pure functions; problems are Issues naming elements, never values.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from core.codes import sharing as sharing_codes
from core.fhir.issues import Issue, IssueCode
from core.fhir.patients import written_identifier

_LOCAL_ID = r"[A-Za-z0-9\-.]{1,64}"


def local_id(reference: Any, resource_type: str) -> str | None:
    """The id in a relative reference `{resource_type}/<id>` (a Reference object), or
    None: answers name what they answer on this server, by its id here."""
    if not isinstance(reference, Mapping):
        return None
    value = reference.get("reference")
    if not isinstance(value, str):
        return None
    match = re.fullmatch(f"{resource_type}/({_LOCAL_ID})", value)
    return match[1] if match else None


def same_subject(
    answer_type: str,
    answer: dict[str, Any],
    element: str,
    answered_type: str,
    answered: Mapping[str, Any],
    answered_element: str,
) -> list[Issue]:
    """Fill in the answer's patient from what it answers, or check that it is the same
    person: the same identifier (NHS number, or local identifier), or the same element.
    Either way the answer is then held to the rules of every record about a person
    (core.fhir.patients) when it is written."""
    given = answer.get(element)
    theirs = answered.get(answered_element)
    if given is None:
        if theirs is not None:
            answer[element] = copy.deepcopy(theirs)
        return []
    ours = written_identifier(answer_type, answer)
    if ours is not None and ours == written_identifier(answered_type, answered):
        return []
    if given == theirs:
        return []
    return [
        Issue(
            IssueCode.BUSINESS_RULE,
            f"{answer_type}.{element} must name the same person as the "
            f"{answered_type} it answers (or be left out: the gateway fills it in).",
            f"{answer_type}.{element}",
        )
    ]


def with_data_categories(answer: dict[str, Any], answered: Mapping[str, Any]) -> None:
    """Copy what is answered's data-category tags (safeguarding, say) onto the answer,
    so an answer is never shared more widely than what it answers."""
    meta = answered.get("meta")
    tags = meta.get("tag") if isinstance(meta, Mapping) else None
    inherited = [
        dict(tag)
        for tag in (tags if isinstance(tags, list) else [])
        if isinstance(tag, Mapping) and tag.get("system") == sharing_codes.DATA_CATEGORY_SYSTEM
    ]
    if not inherited:
        return
    answer_meta = answer.setdefault("meta", {})
    own = answer_meta.setdefault("tag", [])
    present = {(tag.get("system"), tag.get("code")) for tag in own if isinstance(tag, Mapping)}
    own.extend(tag for tag in inherited if (tag["system"], tag.get("code")) not in present)


def references_to(resource: Mapping[str, Any], element: str, resource_type: str) -> list[str]:
    """The ids of the `resource_type` resources a list element names by local reference."""
    found = resource.get(element)
    ids = [local_id(item, resource_type) for item in (found if isinstance(found, list) else [])]
    return [resource_id for resource_id in ids if resource_id is not None]
