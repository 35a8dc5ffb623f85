"""GET /metrics on the API's port, in dev only: Prometheus's text format, open like
/healthz (organisations and counts, never patient data). In prod the metrics are served
on a listener of their own (GATEWAY_METRICS_PORT), for the monitoring network only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from gateway.exchange.metrics import DeliveryMetrics

router = APIRouter()


@router.get("/metrics", name="metrics")
def metrics(request: Request) -> Response:
    registry: DeliveryMetrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
