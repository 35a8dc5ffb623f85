"""FHIR Subscription at /fhir/Subscription: create, read, update, delete and search
(GET, or POST to _search), for the caller's organisation's own Subscriptions.

    POST   /fhir/Subscription                 201, Location with _history/1
    GET    /fhir/Subscription/{id}            200, ETag
    PUT    /fhir/Subscription/{id}            200 (If-Match: W/"n" honoured)
    DELETE /fhir/Subscription/{id}            204
    GET    /fhir/Subscription?status=active   searchset of the organisation's own

Routed before the generic /fhir/{resource_type} routes, which serve the stored record
types (a Subscription is the gateway's own: docs/subscriptions.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.utils import format_datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from core.subscriptions.request import RESOURCE_TYPE
from gateway.access_log.recording import start_trail, trail_of
from gateway.auth.authentication import authenticate
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.fhir import bundles
from gateway.platform.errors import InsufficientScope
from gateway.subscriptions.service import StoredSubscription, SubscriptionService
from gateway.web.deps import FormParams, JsonBody, ReadSubscriptions, WriteSubscriptions
from gateway.web.http_headers import (
    etag,
    fhir_base,
    if_match_version,
    require_json_acceptable,
)
from gateway.web.responses import fhir_response, written_response
from gateway.web.runtime import RuntimeDep

router = APIRouter(
    prefix=f"/fhir/{RESOURCE_TYPE}",
    dependencies=[Depends(start_trail), Depends(require_json_acceptable), Depends(authenticate)],
)

SubscriptionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]


def _requires(interaction: Interaction) -> Callable[[Request], Awaitable[None]]:
    """Refused early (before the body is read) without the Subscription scope."""

    async def check(request: Request) -> None:
        caller: Caller = request.state.caller
        if not caller.may(RESOURCE_TYPE, interaction):
            raise InsufficientScope(
                f"The access token does not grant this on {RESOURCE_TYPE}: it needs the "
                f"scope system/{RESOURCE_TYPE}.{interaction.value}."
            )

    return check


@router.post(
    "",
    status_code=201,
    name="subscription_create",
    dependencies=[Depends(_requires(Interaction.CREATE))],
)
def create(
    request: Request, body: JsonBody, runtime: RuntimeDep, service: WriteSubscriptions
) -> Response:
    return _written(request, runtime, service.create(body), 201)


@router.get("", name="subscription_search", dependencies=[Depends(_requires(Interaction.SEARCH))])
def search(request: Request, runtime: RuntimeDep, service: ReadSubscriptions) -> Response:
    return _searched(request, runtime, service, request.query_params.multi_items())


@router.post(
    "/_search",
    name="subscription_search_by_post",
    dependencies=[Depends(_requires(Interaction.SEARCH))],
)
def search_by_post(
    request: Request, form: FormParams, runtime: RuntimeDep, service: ReadSubscriptions
) -> Response:
    return _searched(request, runtime, service, request.query_params.multi_items() + form)


@router.get(
    "/{resource_id}",
    name="subscription_read",
    dependencies=[Depends(_requires(Interaction.READ))],
)
def read(resource_id: SubscriptionId, service: ReadSubscriptions) -> Response:
    subscription = service.read(resource_id)
    return fhir_response(subscription.content, 200, _version_headers(subscription))


@router.put(
    "/{resource_id}",
    name="subscription_update",
    dependencies=[Depends(_requires(Interaction.UPDATE))],
)
def update(
    request: Request,
    resource_id: SubscriptionId,
    body: JsonBody,
    runtime: RuntimeDep,
    service: WriteSubscriptions,
) -> Response:
    subscription = service.update(resource_id, body, if_match=if_match_version(request))
    return _written(request, runtime, subscription, 200)


@router.delete(
    "/{resource_id}",
    status_code=204,
    name="subscription_delete",
    dependencies=[Depends(_requires(Interaction.DELETE))],
)
def delete(resource_id: SubscriptionId, service: WriteSubscriptions) -> Response:
    service.delete(resource_id)
    return fhir_response(None, 204)


def _searched(
    request: Request,
    runtime: RuntimeDep,
    service: SubscriptionService,
    params: list[tuple[str, str]],
) -> Response:
    trail = trail_of(request)
    if trail is not None:
        trail.query = urlencode(params).encode()
    searched_at = runtime.clock()
    query, page = service.search(params)
    base = fhir_base(request, runtime.settings.public_base_url)
    return fhir_response(bundles.searchset(base, query, page, searched_at))


def _written(
    request: Request, runtime: RuntimeDep, subscription: StoredSubscription, status: int
) -> Response:
    base = fhir_base(request, runtime.settings.public_base_url)
    reference = f"{RESOURCE_TYPE}/{subscription.id}"
    verb = "created" if status == 201 else "stored"
    return written_response(
        request,
        location=f"{base}/{reference}/_history/{subscription.version_id}",
        version_headers=_version_headers(subscription),
        content=subscription.content,
        status=status,
        summary=f"{reference} {verb}, version {subscription.version_id}; "
        f"status {subscription.status}.",
    )


def _version_headers(subscription: StoredSubscription) -> dict[str, str]:
    return {
        "ETag": etag(subscription.version_id),
        "Last-Modified": format_datetime(subscription.last_updated, usegmt=True),
    }
