"""Who may record a Consent: a data controller, about the sharing of its own records.

A Consent (of any scope) is created or changed only by a client of the one organisation
Consent.organization names (its custodian), whose registration allows recording consent
(`may_record_consent`: a care system's role, and the token's Consent scope). Its
statement then governs that organisation's records alone (consent.statements), so no
organisation can widen or narrow how another's records are shared.

Consent-specific on purpose: the general sender rule (gateway.fhir.senders) lets
another party update a resource that keeps its sender; a Consent's custodian is never
changed by anyone else, whatever the general rule becomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consent.model import CONSENT_RECORDING_ROLES
from core.access_log.event import AuditedDecision
from core.fhir.parties import sender_role
from core.sharing.consents import consent_record_issues
from gateway.access_log.trail import AccessTrail
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.fhir.store import Party
from gateway.platform.errors import Forbidden, InvalidContent

# The access rules these refusals are logged under.
ROLE_MAY_NOT_RECORD = "access:consent-role-not-allowed"
NOT_CUSTODIAN = "access:consent-not-custodian"

_ORGANIZATION = "Consent.organization"


def may_record_consent(caller: Caller, interaction: Interaction) -> bool:
    """The one rule for whose registration allows recording consent."""
    return caller.role in CONSENT_RECORDING_ROLES and caller.may("Consent", interaction)


def check_consent_record(
    caller: Caller | None,
    resource: Mapping[str, Any],
    parties: list[Party],
    *,
    patient: str | None,
    previous: list[Party] | None,
    now: datetime,
    trail: AccessTrail | None,
    resource_id: str | None = None,
) -> None:
    """Forbidden unless the caller may record this Consent (on update, `previous` are the
    parties of the version it replaces, `resource_id` its id; `patient` is the person's
    identifier, established as for every record, for the access log); InvalidContent (422) if it
    cannot be recorded as written. With no caller the gateway itself is writing: the
    content rules only."""
    if caller is not None:
        interaction = Interaction.CREATE if previous is None else Interaction.UPDATE
        if not may_record_consent(caller, interaction):
            raise _refused(
                trail,
                patient,
                resource_id,
                ROLE_MAY_NOT_RECORD,
                "This client's registration does not allow recording consent: only a care "
                "system records a person's wishes, for its own organisation.",
            )
    issues = consent_record_issues(resource, now)
    if issues:
        raise InvalidContent(issues, business_rule=True)
    if caller is None:
        return
    ours = {caller.ods_code}
    if _custodians(parties) != ours or (previous is not None and _custodians(previous) != ours):
        raise _refused(
            trail,
            patient,
            resource_id,
            NOT_CUSTODIAN,
            "A Consent is recorded, and changed, only by the organisation it names in "
            "Consent.organization, about its own records.",
            _ORGANIZATION,
        )


def _refused(
    trail: AccessTrail | None,
    patient: str | None,
    resource_id: str | None,
    rule: str,
    message: str,
    expression: str | None = None,
) -> Forbidden:
    if trail is not None:
        # The attempt is in the person's access history, under the rule that refused it.
        if resource_id is None:
            trail.concerns(patient)
        else:
            trail.refers_to("Consent", resource_id, None, patient)
        trail.decision = AuditedDecision(rule, None)
    return Forbidden(message, expression=expression)


def _custodians(parties: list[Party]) -> set[str]:
    basis = sender_role("Consent").basis
    return {party.ods_code for party in parties if party.basis == basis}
