"""FHIR Consent resources read into consent statements for the decision point.

Only privacy consents (scope patient-privacy) say anything about sharing; any other
Consent (treatment, research, advance directive) is not a statement here. A privacy
consent that cannot be read is returned as unreadable, never skipped: while it is active
the decision point fails closed on it. Each statement carries its custodian, the one
organisation Consent.organization names: it governs that organisation's records only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from consent.statements import FUTURE_SKEW, ConsentStatement, Period, Provision
from core.codes import common as codes
from core.codes import sharing as sharing_codes
from core.fhir.dates import parse_date_range
from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM, is_valid_ods_code
from core.fhir.issues import Issue, IssueCode

_CLASS_SYSTEMS = frozenset(
    {sharing_codes.RESOURCE_TYPES_SYSTEM, sharing_codes.DATA_CATEGORY_SYSTEM}
)
_PURPOSE_SYSTEMS = frozenset({sharing_codes.V3_ACT_REASON_SYSTEM, codes.PURPOSE_OF_USE_SYSTEM})


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Unreadable(Exception):
    pass


def is_privacy_consent(resource: Mapping[str, Any]) -> bool:
    scope = resource.get("scope")
    return any(
        coding.get("system") == sharing_codes.CONSENT_SCOPE_SYSTEM
        and coding.get("code") == sharing_codes.CONSENT_SCOPE_PRIVACY.code
        for coding in _codings(scope)
    )


def consent_statement(
    resource_id: str,
    last_updated: datetime,
    resource: Mapping[str, Any],
    *,
    resolved_custodian: str | None = None,
) -> ConsentStatement | None:
    """The statement a stored Consent makes; None if it is not a privacy consent.

    `resolved_custodian`: the ODS code the store resolved Consent.organization to when
    it was written (a literal Organization reference can only be resolved there).
    """
    if not is_privacy_consent(resource):
        return None
    status = resource.get("status")
    status = status if isinstance(status, str) else "active"  # unknown: treat as in force
    custodian = consent_custodian(resource, resolved_custodian)
    try:
        recorded = _instant(resource.get("dateTime"), end=False)
        root = resource.get("provision")
        provision = None if root is None else _provision(root, "provision")
    except _Unreadable:
        return ConsentStatement(
            resource_id, status, None, last_updated, None, custodian, unreadable=True
        )
    return ConsentStatement(resource_id, status, recorded, last_updated, provision, custodian)


def consent_custodian(resource: Mapping[str, Any], resolved: str | None = None) -> str | None:
    """The ODS code of the one organisation Consent.organization names: by its ODS
    identifier, or by a literal reference the shell `resolved`. None when it names none
    or several, or its identifier and the resolved code disagree."""
    organisations = resource.get("organization")
    if not isinstance(organisations, list) or len(organisations) != 1:
        return None
    (organisation,) = organisations
    if not isinstance(organisation, Mapping):
        return None
    code = _ods_code(organisation)
    if code is not None:
        return code if resolved in (None, code) else None
    return resolved if isinstance(organisation.get("reference"), str) else None


def _provision(node: Any, path: str) -> Provision:
    if not isinstance(node, Mapping):
        raise _Unreadable
    kind = node.get("type")
    if kind not in (None, "permit", "deny"):
        raise _Unreadable
    actors: set[str] = set()
    unresolved = False
    for actor in _list(node.get("actor")):
        code = _ods_code(actor.get("reference") if isinstance(actor, Mapping) else None)
        if code is None:
            unresolved = True
        else:
            actors.add(code)
    children = tuple(
        _provision(child, f"{path}.provision[{index}]")
        for index, child in enumerate(_list(node.get("provision")))
    )
    purposes, unresolved_purpose = _codes(node.get("purpose"), _PURPOSE_SYSTEMS)
    classes, unresolved_class = _codes(node.get("class"), _CLASS_SYSTEMS)
    return Provision(
        type=kind,
        path=path,
        actors=frozenset(actors),
        unresolved_actor=unresolved,
        purposes=purposes,
        unresolved_purpose=unresolved_purpose,
        period=_period(node.get("period")),
        data_period=_period(node.get("dataPeriod")),
        classes=classes,
        unresolved_class=unresolved_class,
        security_labels=frozenset(
            (str(coding.get("system", "")), str(coding["code"]))
            for coding in _list(node.get("securityLabel"))
            if _has_code(coding)
        ),
        provisions=children,
    )


def _ods_code(reference: Any) -> str | None:
    if not isinstance(reference, Mapping):
        return None
    identifier = reference.get("identifier")
    if not isinstance(identifier, Mapping) or identifier.get("system") != ODS_ORGANISATION_SYSTEM:
        return None
    value = identifier.get("value")
    return value if isinstance(value, str) and is_valid_ods_code(value) else None


def _period(value: Any) -> Period | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _Unreadable
    return Period(_instant(value.get("start"), end=False), _instant(value.get("end"), end=True))


def _instant(value: Any, *, end: bool) -> datetime | None:
    """A FHIR dateTime as the first (or, for a period's end, last) moment it names."""
    if value is None:
        return None
    span = parse_date_range(value) if isinstance(value, str) else None
    if span is None:
        raise _Unreadable
    return span.high if end else span.low


def _codes(codings: Any, systems: frozenset[str]) -> tuple[frozenset[str], bool]:
    """The codes in the systems the gateway reads, and whether any other was named."""
    known: set[str] = set()
    other = False
    for coding in _list(codings):
        if _has_code(coding) and coding.get("system") in systems:
            known.add(str(coding["code"]))
        else:
            other = True
    return frozenset(known), other


def _has_code(coding: Any) -> bool:
    return isinstance(coding, Mapping) and isinstance(coding.get("code"), str)


def _list(value: Any) -> list[Any]:
    """A repeating element: absent is empty; anything but a list cannot be read."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Unreadable
    return value


def _codings(concepts: Any) -> Iterator[Mapping[str, Any]]:
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if isinstance(concept, Mapping):
            codings = concept.get("coding")
            for coding in codings if isinstance(codings, list) else []:
                if isinstance(coding, Mapping):
                    yield coding


def consent_record_issues(resource: Mapping[str, Any], now: datetime) -> list[Issue]:
    """Why a Consent (of any scope) cannot be recorded as written, at `now`.

    A statement is recorded by one organisation about its own records, so it names
    exactly one; and it counts from when it was recorded, which cannot be later than now
    (beyond FUTURE_SKEW): a future date would let it outrank statements made after it.
    """
    issues: list[Issue] = []
    organisations = resource.get("organization")
    if not isinstance(organisations, list) or len(organisations) != 1:
        issues.append(
            Issue(
                IssueCode.BUSINESS_RULE,
                "A Consent is recorded by one organisation about its own records: "
                "Consent.organization must name exactly one, your own.",
                "Consent.organization",
            )
        )
    recorded = resource.get("dateTime")
    span = parse_date_range(recorded) if isinstance(recorded, str) else None
    if span is not None and span.low > now + FUTURE_SKEW:
        issues.append(
            Issue(
                IssueCode.BUSINESS_RULE,
                "Consent.dateTime is in the future: a consent is dated when it was recorded.",
                "Consent.dateTime",
            )
        )
    return issues


def privacy_consent_issues(resource: Mapping[str, Any]) -> list[Issue]:
    """Why a privacy consent could not be honoured as written; empty when it can.

    A statement whose rule the gateway cannot read would be stored and silently never
    applied: refused instead, so the sender knows. (One it cannot tie to a person is
    refused as every record about a person is: core.fhir.patients.)
    """
    if not is_privacy_consent(resource):
        return []
    issues: list[Issue] = []
    provision = resource.get("provision")
    if not isinstance(provision, Mapping) or provision.get("type") not in ("permit", "deny"):
        issues.append(
            Issue(
                IssueCode.BUSINESS_RULE,
                "A privacy consent must state its base rule: provision.type permit or deny.",
                "Consent.provision.type",
            )
        )
    elif _unreadable(resource):
        issues.append(
            Issue(
                IssueCode.BUSINESS_RULE,
                "A provision of this consent cannot be read (a period or dateTime).",
                "Consent.provision",
            )
        )
    return issues


def _unreadable(resource: Mapping[str, Any]) -> bool:
    statement = consent_statement("check", _EPOCH, resource)
    return statement is None or statement.unreadable
