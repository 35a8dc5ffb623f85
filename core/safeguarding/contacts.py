"""A partner contact recorded against a safeguarding action, as a FHIR R4 Communication.

Communication.status      completed: the contact happened
Communication.category    the kind (call, strategy meeting, referral to the local
                          authority...), in the gateway's safeguarding-contact CodeSystem
Communication.subject     the person, as the action names them
Communication.about       the action's Task
Communication.basedOn     the same Task: R4's "a request fulfilled in whole or in part
                          by this communication", which a contact towards an action is
Communication.sent        when the contact was made
Communication.sender      the organisation recording it (the action's owner or requester)
Communication.recipient   the other of the two
Communication.payload     who was contacted, what was agreed and who made the contact,
                          each part typed by the gateway's contact-part extension
meta.tag                  the safeguarding data category
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field

from core.codes import handover as handover_codes
from core.codes import safeguarding as codes
from core.fhir.dates import format_instant
from core.handover.dataset import Instant, Text, _Part
from core.handover.fhir.elements import organisation
from core.safeguarding.actions import SAFEGUARDING_TAG, Person

ContactKind = Literal["call", "strategy-meeting", "local-authority-referral", "email", "visit"]
EXTENSION_CONTACT_PART: Final = handover_codes.GATEWAY_EXTENSION_BASE + "safeguarding-contact-part"


class ContactRequest(_Part):
    """The body of POST /api/safeguarding/actions/{id}/contacts."""

    kind: ContactKind
    # Who was contacted: a named person, role or agency (the local authority's MASH...).
    contacted: Text = Field(min_length=1, max_length=200)
    at: Instant
    agreed: Text = Field(min_length=1, max_length=4000)
    by: Person


def contact_communication(
    contact: ContactRequest,
    *,
    communication_id: str,
    task: dict[str, Any],
    sender_ods: str,
    recipient_ods: str,
) -> dict[str, Any]:
    """The Communication recording `contact` against the action `task`."""
    kind = codes.CONTACT_KINDS[contact.kind]
    reference = f"Task/{task['id']}"
    return {
        "resourceType": "Communication",
        "id": communication_id,
        "meta": {"tag": [SAFEGUARDING_TAG.coding()]},
        "basedOn": [{"reference": reference}],
        "status": "completed",
        "category": [{"coding": [kind.coding()], "text": kind.display}],
        "subject": task["for"],
        "about": [{"reference": reference}],
        "sent": format_instant(contact.at, fixed_width=False),
        "recipient": [organisation(recipient_ods)],
        "sender": organisation(sender_ods),
        "payload": [
            _part("contacted", contact.contacted),
            _part("agreed", contact.agreed),
            _part("by", contact.by.label()),
        ],
    }


def _part(code: Literal["contacted", "agreed", "by"], text: str) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": EXTENSION_CONTACT_PART,
                "valueCoding": codes.CONTACT_PARTS[code].coding(),
            }
        ],
        "contentString": text,
    }


def contact_part(communication: dict[str, Any], code: str) -> str | None:
    """The text of one part of a contact Communication, or None."""
    for item in communication.get("payload", []):
        for extension in item.get("extension", []):
            if extension.get("valueCoding", {}).get("code") == code:
                text = item.get("contentString")
                return text if isinstance(text, str) else None
    return None
