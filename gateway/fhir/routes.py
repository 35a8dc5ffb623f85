"""FHIR R4 REST at /fhir: metadata, create (and conditional create), read, vread, update,
instance history and type search (GET, or POST to _search to keep identifiers out of URLs).
"""

from __future__ import annotations

import re
from email.utils import format_datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from core.fhir.dates import format_instant
from core.fhir.models import SUPPORTED_RESOURCE_TYPES
from core.fhir.parties import DIRECTORY_TYPES
from core.search.query import CURSOR_PARAMETER, parse_search
from gateway.access_log.recording import start_trail, trail_of
from gateway.auth.authentication import authenticate, requires
from gateway.auth.scopes import Interaction
from gateway.fhir import bundles
from gateway.fhir.capability import capability_statement
from gateway.fhir.records import StoredResource
from gateway.fhir.search.pages import PAGE_PARAMETER
from gateway.platform.errors import (
    BadRequest,
    DirectoryReadOnly,
    InvalidSearch,
    MethodNotAllowed,
    NotFound,
)
from gateway.web.deps import (
    FormParams,
    JsonBody,
    PostSearch,
    ReadSearch,
    ReadService,
    Searching,
    WriteFhir,
)
from gateway.web.http_headers import (
    etag,
    fhir_base,
    if_match_version,
    preferences,
    require_json_acceptable,
)
from gateway.web.responses import fhir_response, written_response
from gateway.web.runtime import RuntimeDep

# Every data route needs an access token: the router authenticates before anything else
# (the body is not even read for a caller without one). Only metadata is open.
router = APIRouter(
    prefix="/fhir",
    dependencies=[Depends(start_trail), Depends(require_json_acceptable), Depends(authenticate)],
)
open_router = APIRouter(prefix="/fhir", dependencies=[Depends(require_json_acceptable)])

_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
# ASCII digits only (str.isdigit accepts "²", which int() refuses), and small enough for
# every database's integer column.
_POSITIVE_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,8}")


def _resource_type(resource_type: str) -> str:
    if resource_type not in SUPPORTED_RESOURCE_TYPES:
        raise NotFound(
            "This server does not serve that resource type; see /fhir/metadata for the types "
            "it does."
        )
    return resource_type


ResourceType = Annotated[str, Depends(_resource_type)]
ResourceId = Annotated[str, Path(pattern=_ID_PATTERN)]


async def _not_the_directory(request: Request) -> None:
    """Organization resources come from the configuration alone: 405 to any write, before
    the scope is checked or the body read (a token with Organization.c changes nothing)."""
    if request.path_params.get("resource_type") in DIRECTORY_TYPES:
        raise DirectoryReadOnly()


_CREATES = [Depends(_not_the_directory), Depends(requires(Interaction.CREATE))]
_UPDATES = [Depends(_not_the_directory), Depends(requires(Interaction.UPDATE))]


@open_router.get("/metadata")
def metadata(request: Request, runtime: RuntimeDep) -> Response:
    base = fhir_base(request, runtime.settings.public_base_url)
    published = format_instant(
        request.app.state.started_at.replace(microsecond=0), fixed_width=False
    )
    return fhir_response(capability_statement(base, published))


@router.post("/{resource_type}/_search", dependencies=[Depends(requires(Interaction.SEARCH))])
def search_by_post(
    request: Request,
    resource_type: ResourceType,
    form: FormParams,
    runtime: RuntimeDep,
    searching: PostSearch,
) -> Response:
    # Its page links carry a reference to it, kept server-side, not its parameters.
    params = request.query_params.multi_items() + form
    return _search(request, resource_type, params, runtime, searching, by_post=True)


@router.get("/{resource_type}", dependencies=[Depends(requires(Interaction.SEARCH))])
def search(
    request: Request, resource_type: ResourceType, runtime: RuntimeDep, searching: ReadSearch
) -> Response:
    params = request.query_params.multi_items()
    return _search(request, resource_type, params, runtime, searching, by_post=False)


@router.post("", name="transaction")
def transaction() -> Response:
    """POST to the base takes a batch or transaction Bundle in FHIR: not here."""
    raise MethodNotAllowed(
        "Batch and transaction Bundles are not taken: send each resource to its own "
        "type's URL (see /fhir/metadata).",
        allowed=(),
    )


@router.post("/{resource_type}", status_code=201, dependencies=_CREATES)
def create(
    request: Request,
    resource_type: ResourceType,
    body: JsonBody,
    runtime: RuntimeDep,
    service: WriteFhir,
) -> Response:
    outcome = service.create(
        resource_type, body, if_none_exist=request.headers.get("if-none-exist")
    )
    status = 201 if outcome.created else 200
    return _written(request, runtime, outcome.record, status)


@router.get("/{resource_type}/{resource_id}", dependencies=[Depends(requires(Interaction.READ))])
def read(resource_type: ResourceType, resource_id: ResourceId, service: ReadService) -> Response:
    return _resource(service.read(resource_type, resource_id))


@router.put("/{resource_type}/{resource_id}", dependencies=_UPDATES)
def update(
    request: Request,
    resource_type: ResourceType,
    resource_id: ResourceId,
    body: JsonBody,
    runtime: RuntimeDep,
    service: WriteFhir,
) -> Response:
    record = service.update(resource_type, resource_id, body, if_match=if_match_version(request))
    return _written(request, runtime, record, 200)


@router.get(
    "/{resource_type}/{resource_id}/_history",
    dependencies=[Depends(requires(Interaction.READ))],
)
def history(
    request: Request,
    resource_type: ResourceType,
    resource_id: ResourceId,
    runtime: RuntimeDep,
    service: ReadService,
) -> Response:
    count = _whole_number(request, "_count")
    below = _whole_number(request, "_below")
    page = service.history(resource_type, resource_id, count=count, below=below)
    base = fhir_base(request, runtime.settings.public_base_url)
    return fhir_response(
        bundles.history(
            base,
            resource_type,
            resource_id,
            page.records,
            page.total,
            page.next_below,
            runtime.clock(),
        )
    )


@router.get(
    "/{resource_type}/{resource_id}/_history/{version_id}",
    dependencies=[Depends(requires(Interaction.READ))],
)
def vread(
    resource_type: ResourceType,
    resource_id: ResourceId,
    version_id: str,
    service: ReadService,
) -> Response:
    return _resource(service.vread(resource_type, resource_id, version_id))


def _search(
    request: Request,
    resource_type: str,
    params: list[tuple[str, str]],
    runtime: RuntimeDep,
    searching: Searching,
    *,
    by_post: bool,
) -> Response:
    reference = _page_reference(params)
    if reference is not None:
        # A page link followed: the search it stands for, from where the link points.
        kept = searching.pages.recall(resource_type, reference)
        params = [*kept, *((name, value) for name, value in params if name != PAGE_PARAMETER)]
    trail = trail_of(request)
    if trail is not None:
        # The search as asked (BALP's query entity); the log is IG-only, unlike a URL.
        trail.query = urlencode(params).encode()
    query = parse_search(
        resource_type, params, runtime.paging, lenient=preferences(request).lenient
    )
    searched_at = runtime.clock()
    page = searching.resources.search(query)
    if reference is None and by_post:
        reference = searching.pages.remember(resource_type, query.applied)
    base = fhir_base(request, runtime.settings.public_base_url)
    return fhir_response(
        bundles.searchset(base, query, page, searched_at, page_reference=reference)
    )


def _page_reference(params: list[tuple[str, str]]) -> str | None:
    """The page reference a followed link carries, which stands for its whole search:
    nothing may be sent with it but the link's own cursor (and _format)."""
    references = [value for name, value in params if name == PAGE_PARAMETER]
    if not references:
        return None
    others = {name for name, _ in params} - {PAGE_PARAMETER, CURSOR_PARAMETER, "_format"}
    if len(references) > 1 or others:
        raise InvalidSearch(
            f"{PAGE_PARAMETER} stands for a whole search: follow the page link as given, "
            f"with nothing added but its {CURSOR_PARAMETER}.",
            expression=PAGE_PARAMETER,
        )
    return references[0]


def _resource(record: StoredResource) -> Response:
    return fhir_response(record.content, 200, _version_headers(record))


def _written(
    request: Request, runtime: RuntimeDep, record: StoredResource, status: int
) -> Response:
    base = fhir_base(request, runtime.settings.public_base_url)
    verb = "created" if status == 201 else "stored"
    return written_response(
        request,
        location=f"{base}/{record.resource_type}/{record.id}/_history/{record.version_id}",
        version_headers=_version_headers(record),
        content=record.content,
        status=status,
        summary=f"{record.resource_type}/{record.id} {verb}, version {record.version_id}.",
    )


def _version_headers(record: StoredResource) -> dict[str, str]:
    return {
        "ETag": etag(record.version_id),
        "Last-Modified": format_datetime(record.last_updated, usegmt=True),
    }


def _whole_number(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not _POSITIVE_WHOLE_NUMBER.fullmatch(value):
        raise BadRequest(f"{name} takes a whole number from 1 to 999999999.", expression=name)
    return int(value)
