"""The purpose of use a request names, and the justification for an override.

`X-Purpose-Of-Use` carries one code: TREAT, ETREAT or BTG (HL7 v3 PurposeOfUse), or
`safeguarding` / `service-improvement` (the gateway's purpose-of-use CodeSystem). Without
it a request acts for its token's default purpose. `X-Break-Glass-Justification` states
why recorded dissent must be overridden (percent-encode anything outside printable
ASCII); the access log keeps it for information-governance review.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

from consent.purposes import Purpose
from core.fhir.invisible_characters import INVISIBLE_CHARACTERS, has_invisible_character

PURPOSE_OF_USE_HEADER = "X-Purpose-Of-Use"
JUSTIFICATION_HEADER = "X-Break-Glass-Justification"
MAX_JUSTIFICATION_CHARACTERS = 1000


class PurposeHeaderError(ValueError):
    """A header that is present but not usable; the message never repeats its value."""

    def __init__(self, header: str, problem: str) -> None:
        super().__init__(f"{header} {problem}")
        self.header = header


def requested_purpose(header: str | None) -> Purpose | None:
    if header is None:
        return None
    try:
        return Purpose(header.strip())
    except ValueError:
        codes = ", ".join(purpose.value for purpose in Purpose)
        raise PurposeHeaderError(PURPOSE_OF_USE_HEADER, f"must be one of: {codes}.") from None


def justification(header: str | None) -> str | None:
    if header is None:
        return None
    try:
        text = unquote(header, encoding="utf-8", errors="strict").strip()
    except UnicodeDecodeError:
        raise PurposeHeaderError(
            JUSTIFICATION_HEADER, "must be UTF-8 text, percent-encoded where not ASCII."
        ) from None
    if not text:
        raise PurposeHeaderError(JUSTIFICATION_HEADER, "is empty.")
    if len(text) > MAX_JUSTIFICATION_CHARACTERS:
        raise PurposeHeaderError(
            JUSTIFICATION_HEADER, f"is longer than {MAX_JUSTIFICATION_CHARACTERS} characters."
        )
    if any(unicodedata.category(character) == "Cc" for character in text):
        raise PurposeHeaderError(JUSTIFICATION_HEADER, "contains control characters.")
    if has_invisible_character(text):
        # IG review reads it in the access log: it must read as it was written.
        raise PurposeHeaderError(JUSTIFICATION_HEADER, f"{INVISIBLE_CHARACTERS}.")
    return text
