"""Where a Subscription's notifications may go: only under a URL its organisation's
configuration names (endpoints.yaml), so that no client can make the gateway call an
address of its choosing (server-side request forgery).

`channel.endpoint` is allowed when it is under one of the configured bases: the same
scheme, host and port, and a path that is the base's path or below it at a segment
boundary (`/fhir` allows `/fhir` and `/fhir/hooks`, never `/fhirx` or `/other`). What
could make one URL read as another is refused outright rather than normalised: user
information (`user@host`), a query or fragment, dot segments (`.`, `..`), encoded
slashes, dots or backslashes, and anything but printable ASCII (an international host
name is given in its `xn--` form).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
# Percent-encodings of '.', '/' and '\': a path holding one could be read as another path.
_ENCODED_SEPARATORS = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_allowed(url: str, bases: Iterable[str]) -> bool:
    """Whether `url` is under one of `bases` (the configured URLs, trusted)."""
    candidate = _parts(url)
    if candidate is None or candidate.query or candidate.fragment:
        return False
    return any(_under(candidate, base) for base in bases)


def resource_url(endpoint: str, resource_type: str, resource_id: str) -> str:
    """[endpoint]/[type]/[id]: where a notification carrying the resource goes (R4 rest-hook:
    with a payload, the endpoint is the base the resource is PUT under)."""
    return f"{endpoint.rstrip('/')}/{resource_type}/{resource_id}"


def _under(candidate: SplitResult, base: str) -> bool:
    allowed = _parts(base)
    if allowed is None or candidate.scheme != allowed.scheme:
        return False
    if candidate.hostname != allowed.hostname or _port(candidate) != _port(allowed):
        return False
    prefix = allowed.path.rstrip("/")
    return candidate.path == prefix or candidate.path.startswith(prefix + "/")


def _parts(url: str) -> SplitResult | None:
    if len(url) > MAX_URL_LENGTH or not _PRINTABLE_ASCII.fullmatch(url):
        return None
    if "\\" in url or _ENCODED_SEPARATORS.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number is a ValueError
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    if port == 0:
        return None
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return None
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or _DEFAULT_PORTS[parts.scheme]
