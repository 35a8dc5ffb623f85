"""Reading an AuditEvent as served, for assertions: what it names, which rule decided,
which client called. One place, so every test reads the event's shape the same way."""

from __future__ import annotations

from typing import Any

_CLIENT_ID_SYSTEM_END = "/client-id"


def event_references(event: dict[str, Any]) -> list[str]:
    """The resources an event names, as versioned references (Type/id/_history/n)."""
    named = [entity.get("what", {}) for entity in event.get("entity", [])]
    return [str(what["reference"]) for what in named if "reference" in what]


def event_rules(event: dict[str, Any]) -> list[str]:
    """The rules that decided (the decision entity's name)."""
    return [str(entity["name"]) for entity in event.get("entity", []) if "name" in entity]


def event_clients(event: dict[str, Any]) -> list[str]:
    """The client ids of the calling systems."""
    return [
        str(agent["who"]["identifier"]["value"])
        for agent in event["agent"]
        if agent.get("who", {})
        .get("identifier", {})
        .get("system", "")
        .endswith(_CLIENT_ID_SYSTEM_END)
    ]
