"""Problems found in content, as values the shell turns into an OperationOutcome.

The core never decides HTTP statuses; it says what is wrong (a FHIR IssueType code),
where (a FHIRPath-style expression) and why, in words that never repeat the input value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
