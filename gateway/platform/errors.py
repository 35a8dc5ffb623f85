"""The gateway's one error hierarchy, mapped to an OperationOutcome once, at the edge.

Each error carries its HTTP status, a FHIR IssueType code and a message that is safe to
show: it names elements, never their values.

    GatewayError (500 exception)
    ├── BadRequest (400 invalid)
    │   ├── InvalidContent (400 structure/value..., or 422 for a business rule)
    │   ├── InvalidSearch (400 not-supported / invalid)
    │   └── InvalidHeader (400 invalid)
    ├── Unauthorized (401 login: no valid access token; WWW-Authenticate says why)
    ├── Forbidden (403 forbidden: the token lacks the scope, or the content names
    │   │          another organisation as its sender)
    │   ├── InsufficientScope (403, WWW-Authenticate error="insufficient_scope")
    │   └── SharingRefused (403 forbidden: no data-sharing agreement covers it, or the
    │                       person's recorded dissent stops it; carries the deciding rule)
    ├── TokenRequestRefused (400/401 at /oauth2/token, answered as RFC 6749 JSON)
    │   └── TokenRequestThrottled (429 at /oauth2/token, with Retry-After)
    ├── NotFound (404 not-found)
    ├── Gone (410 not-found: a search's page reference that has expired)
    ├── MethodNotAllowed (405 not-supported, with Allow: what the URL does take)
    │   └── DirectoryReadOnly (405: Organization resources come from configuration)
    ├── NotAcceptable (406 not-supported)
    ├── Conflict (409 conflict)
    │   └── CheckpointNotExtended (409 at POST /audit/witness: the witness holds another
    │                              size, named in the Tlog-Size header)
    ├── PreconditionFailed (412 conflict)
    │   └── MultipleMatches (412 multiple-matches)
    ├── PayloadTooLarge (413 too-long)
    ├── UnsupportedMediaType (415 not-supported)
    ├── TooManyRequests (429 throttled, with Retry-After)
    ├── RequestTimedOut (503 timeout)
    ├── DatabaseUnavailable (503 transient, with Retry-After: the database could not be
    │                        reached or did not answer in time; the write was not made)
    ├── AuditUnavailable (503 transient: the access log could not be written, so the
    │                     request fails closed)
    ├── AuditIntegrityFailed (500 exception: a log row disagrees with its signed bytes,
    │                         so the IG search and report show nothing)
    └── ConfigurationError (start-up refused; never an HTTP answer)
"""

from __future__ import annotations

from core.fhir.issues import Issue, IssueCode


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

    @property
    def headers(self) -> dict[str, str]:
        return {}


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


class Unauthorized(GatewayError):
    """No usable access token. `error` is the RFC 6750 code (invalid_token), if any."""

    status = 401
    code = IssueCode.LOGIN

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.error = error

    @property
    def headers(self) -> dict[str, str]:
        challenge = 'Bearer realm="fhir"'
        if self.error is not None:
            challenge += f', error="{self.error}"'
        return {"WWW-Authenticate": challenge}


class Forbidden(GatewayError):
    status = 403
    code = IssueCode.FORBIDDEN


class InsufficientScope(Forbidden):
    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="fhir", error="insufficient_scope"'}


class SharingRefused(Forbidden):
    """The decision point said no. `rule` is the deciding rule, for the access log."""

    def __init__(self, message: str, *, rule: str, source: str | None) -> None:
        super().__init__(message)
        self.rule = rule
        self.source = source


class TokenRequestRefused(GatewayError):
    """A refusal at the token endpoint, answered as OAuth 2.0 JSON (RFC 6749 section 5.2),
    which is what SMART clients parse, rather than as an OperationOutcome."""

    status = 400
    code = IssueCode.SECURITY

    def __init__(self, error: str, description: str, *, malformed: bool = False) -> None:
        super().__init__(description)
        self.error = error
        # RFC 6749: a failed client authentication may answer 401; an assertion that
        # cannot even be read (`malformed`) is a bad request, 400.
        self.status = 401 if error == "invalid_client" and not malformed else 400


class TokenRequestThrottled(TokenRequestRefused):
    """Too many token requests from one address: 429 with Retry-After, and RFC 6749's
    temporarily_unavailable (the server cannot handle the request for now)."""

    def __init__(self, description: str, *, retry_after: str) -> None:
        super().__init__("temporarily_unavailable", description)
        self.status = 429
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after}


class NotFound(GatewayError):
    status = 404
    code = IssueCode.NOT_FOUND


class MethodNotAllowed(GatewayError):
    """The URL exists but does not take this method. `allowed` is what it does take
    (RFC 9110: an empty Allow says it takes none)."""

    status = 405
    code = IssueCode.NOT_SUPPORTED

    def __init__(self, message: str, *, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed

    @property
    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class DirectoryReadOnly(MethodNotAllowed):
    """A client tried to write an Organization: the directory is configuration (the
    deployment's organisations.yaml), read and searched over the API, never written."""

    def __init__(self) -> None:
        super().__init__(
            "Organization resources are this deployment's directory, kept in its "
            "configuration (organisations.yaml): they can be read and searched, not written.",
            allowed=("GET",),
        )


class Gone(GatewayError):
    status = 410
    code = IssueCode.NOT_FOUND


class NotAcceptable(GatewayError):
    status = 406
    code = IssueCode.NOT_SUPPORTED


class Conflict(GatewayError):
    status = 409
    code = IssueCode.CONFLICT


class CheckpointNotExtended(Conflict):
    """C2SP tlog-witness's 409: the request's old size is not the size of the checkpoint
    the witness holds for that log, which it names (a header, as the body is an
    OperationOutcome like every error here)."""

    def __init__(self, held_size: int) -> None:
        super().__init__(
            "The old size is not the size of the checkpoint held for that log; resend "
            "with the size in the Tlog-Size header and a proof from it."
        )
        self.held_size = held_size

    @property
    def headers(self) -> dict[str, str]:
        return {"Tlog-Size": str(self.held_size)}


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


class TooManyRequests(GatewayError):
    status = 429
    code = IssueCode.THROTTLED

    def __init__(self, message: str, *, retry_after: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after}


class RequestTimedOut(GatewayError):
    status = 503
    code = IssueCode.TIMEOUT


class DatabaseUnavailable(GatewayError):
    """The database could not be reached, or gave up (a connect, lock or statement
    timeout): a fault of the moment, so the sender retries rather than drops the request."""

    status = 503
    code = IssueCode.TRANSIENT

    def __init__(
        self,
        *,
        unreachable: bool = False,
        outcome_unknown: bool = False,
        retry_after_seconds: int = 5,
    ) -> None:
        super().__init__(
            "The connection to the database failed while the write was being committed, so "
            "it may or may not have been stored. Retry later with the same X-Request-ID and "
            "body (a repeat of what was stored is answered 409 duplicate)."
            if outcome_unknown
            else "The database is unavailable or busy, so the request was not carried out "
            "(nothing was stored). Retry later with the same X-Request-ID."
        )
        # The connection itself failed: the refusal cannot be logged there either.
        self.unreachable = unreachable or outcome_unknown
        self.outcome_unknown = outcome_unknown
        self.retry_after = str(retry_after_seconds)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after}


class AuditUnavailable(GatewayError):
    status = 503
    code = IssueCode.TRANSIENT

    def __init__(self) -> None:
        super().__init__(
            "The access log could not be written, so the request was not carried out "
            "(nothing was stored). Retry later."
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class AuditIntegrityFailed(GatewayError):
    """A row of the access log disagrees with its signed bytes (edited behind the
    gateway's back): nothing is shown from a log that cannot be vouched for."""

    status = 500
    code = IssueCode.EXCEPTION

    def __init__(self) -> None:
        super().__init__(
            "The access log failed an integrity check, so nothing is shown: an event's "
            "stored search values differ from its signed record. The operator has been "
            "alerted; `gateway audit verify` locates the event."
        )


class ConfigurationError(GatewayError):
    """The configuration directory or settings cannot be used; the process must not start."""
