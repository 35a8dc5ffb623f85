"""SMART scopes for backend clients: `system/<Type>.<cruds>` (v2), with the v1 forms
`.read`, `.write` and `.*` accepted as aliases.

A scope grants interactions on one resource type (or `*`, every type):
c create, r read (read, vread, history), u update, d delete, s search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.fhir.models import is_resource_type

_V2 = re.compile(r"system/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<letters>c?r?u?d?s?)")
_V1 = re.compile(r"system/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<word>read|write|\*)")
_V1_LETTERS = {"read": "rs", "write": "cud", "*": "cruds"}
_ORDER = "cruds"
# Types a wildcard never covers: the access log is for those granted it by name
# (information-governance leads), not for every client with system/*.rs.
NAMED_ONLY = frozenset({"AuditEvent"})


class Interaction(StrEnum):
    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


class ScopeError(ValueError):
    """A scope string that is not a SMART system scope this server understands."""


@dataclass(frozen=True, slots=True)
class Scope:
    resource_type: str  # a FHIR resource type, or "*"
    interactions: frozenset[Interaction]

    def __str__(self) -> str:
        letters = "".join(letter for letter in _ORDER if Interaction(letter) in self.interactions)
        return f"system/{self.resource_type}.{letters}"

    def covers(self, resource_type: str) -> bool:
        if self.resource_type == "*":
            return resource_type not in NAMED_ONLY
        return self.resource_type == resource_type

    def grants(self, resource_type: str, interaction: Interaction) -> bool:
        return self.covers(resource_type) and interaction in self.interactions


def parse_scope(text: str) -> Scope:
    """One scope; ScopeError (naming no more than the shape expected) otherwise."""
    v2 = _V2.fullmatch(text)
    if v2 is not None and v2["letters"]:
        resource_type, letters = v2["type"], v2["letters"]
    else:
        v1 = _V1.fullmatch(text)
        if v1 is None:
            raise ScopeError("scopes take the form system/<ResourceType>.<cruds>")
        resource_type, letters = v1["type"], _V1_LETTERS[v1["word"]]
    if resource_type != "*" and not is_resource_type(resource_type):
        raise ScopeError("a scope names a FHIR resource type, or *")
    return Scope(resource_type, frozenset(Interaction(letter) for letter in letters))


@dataclass(frozen=True, slots=True)
class ScopeSet:
    scopes: tuple[Scope, ...]

    @classmethod
    def parse(cls, texts: Iterable[str]) -> ScopeSet:
        return cls(tuple(parse_scope(text) for text in texts))

    def grants(self, resource_type: str, interaction: Interaction) -> bool:
        return any(scope.grants(resource_type, interaction) for scope in self.scopes)

    def narrowed_to(self, requested: ScopeSet) -> ScopeSet:
        """What may be granted of `requested`: each requested scope cut down to the
        interactions these (allowed) scopes grant for its type; empty ones dropped.

        A requested `*` keeps only what is allowed on every type (`*` scopes), so a
        wildcard request never widens into types the client may not use.
        """
        granted: list[Scope] = []
        for scope in requested.scopes:
            allowed = {
                interaction
                for interaction in scope.interactions
                if any(
                    interaction in mine.interactions
                    and (
                        mine.resource_type == "*"
                        if scope.resource_type == "*"
                        else mine.covers(scope.resource_type)
                    )
                    for mine in self.scopes
                )
            }
            if allowed:
                granted.append(Scope(scope.resource_type, frozenset(allowed)))
        return ScopeSet(tuple(dict.fromkeys(granted)))

    def __str__(self) -> str:
        return " ".join(str(scope) for scope in self.scopes)

    def __bool__(self) -> bool:
        return bool(self.scopes)
