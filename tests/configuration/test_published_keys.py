"""Keys whose private halves this repository publishes: prod refuses a client registered
with one, at start and at reload, by RFC 7638 thumbprint, naming the client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from gateway.auth.client_keys import jwk_thumbprint, parse_jwks
from gateway.configuration.published_keys import PUBLISHED_KEY_THUMBPRINTS
from gateway.platform.database import Database
from gateway.platform.schema import audit_events
from tests.conftest import DEMO_CONFIG, REPO
from tests.deployments import production_env
from tests.servers import (
    free_port,
    gateway_forked,
    running_server,
    served_token,
)

PUBLISHED_KEY_FOLDERS = (DEMO_CONFIG / "keys", REPO / "tests" / "data" / "keys")


def test_every_key_published_in_the_repository_is_known_by_its_thumbprint() -> None:
    published = {
        jwk_thumbprint(key.key): str(path.relative_to(REPO))
        for folder in PUBLISHED_KEY_FOLDERS
        for path in sorted(folder.glob("*.jwks.json"))
        for key in parse_jwks(json.loads(path.read_text()))
    }
    assert len(published) == 5
    assert published == PUBLISHED_KEY_THUMBPRINTS


def register_the_demo_key(config: Path, client_id: str) -> None:
    """The client's JWKS replaced by the demo's published key, under a kid of its own:
    the thumbprint, not the kid, gives it away."""
    demo = json.loads((DEMO_CONFIG / "keys" / f"{client_id}.jwks.json").read_text())
    demo["keys"][0]["kid"] = "our-own-key-2027"
    (config / "keys" / f"{client_id}.jwks.json").write_text(json.dumps(demo))


def _gateway(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return gateway_forked("sqlite:///unused.db", *args, timeout=30, **env)


def test_prod_refuses_to_start_with_a_published_key_naming_the_client(
    tmp_path: Path, database_url: str
) -> None:
    env = production_env(tmp_path, GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    register_the_demo_key(Path(env["GATEWAY_CONFIG_DIR"]), "demo-trust-crisis")
    result = gateway_forked(database_url, "serve", "--port", str(free_port()), timeout=30, **env)
    assert result.returncode == 2
    assert "client demo-trust-crisis is registered with key our-own-key-2027" in result.stderr
    assert "config/demo/keys/demo-trust-crisis.jwks.json" in result.stderr


def _configuration_loads(database: Database) -> list[tuple[int, str]]:
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.outcome, audit_events.c.content)
            .where(audit_events.c.subtype == "configuration-load")
            .order_by(audit_events.c.seq)
        )
        return [(int(row.outcome), row.content.decode()) for row in rows]


def _eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.1)


def test_prod_refuses_a_reload_that_registers_a_published_key(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    port = free_port()
    env = production_env(
        tmp_path,
        GATEWAY_TRUSTED_PROXIES="127.0.0.1",
        GATEWAY_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        GATEWAY_PID_FILE=str(tmp_path / "gateway.pid"),
    )
    config = Path(env["GATEWAY_CONFIG_DIR"])
    with running_server(database_url, port=port, **env) as base:
        assert served_token(base, "demo-trust-crisis", config_dir=config)
        register_the_demo_key(config, "demo-trust-crisis")

        # The operator's command checks first, and says which client.
        asked = _gateway("config", "reload", env=env)
        assert asked.returncode == 2
        assert "client demo-trust-crisis" in asked.stderr

        # Signalled directly: the running configuration is kept, and the log says why.
        os.kill(int((tmp_path / "gateway.pid").read_text()), signal.SIGHUP)
        _eventually(lambda: [o for o, _ in _configuration_loads(database)] == [0, 4])
        assert "client demo-trust-crisis" in _configuration_loads(database)[1][1]

        # Whoever holds the published private key gets no token.
        stolen = _gateway(
            "token",
            "--client",
            "demo-trust-crisis",
            "--url",
            base,
            "--key",
            str(DEMO_CONFIG / "keys" / "demo-trust-crisis.private.pem"),
            env={"GATEWAY_CONFIG_DIR": str(config)},
        )
        assert stolen.returncode == 1
        assert "token refused (401)" in stolen.stderr
        assert httpx.get(f"{base}/healthz").status_code == 200
