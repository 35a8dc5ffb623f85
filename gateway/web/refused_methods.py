"""A method a URL does not take (405), logged like every other refusal.

The router answers these before any route's dependencies run, so no trail was started
and nobody was authenticated. Here the refusal gets both: a trail for the interaction the
method would have been (a DELETE is a refused delete, naming the resource it aimed at),
and the caller, when its token is valid, so that its organisation's IG lead sees it. The
answer is 405 whatever the token: the method is refused for everybody.

`Allow` names every method some route takes at the path, except writes of the directory
(Organization is read-only over the API).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.requests import Request
from starlette.routing import Route

from core.access_log.event import EventKind
from core.codes.audit import Subtype
from core.codes.common import Code
from core.fhir.parties import DIRECTORY_TYPES
from gateway.access_log.recording import trail_of
from gateway.access_log.trail import AccessTrail
from gateway.auth.authentication import authenticate
from gateway.platform.errors import GatewayError, MethodNotAllowed
from gateway.platform.runtime import Runtime

# The FHIR interaction each method would have been; any other method is recorded as such.
_INTERACTIONS: dict[str, tuple[Code, str]] = {
    "GET": (Subtype.READ, "R"),
    "HEAD": (Subtype.READ, "R"),
    "POST": (Subtype.CREATE, "C"),
    "PUT": (Subtype.UPDATE, "U"),
    "PATCH": (Subtype.PATCH, "U"),
    "DELETE": (Subtype.DELETE, "D"),
}
# The routes that write a resource of the path's type: never allowed on the directory.
_WRITE_ROUTES = frozenset({"create", "update"})
# Routes that exist only to refuse (a transaction at the base): never in Allow.
_REFUSING_ROUTES = frozenset({"transaction"})


async def refused_method(request: Request) -> MethodNotAllowed:
    """The refusal of this request's method, with its trail started and its caller
    identified where a valid token says who it is."""
    method = request.method.upper()
    if trail_of(request) is None:
        subtype, action = _INTERACTIONS.get(method, (Subtype.UNSUPPORTED_METHOD, "E"))
        request.state.trail = AccessTrail(EventKind.REST, subtype, action)  # type: ignore[arg-type]
    runtime = getattr(request.app.state, "runtime", None)
    if isinstance(runtime, Runtime):
        # Not identified: logged with the network address alone, as a 401 is.
        with suppress(GatewayError):
            await authenticate(request, runtime)
    named = method if method in _INTERACTIONS else "This method"
    return MethodNotAllowed(f"{named} is not allowed at this URL.", allowed=_allowed(request))


@dataclass(frozen=True, slots=True)
class RoutedMethods:
    """Which methods the application's routes take, by path: built once, in the app
    factory, from the routers it includes."""

    routes: tuple[tuple[re.Pattern[str], frozenset[str], str], ...]

    @classmethod
    def of(cls, routers: Iterable[APIRouter]) -> RoutedMethods:
        return cls(
            tuple(
                (route.path_regex, frozenset(route.methods or ()), route.name)
                for router in routers
                for route in router.routes
                if isinstance(route, Route)
            )
        )

    def allowed(self, path: str, *, directory: bool) -> tuple[str, ...]:
        """Every method some route takes at `path`; for the directory, not its writes."""
        methods: set[str] = set()
        for pattern, taken, name in self.routes:
            if name in _REFUSING_ROUTES or (directory and name in _WRITE_ROUTES):
                continue
            if pattern.match(path):
                methods |= taken
        return tuple(sorted(methods))


def _allowed(request: Request) -> tuple[str, ...]:
    routed = getattr(request.app.state, "routed_methods", None)
    if not isinstance(routed, RoutedMethods):
        return ()
    directory = request.path_params.get("resource_type") in DIRECTORY_TYPES
    return routed.allowed(request.scope.get("path", ""), directory=directory)
