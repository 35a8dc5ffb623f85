"""GET /metrics: Prometheus's text format. Open, like /healthz: it names organisations and
counts, never patient data; restrict it to the monitoring network at the edge."""

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
