"""Problems found in content, as values the shell turns into an OperationOutcome.

The core never decides HTTP statuses; it says what is wrong (a FHIR IssueType code),
where (a FHIRPath-style expression) and why, in words that never repeat the input value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

_ELEMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_DIGIT_RUN = re.compile(r"[0-9]{4}")


class IssueCode(StrEnum):
    """The FHIR IssueType codes (http://hl7.org/fhir/issue-type) the gateway uses."""

    INVALID = "invalid"
    STRUCTURE = "structure"
    REQUIRED = "required"
    VALUE = "value"
    INVARIANT = "invariant"
    SECURITY = "security"
    LOGIN = "login"
    FORBIDDEN = "forbidden"
    PROCESSING = "processing"
    NOT_SUPPORTED = "not-supported"
    DUPLICATE = "duplicate"
    MULTIPLE_MATCHES = "multiple-matches"
    NOT_FOUND = "not-found"
    TOO_LONG = "too-long"
    BUSINESS_RULE = "business-rule"
    CONFLICT = "conflict"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    THROTTLED = "throttled"
    EXCEPTION = "exception"
    INFORMATIONAL = "informational"


@dataclass(frozen=True, slots=True)
class Issue:
    code: IssueCode
    diagnostics: str
    expression: str | None = None
    severity: str = "error"


class ContentError(Exception):
    """Content that cannot be accepted; carries every issue found, never the input."""

    def __init__(self, issues: list[Issue], *, business_rule: bool = False) -> None:
        super().__init__(f"{len(issues)} issue(s) in content")
        self.issues = issues
        # A structurally valid resource that breaks a rule (UK Core, a profile) is
        # "unprocessable" rather than "bad request" in FHIR's REST terms.
        self.business_rule = business_rule


def element_path(root: str, location: Sequence[int | str]) -> str:
    """('subject', 'identifier', 'value') -> 'ServiceRequest.subject.identifier.value'.

    Names are client input where an element is unknown, so a name no FHIR element could
    have (odd characters, a run of digits) ends the path at its parent: the expression
    still points at the right place without repeating what was sent.
    """
    path = root
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        if not _ELEMENT_NAME.fullmatch(part) or _DIGIT_RUN.search(part):
            break
        path = f"{path}.{part}" if path else part
    return path
