"""Reading the FHIR-relevant request headers: Prefer, If-Match, Accept; base URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request

from gateway.platform.errors import InvalidHeader, NotAcceptable

_WEAK_ETAG = re.compile(r'(?:W/)?"(\d{1,9})"')
_ACCEPTABLE = ("*/*", "application/*", "application/fhir+json", "application/json")


@dataclass(frozen=True, slots=True)
class Preferences:
    return_: str = "representation"  # minimal | representation | OperationOutcome
    lenient: bool = False


def preferences(request: Request) -> Preferences:
    return_ = "representation"
    lenient = False
    for part in request.headers.get("prefer", "").split(";"):
        for token in part.split(","):
            name, _, value = token.strip().partition("=")
            value = value.strip('"')
            if name == "return" and value in ("minimal", "representation", "OperationOutcome"):
                return_ = value
            elif name == "handling" and value in ("lenient", "strict"):
                lenient = value == "lenient"
    return Preferences(return_, lenient)


def if_match_version(request: Request) -> int | None:
    value = request.headers.get("if-match")
    if value is None:
        return None
    match = _WEAK_ETAG.fullmatch(value.strip())
    if match is None:
        raise InvalidHeader('If-Match must be an ETag such as W/"3".', expression="If-Match")
    return int(match[1])


async def require_json_acceptable(request: Request) -> None:
    # Async: a header check needs no worker thread.
    accept = request.headers.get("accept")
    if not accept:
        return
    offered = [item.split(";")[0].strip().lower() for item in accept.split(",")]
    if not any(item in _ACCEPTABLE for item in offered):
        raise NotAcceptable("Only application/fhir+json is served.")


def fhir_base(request: Request, public_base_url: str | None) -> str:
    """The base URL of the FHIR endpoint as clients see it, without a trailing slash."""
    base = public_base_url.rstrip("/") if public_base_url else str(request.base_url).rstrip("/")
    return f"{base}/fhir"


def etag(version_id: int) -> str:
    return f'W/"{version_id}"'
