"""`gateway serve`: the API on uvicorn, with the start-up banner an operator reads."""

from __future__ import annotations

import ssl
from typing import Any

import uvicorn

from gateway.app import create_app
from gateway.commands.config import pid_file
from gateway.configuration.loader import load_config
from gateway.platform.errors import ConfigurationError
from gateway.platform.log_exceptions import install_process_hooks
from gateway.platform.runtime import preflight
from gateway.platform.settings import Settings
from gateway.web.http_limits import limited_protocol
from gateway.web.listener import check_listener, forwarded_header_options
from gateway.web.tls import ClientCertificateH11Protocol


def served_app() -> Any:
    """The app factory each of several uvicorn worker processes calls."""
    install_process_hooks()
    return create_app(freeze_heap=True)


def serve(settings: Settings, host: str | None, port: int | None, workers: int) -> int:
    host = host or settings.host
    port = port or settings.port
    preflight(settings)
    check_listener(settings, workers)
    tls = _tls_options(settings)
    demo = load_config(settings.config_dir).deployment.demo
    print(banner(settings, host, port, "https" if tls else "http", demo=demo), flush=True)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "warning",
        # uvicorn's own logging config would print its errors' tracebacks (messages
        # included) itself; without one, they go through the gateway's redaction.
        "log_config": None,
        "http": limited_protocol(settings),
        **tls,
        **forwarded_header_options(settings),
    }
    # SIGHUP to this process reloads the configuration: in a single process the app does
    # (see gateway.configuration.reload); uvicorn's supervisor restarts its workers,
    # which load it afresh.
    with pid_file(settings.pid_file):
        if workers > 1:
            uvicorn.run(
                "gateway.commands.serve:served_app", factory=True, workers=workers, **options
            )
        else:
            uvicorn.run(create_app(settings, freeze_heap=True), **options)
    return 0


def _tls_options(settings: Settings) -> dict[str, Any]:
    """HTTPS when a certificate is configured; mutual TLS when a client CA is too."""
    if settings.tls_certificate is None:
        return {}
    for path in (settings.tls_certificate, settings.tls_private_key, settings.tls_client_ca):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"TLS file {path} does not exist")
    options: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_certificate),
        "ssl_keyfile": str(settings.tls_private_key),
    }
    if settings.tls_client_ca is not None:
        options.update(
            ssl_ca_certs=str(settings.tls_client_ca),
            ssl_cert_reqs=ssl.CERT_REQUIRED,
            # Puts each connection's client certificate thumbprint into request.state.
            http=limited_protocol(settings, ClientCertificateH11Protocol),
        )
    return options


def banner(
    settings: Settings, host: str, port: int, scheme: str = "http", *, demo: bool = False
) -> str:
    base = f"{scheme}://{host}:{port}"
    # --url names this server: another terminal's `gateway token` would otherwise go to
    # its own GATEWAY_HOST/GATEWAY_PORT, which need not be where this one listens.
    tokens = (
        f"""
Every call needs an access token (SMART Backend Services). For the demo clients, the
provider EPR (AZZ), the Trust's crisis system (RZZ) and the IG lead (the access log):
  TOKEN=$(.venv/bin/gateway token --url {base} --client demo-provider-epr)
  TRUST=$(.venv/bin/gateway token --url {base} --client demo-trust-crisis)
  IG=$(.venv/bin/gateway token --url {base} --client demo-ig-lead)
  python3 examples/fresh.py handover | curl -s -X POST {base}/api/handovers \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d @-
  curl -s {base}/fhir/ServiceRequest -H "Authorization: Bearer $TOKEN"
  curl -s {base}/fhir/AuditEvent -H "Authorization: Bearer $IG"   # who accessed what
Tokens live {settings.token_lifetime_seconds} s; run the command again for a new one.
"""
        if demo
        else """
Every call needs an access token (SMART Backend Services): see /.well-known/smart-configuration.
"""
    )
    return f"""
Mental-health interface gateway ({settings.env}) on {base}
  store:  {settings.database_url}
  config: {settings.config_dir}

Open: {base}/fhir/metadata, {base}/.well-known/smart-configuration, {base}/healthz
{tokens}
Stop with Ctrl-C.
"""
