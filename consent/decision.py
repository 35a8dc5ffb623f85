"""The decision point: may this data pass from one organisation to another, and why.

In order (the first rule that settles the question decides; deny by default):

1. Data whose originating organisation is unknown is never shared.
2. Data staying within one organisation is not a sharing: permit.
3. Data about a person who is not known (a kind of data always about a person, with no
   patient established) is never shared: whose consent would apply cannot be told.
4. A data-sharing agreement must cover the two organisations, the purpose and the data
   category, and be in force. Without one: deny, whatever the person has said.
5. The person's consent statements: none applies, so direct care rests on implied
   consent (Caldicott principle 7; the national data opt-out does not apply to direct
   care) and other purposes on the agreement's legal basis: permit. A permit: permit. A
   dissent (or an active statement that cannot be read): deny, unless
6. the sharing is to protect someone (safeguarding, emergency treatment, break-glass),
   the client's role may override, and a justification is stated: permit, as a
   break-glass event.

Deterministic: the same request, statements, agreements and `now` give the same decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from consent.agreements import Agreement, cover
from consent.model import (
    OVERRIDING_ROLES,
    Decision,
    Obligation,
    Reason,
    Rule,
    SharingRequest,
)
from consent.purposes import Purpose
from consent.statements import ConsentStatement, consent_answer


def decide(
    request: SharingRequest,
    consents: Iterable[ConsentStatement],
    agreements: Iterable[Agreement],
    now: datetime,
) -> Decision:
    if request.origin is None:
        return _deny(Reason(Rule.ORIGIN_UNKNOWN))
    if request.origin == request.recipient:
        return Decision(True, (Reason(Rule.SAME_ORGANISATION),))
    if request.patient is None and request.about_a_person:
        return _deny(Reason(Rule.PATIENT_UNKNOWN))
    covered = cover(
        agreements,
        request.origin,
        request.recipient,
        request.purpose.agreement_purpose,
        request.category,
        now,
    )
    if covered.agreement is None:
        return _deny(covered.reason)
    agreement = covered.agreement
    obligations: set[Obligation] = set()
    if agreement.withhold_free_text:
        obligations.add(Obligation.WITHHOLD_FREE_TEXT)
    if request.purpose is Purpose.BTG:
        # The client says it is breaking the glass: recorded as such even where no
        # dissent needed overriding.
        obligations.add(Obligation.RECORD_BREAK_GLASS)

    def permit(*reasons: Reason) -> Decision:
        return Decision(True, reasons, frozenset(obligations), agreement.label)

    if request.patient is None:
        return permit(covered.reason, Reason(Rule.NO_PATIENT))
    answer = consent_answer(consents, request, now)
    if answer is None:
        implied = request.purpose.agreement_purpose == "direct-care"
        rule = Rule.IMPLIED_CONSENT if implied else Rule.NO_STATEMENT_APPLIES
        return permit(covered.reason, Reason(rule))
    if answer.type == "permit":
        return permit(covered.reason, Reason(Rule.CONSENT_PERMITS, answer.source))
    refusal = Reason(
        Rule.DISSENT if answer.type == "deny" else Rule.CONSENT_UNREADABLE, answer.source
    )
    if not request.purpose.protects_someone:
        return _deny(refusal, covered.reason)
    if request.actor_role not in OVERRIDING_ROLES:
        return _deny(Reason(Rule.OVERRIDE_ROLE_NOT_ALLOWED), refusal, covered.reason)
    if not (request.justification or "").strip():
        return _deny(Reason(Rule.OVERRIDE_NEEDS_JUSTIFICATION), refusal, covered.reason)
    obligations.add(Obligation.RECORD_BREAK_GLASS)
    return permit(Reason(Rule.OVERRIDDEN), refusal, covered.reason)


def _deny(*reasons: Reason) -> Decision:
    return Decision(False, reasons)
