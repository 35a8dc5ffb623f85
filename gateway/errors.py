"""The gateway's one error hierarchy, mapped to an OperationOutcome once, at the edge.

Each error carries its HTTP status, a FHIR IssueType code and a message that is safe to
show: it names elements, never their values.

    GatewayError (500 exception)
    ├── BadRequest (400 invalid)
    │   ├── InvalidContent (400 structure/value..., or 422 for a business rule)
    │   ├── InvalidSearch (400 not-supported / invalid)
    │   └── InvalidHeader (400 invalid)
    ├── NotFound (404 not-found)
    ├── NotAcceptable (406 not-supported)
    ├── Conflict (409 conflict)
    ├── PreconditionFailed (412 conflict)
    │   └── MultipleMatches (412 multiple-matches)
    ├── PayloadTooLarge (413 too-long)
    ├── UnsupportedMediaType (415 not-supported)
    └── ConfigurationError (start-up refused; never an HTTP answer)
"""

from __future__ import annotations

from mappings.issues import Issue, IssueCode


class GatewayError(Exception):
    status: int = 500
    code: IssueCode = IssueCode.EXCEPTION

    def __init__(self, message: str, *, expression: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression

    @property
    def issues(self) -> list[Issue]:
        return [Issue(self.code, self.message, self.expression)]


class BadRequest(GatewayError):
    status = 400
    code = IssueCode.INVALID


class InvalidContent(BadRequest):
    """Content that failed validation; carries every issue the core found."""

    def __init__(self, issues: list[Issue], *, business_rule: bool = False) -> None:
        super().__init__(issues[0].diagnostics if issues else "Invalid content.")
        self._issues = issues
        if business_rule:
            self.status = 422
            self.code = IssueCode.BUSINESS_RULE

    @property
    def issues(self) -> list[Issue]:
        return self._issues


class InvalidSearch(BadRequest):
    code = IssueCode.INVALID


class InvalidHeader(BadRequest):
    code = IssueCode.INVALID


class NotFound(GatewayError):
    status = 404
    code = IssueCode.NOT_FOUND


class NotAcceptable(GatewayError):
    status = 406
    code = IssueCode.NOT_SUPPORTED


class Conflict(GatewayError):
    status = 409
    code = IssueCode.CONFLICT


class PreconditionFailed(GatewayError):
    status = 412
    code = IssueCode.CONFLICT


class MultipleMatches(PreconditionFailed):
    code = IssueCode.MULTIPLE_MATCHES


class PayloadTooLarge(GatewayError):
    status = 413
    code = IssueCode.TOO_LONG


class UnsupportedMediaType(GatewayError):
    status = 415
    code = IssueCode.NOT_SUPPORTED


class ConfigurationError(GatewayError):
    """The configuration directory or settings cannot be used; the process must not start."""
