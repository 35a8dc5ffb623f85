"""Database faults met by a real `gateway serve` on PostgreSQL, through a proxy that
stands in for the network: each is answered 503 transient with Retry-After, in bounded
time, whatever layer met it, and the server recovers when the database does."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from gateway.platform.database import Database
from gateway.platform.database_faults import is_unavailable, is_unreachable
from tests.builders import service_request
from tests.faults import (
    JSON,
    Served,
    handover,
    served_behind_proxy,
    stored,
    timed,
    token_form,
)

# Connect timeout 2 s (tests/faults.py); what a sender may wait for its 503 at most.
BOUND_SECONDS = 6.0


@pytest.fixture
def served(postgres: Database, postgresql_url: str) -> Iterator[Served]:
    with served_behind_proxy(postgresql_url) as server:
        yield server


def _requests(served: Served) -> dict[str, Callable[[httpx.Client], httpx.Response]]:
    """One of each kind of request a database fault can meet, by what it is."""
    auth = served.headers
    return {
        "dataset push": lambda http: http.post(
            "/api/handovers", content=handover(), headers={**auth, **JSON}
        ),
        "FHIR read": lambda http: http.get("/fhir/ServiceRequest/unknown-id", headers=auth),
        "FHIR search": lambda http: http.get(
            "/fhir/ServiceRequest?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919",
            headers=auth,
        ),
        "FHIR write": lambda http: http.post(
            "/fhir/ServiceRequest",
            json=service_request(),
            headers={**auth, "Content-Type": "application/fhir+json"},
        ),
        "dataset read": lambda http: http.get("/api/handovers/unknown-id", headers=auth),
        "token": lambda http: http.post("/oauth2/token", data=token_form(served.base)),
    }


@pytest.mark.parametrize("fault", ["reset", "blackhole"])
def test_an_unreachable_database_is_answered_503_transient_with_retry_after_in_bounded_time(
    served: Served, postgres: Database, fault: str
) -> None:
    getattr(served.proxy, fault)()
    with httpx.Client(base_url=served.base, timeout=30) as http:
        for kind, send in _requests(served).items():
            response, elapsed = timed(lambda send=send: send(http))
            assert response.status_code == 503, (kind, response.status_code, response.text)
            assert response.headers["Retry-After"].isdigit(), kind
            if kind == "token":
                # RFC 6749 clients read JSON; a 503 is still an OperationOutcome here.
                assert response.headers["content-type"].startswith("application/fhir+json")
            assert response.json()["issue"][0]["code"] == "transient", kind
            assert elapsed < BOUND_SECONDS, (kind, elapsed)
        served.proxy.pass_through()
        # The database is back: so is the service, with nothing stored meanwhile.
        assert stored(postgres) == (0, 0)
        pushed = _requests(served)["dataset push"](http)
        assert pushed.status_code == 201, pushed.text


def test_readyz_answers_503_within_two_seconds_while_the_database_is_blackholed(
    served: Served,
) -> None:
    with httpx.Client(base_url=served.base, timeout=30) as http:
        assert http.get("/readyz").status_code == 200
        served.proxy.blackhole()
        for _ in range(3):  # and again, while earlier probes may still be waiting
            response, elapsed = timed(lambda: http.get("/readyz"))
            assert response.status_code == 503
            assert response.json()["database"] == "unreachable"
            assert elapsed < 3.0, elapsed
        served.proxy.pass_through()
        assert http.get("/readyz").status_code == 200


def test_a_fault_in_the_code_is_not_mistaken_for_the_database_being_away(
    database: Database,
) -> None:
    # A wrong column is the gateway's own fault: it stays a 500, never a 503 to retry.
    with pytest.raises(DBAPIError) as raised, database.read() as connection:
        connection.exec_driver_sql("SELECT no_such_column FROM resources")
    assert not is_unavailable(raised.value)
    assert not is_unreachable(raised.value)
