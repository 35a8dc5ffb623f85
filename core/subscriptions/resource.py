"""A Subscription as the gateway serves it: what the client sent, with what the server
owns (id, meta.versionId and lastUpdated, status, error) set by the gateway."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.fhir.dates import format_instant
from core.subscriptions.request import RESOURCE_TYPE, Status


def served(
    content: Mapping[str, Any],
    *,
    subscription_id: str,
    version_id: int,
    last_updated: datetime,
    status: Status,
    error: str | None,
) -> str:
    """The JSON text of one version (`content`: as read_subscription left it, or a
    stored version's text parsed)."""
    meta = {
        **(content.get("meta") or {}),
        "versionId": str(version_id),
        "lastUpdated": format_instant(last_updated),
    }
    resource: dict[str, Any] = {"resourceType": RESOURCE_TYPE, "id": subscription_id, "meta": meta}
    resource.update(
        (key, value)
        for key, value in content.items()
        if key not in ("resourceType", "id", "meta", "status", "error")
    )
    resource["status"] = status.value
    if error is not None:
        resource["error"] = error
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
