"""How `gateway serve` meets the network: in prod over TLS of its own or behind proxies it
is told about by address, and believing forwarded headers from those proxies only.

Uvicorn by default believes X-Forwarded-For and X-Forwarded-Proto from 127.0.0.1, so any
local process (or a proxy that passes the header through) could choose the address the
access log records. Here they are believed only from GATEWAY_TRUSTED_PROXIES, walking
X-Forwarded-For from the right past those proxies; without it, never. The RFC 7239
`Forwarded` header, X-Forwarded-Host and X-Real-IP are never read.
"""

from __future__ import annotations

from typing import Any

from gateway.platform.errors import ConfigurationError
from gateway.platform.settings import Settings


def check_listener(settings: Settings, workers: int) -> None:
    """Refuse, before binding, a listener that prod must not have."""
    if settings.env == "prod" and settings.tls_certificate is None and not settings.trusted_proxies:
        raise ConfigurationError(
            "GATEWAY_ENV=prod does not serve plain HTTP on its own: set "
            "GATEWAY_TLS_CERTIFICATE and GATEWAY_TLS_PRIVATE_KEY to serve HTTPS, or name "
            "the TLS-terminating proxies in front of it, GATEWAY_TRUSTED_PROXIES="
            "<addresses or networks>"
        )
    if settings.metrics_port is not None and workers > 1:
        raise ConfigurationError(
            "GATEWAY_METRICS_PORT serves one process's metrics: with --workers above 1 each "
            "would need a port of its own; run one process per port (or host) instead"
        )


def forwarded_header_options(settings: Settings) -> dict[str, Any]:
    """Uvicorn's options: forwarded headers from the trusted proxies, or from nobody."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}
