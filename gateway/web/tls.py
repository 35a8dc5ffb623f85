"""Mutual TLS for `gateway serve`: the server asks for a client certificate and each
request carries the SHA-256 thumbprint of the one presented.

Uvicorn does not put the peer certificate into the ASGI scope, so the HTTP protocol is
subclassed: when a connection is made, its certificate's thumbprint is added to the
connection's copy of the state that every request on it receives (request.state).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from gateway.web.http_limits import LimitedH11Protocol

CLIENT_CERTIFICATE_STATE = "tls_client_certificate_sha256"


def certificate_thumbprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


class ClientCertificateH11Protocol(LimitedH11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object: Any = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # A per-connection copy: one connection's certificate never reaches another's.
        self.app_state = {
            **self.app_state,
            CLIENT_CERTIFICATE_STATE: certificate_thumbprint(der) if der else None,
        }
