"""Where each delivery is, as its sender sees it: GET /api/deliveries and the deliveries
on GET /api/handovers/{id}, on both databases."""

from __future__ import annotations

from pathlib import Path

import httpx
import respx

from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.exchange.support import Clock, gateway, handover, push, push_config
from tests.exchange.test_worker import ENDPOINT, TRUST, run_once, worker
from tests.tokens import TRUST as TRUST_CLIENT
from tests.tokens import access_token, bearer


@respx.mock
def test_the_sender_sees_each_delivery_move_from_queued_to_delivered(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    respx.post(ENDPOINT).mock(
        return_value=httpx.Response(201, headers={"Location": f"{TRUST}/Bundle/b-1"})
    )
    config = push_config(config_dir, tmp_path / "config", TRUST)
    with gateway(settings, config) as client:
        service_request_id = push(client, handover("DEL-1"))
        (queued,) = client.get("/api/deliveries").json()["deliveries"]
        assert queued["state"] == "queued"
        assert queued["destination"] == "RZZ"
        assert queued["service_request"] == f"ServiceRequest/{service_request_id}"
        assert "body" not in queued
        run_once(worker(database, config, Clock()))
        listed = client.get("/api/deliveries", params={"state": "delivered"}).json()
        (delivered,) = listed["deliveries"]
        assert delivered["receiver_reference"] == f"{TRUST}/Bundle/b-1"
        assert delivered["attempts"] == 1
        on_handover = client.get(f"/api/handovers/{service_request_id}").json()
        assert [d["state"] for d in on_handover["deliveries"]] == ["delivered"]
        assert client.get("/api/deliveries", params={"state": "lost"}).status_code == 400
        # Another organisation does not see the provider's deliveries in the list.
        trust = bearer(access_token(client, TRUST_CLIENT))
        assert client.get("/api/deliveries", headers=trust).json()["deliveries"] == []
