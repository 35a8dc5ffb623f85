"""A restriction as a FHIR R4 Flag, and back again (docs/restrictions.md says why a Flag).

    Flag.meta.tag        the safeguarding data category: only agreements covering
                         safeguarding data share it
    Flag.status          active | inactive (ended)
    Flag.category        the gateway's flag-category `restriction` (not a risk flag)
    Flag.code            restriction-kind code; code.text the detail
    Flag.subject         the person, by NHS number
    Flag.period          start, and end: the time limit, or when it ended
    Flag.author          the authoring organisation (the only one that writes it)
    extensions           recipient (each organisation it is shared with), rationale,
                         alternative-considered (each), authorised-by, time-limit,
                         review-due (while active), step-down-plan, review (each, oldest
                         first), end-reason (once ended)

`restriction(to_flag(r)) == r` for every restriction (tests/core/safeguarding).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.codes import common as codes
from core.codes import restrictions as restriction_codes
from core.codes import sharing as sharing_codes
from core.codes.handover import EXTENSION_RECIPIENT
from core.fhir.dates import format_instant
from core.safeguarding.restrictions import Restriction, Review

_KIND_SYSTEM = restriction_codes.RESTRICTION_KINDS["other"].system
_DECISION_SYSTEM = restriction_codes.REVIEW_DECISIONS["end"].system
_END_SYSTEM = restriction_codes.END_REASONS["review"].system


def is_restriction(resource: Mapping[str, Any]) -> bool:
    """Whether a Flag is a restriction (by its category), however it was sent."""
    category = restriction_codes.FLAG_CATEGORY_RESTRICTION
    concepts = resource.get("category")
    for concept in concepts if isinstance(concepts, list) else []:
        codings = concept.get("coding") if isinstance(concept, Mapping) else None
        for coding in codings if isinstance(codings, list) else []:
            if (
                isinstance(coding, Mapping)
                and coding.get("system") == category.system
                and coding.get("code") == category.code
            ):
                return True
    return False


def to_flag(restriction: Restriction) -> dict[str, Any]:
    r = restriction
    extensions: list[dict[str, Any]] = [
        {"url": EXTENSION_RECIPIENT, "valueReference": _organisation(o.ods)} for o in r.shared_with
    ]
    extensions.append({"url": restriction_codes.EXTENSION_RATIONALE, "valueString": r.rationale})
    extensions += [
        _complex(
            restriction_codes.EXTENSION_ALTERNATIVE,
            [
                ("alternative", {"valueString": a.alternative}),
                ("why-not-enough", {"valueString": a.why_not_enough}),
            ],
        )
        for a in r.alternatives_considered
    ]
    extensions.append(
        _complex(
            restriction_codes.EXTENSION_AUTHORISED_BY,
            [
                ("name", {"valueString": r.authorised_by.name}),
                ("role", {"valueString": r.authorised_by.role}),
            ],
        )
    )
    extensions.append(
        {"url": restriction_codes.EXTENSION_TIME_LIMIT, "valueDateTime": _instant(r.time_limit)}
    )
    if r.review_date is not None:
        extensions.append(
            {
                "url": restriction_codes.EXTENSION_REVIEW_DUE,
                "valueDateTime": _instant(r.review_date),
            }
        )
    extensions.append(
        {"url": restriction_codes.EXTENSION_STEP_DOWN_PLAN, "valueString": r.step_down_plan}
    )
    extensions += [_review(review) for review in r.reviews]
    if r.end_reason is not None:
        code = restriction_codes.END_REASONS[r.end_reason]
        extensions.append(
            {"url": restriction_codes.EXTENSION_END_REASON, "valueCoding": code.coding()}
        )
    ended = r.status == "ended" and r.ended_at is not None
    return {
        "resourceType": "Flag",
        "id": r.id,
        "meta": {"tag": [sharing_codes.DATA_CATEGORIES["safeguarding"].coding()]},
        "extension": extensions,
        "status": "inactive" if r.status == "ended" else "active",
        "category": [{"coding": [restriction_codes.FLAG_CATEGORY_RESTRICTION.coding()]}],
        "code": {
            "coding": [restriction_codes.RESTRICTION_KINDS[r.kind].coding()],
            "text": r.detail,
        },
        "subject": {
            "identifier": {"system": codes.NHS_NUMBER_SYSTEM, "value": r.patient.nhs_number}
        },
        "period": {
            "start": _instant(r.start),
            "end": _instant(r.ended_at if ended and r.ended_at else r.time_limit),
        },
        "author": _organisation(r.author.ods),
    }


def restriction(flag: Mapping[str, Any]) -> Restriction:
    """The restriction a gateway-written Flag holds (pydantic ValidationError if it is not
    one: only restrictions the gateway wrote are read back)."""
    extensions = [e for e in flag.get("extension", []) if isinstance(e, Mapping)]

    def one(url: str, value: str) -> Any:
        return next((e[value] for e in extensions if e.get("url") == url), None)

    def every(url: str) -> list[Mapping[str, Any]]:
        return [e for e in extensions if e.get("url") == url]

    authorised = _parts(one_complex(extensions, restriction_codes.EXTENSION_AUTHORISED_BY))
    status = "ended" if flag.get("status") == "inactive" else "active"
    end_reason = one(restriction_codes.EXTENSION_END_REASON, "valueCoding")
    period = flag.get("period", {})
    body: dict[str, Any] = {
        "id": flag.get("id"),
        "status": status,
        "patient": {"nhs_number": flag.get("subject", {}).get("identifier", {}).get("value")},
        "author": {"ods": flag.get("author", {}).get("identifier", {}).get("value")},
        "shared_with": [
            {"ods": e["valueReference"]["identifier"]["value"]} for e in every(EXTENSION_RECIPIENT)
        ],
        "kind": _code(flag.get("code", {}), _KIND_SYSTEM),
        "detail": flag.get("code", {}).get("text"),
        "rationale": one(restriction_codes.EXTENSION_RATIONALE, "valueString"),
        "alternatives_considered": [
            {
                "alternative": _parts(e).get("alternative"),
                "why_not_enough": _parts(e).get("why-not-enough"),
            }
            for e in every(restriction_codes.EXTENSION_ALTERNATIVE)
        ],
        "authorised_by": {"name": authorised.get("name"), "role": authorised.get("role")},
        "start": period.get("start"),
        "time_limit": one(restriction_codes.EXTENSION_TIME_LIMIT, "valueDateTime"),
        "review_date": one(restriction_codes.EXTENSION_REVIEW_DUE, "valueDateTime"),
        "step_down_plan": one(restriction_codes.EXTENSION_STEP_DOWN_PLAN, "valueString"),
        "reviews": [_from_review(e) for e in every(restriction_codes.EXTENSION_REVIEW)],
    }
    if status == "ended":
        body["ended_at"] = period.get("end")
        body["end_reason"] = end_reason.get("code") if isinstance(end_reason, Mapping) else None
    return Restriction.model_validate(body)


def _review(review: Review) -> dict[str, Any]:
    parts: list[tuple[str, dict[str, Any]]] = [
        ("reviewed-by-name", {"valueString": review.reviewed_by.name}),
        ("reviewed-by-role", {"valueString": review.reviewed_by.role}),
        ("reviewed-at", {"valueDateTime": _instant(review.reviewed_at)}),
        (
            "decision",
            {"valueCoding": restriction_codes.REVIEW_DECISIONS[review.decision].coding()},
        ),
        ("reason", {"valueString": review.reason}),
    ]
    if review.next_review_date is not None:
        parts.append(("next-review-date", {"valueDateTime": _instant(review.next_review_date)}))
    if review.time_limit is not None:
        parts.append(("time-limit", {"valueDateTime": _instant(review.time_limit)}))
    if review.stepped_down_to is not None:
        kind = restriction_codes.RESTRICTION_KINDS[review.stepped_down_to.kind]
        parts.append(("stepped-down-to-kind", {"valueCoding": kind.coding()}))
        parts.append(("stepped-down-to-detail", {"valueString": review.stepped_down_to.detail}))
    return _complex(restriction_codes.EXTENSION_REVIEW, parts)


def _from_review(extension: Mapping[str, Any]) -> dict[str, Any]:
    parts = _parts(extension)
    body: dict[str, Any] = {
        "reviewed_by": {
            "name": parts.get("reviewed-by-name"),
            "role": parts.get("reviewed-by-role"),
        },
        "reviewed_at": parts.get("reviewed-at"),
        "decision": _coded(parts.get("decision")),
        "reason": parts.get("reason"),
    }
    if "next-review-date" in parts:
        body["next_review_date"] = parts["next-review-date"]
    if "time-limit" in parts:
        body["time_limit"] = parts["time-limit"]
    if "stepped-down-to-kind" in parts:
        body["stepped_down_to"] = {
            "kind": _coded(parts["stepped-down-to-kind"]),
            "detail": parts.get("stepped-down-to-detail"),
        }
    return body


def one_complex(extensions: list[Mapping[str, Any]], url: str) -> Mapping[str, Any]:
    return next((e for e in extensions if e.get("url") == url), {})


def _complex(url: str, parts: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {"url": url, "extension": [{"url": name, **value} for name, value in parts]}


def _parts(extension: Mapping[str, Any]) -> dict[str, Any]:
    """A complex extension's parts by name: each one's value."""
    found: dict[str, Any] = {}
    for part in extension.get("extension", []):
        value = next((v for k, v in part.items() if k.startswith("value")), None)
        found[part.get("url")] = value
    return found


def _coded(value: Any) -> Any:
    return value.get("code") if isinstance(value, Mapping) else None


def _code(concept: Mapping[str, Any], system: str) -> str | None:
    for coding in concept.get("coding", []):
        if coding.get("system") == system:
            code = coding.get("code")
            return code if isinstance(code, str) else None
    return None


def _organisation(ods: str) -> dict[str, Any]:
    return {"identifier": {"system": codes.ODS_ORGANISATION_SYSTEM, "value": ods}}


def _instant(moment: Any) -> str:
    return format_instant(moment, fixed_width=False)
