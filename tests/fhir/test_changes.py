"""Every version the FHIR write path stores is told to its change listener, in the
write's transaction, and every ResourceService the gateway builds names its listener:
a writer built without one (a new background job, say) would store versions no
Subscription hears of."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from core.search.query import PagingLimits
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.platform.database import Database
from tests.builders import flag, service_request
from tests.paths import REPO


class Heard:
    def __init__(self) -> None:
        self.versions: list[tuple[str, int, frozenset[str]]] = []

    def stored(self, records: Sequence[StoredResource]) -> None:
        for record in records:
            parties = frozenset(party.ods_code for party in record.parties or ())
            self.versions.append((record.resource_type, record.version_id, parties))


def test_every_create_mapped_resource_and_update_is_heard_with_its_parties(
    database: Database,
) -> None:
    heard = Heard()
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), PagingLimits(20, 100), changes=heard)
        created = service.create("ServiceRequest", service_request()).record
        body = {**service_request(), "id": created.id, "status": "revoked"}
        service.update("ServiceRequest", created.id, body)
        service.create_mapped([{**flag(), "id": "mapped-flag-1"}])
    assert heard.versions == [
        ("ServiceRequest", 1, frozenset({"AZZ", "RZZ"})),
        ("ServiceRequest", 2, frozenset({"AZZ", "RZZ"})),
        ("Flag", 1, frozenset({"AZZ"})),
    ]


def test_every_resource_service_the_gateway_builds_names_its_change_listener() -> None:
    unnamed = []
    for path in sorted((REPO / "gateway").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "ResourceService"
                and not any(keyword.arg == "changes" for keyword in node.keywords)
            ):
                unnamed.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert unnamed == [], "pass changes= (a SubscriptionNotifier, or None on purpose)"
    # It does find them: the gateway builds several.
    built = sum(
        path.read_text().count("ResourceService(") for path in (REPO / "gateway").rglob("*.py")
    )
    assert built >= 3
