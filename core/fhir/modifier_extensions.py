"""Modifier extensions the gateway understands: none.

A modifierExtension changes the meaning of the element holding it (it can negate it), and
FHIR requires a receiver that does not understand one to refuse the content rather than
process it as if it were absent. The gateway defines none of its own and understands no
one else's, so any modifierExtension, at any depth (contained and Bundle entry resources
included), is refused, naming where it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from core.fhir.issues import Issue, IssueCode, element_path

# Extension URLs whose meaning the gateway implements as a modifier. Add one here only
# with the code that acts on it.
UNDERSTOOD: frozenset[str] = frozenset()

MESSAGE = (
    "This modifierExtension is not one the gateway understands; a modifier extension "
    "can change what the element means, so content holding one it does not understand is "
    "refused rather than read without it."
)


def modifier_extension_issues(resource: Mapping[str, Any], resource_type: str) -> list[Issue]:
    return [
        Issue(IssueCode.NOT_SUPPORTED, MESSAGE, element_path(resource_type, where))
        for where in _not_understood(resource, ())
    ]


def _not_understood(node: Any, where: tuple[int | str, ...]) -> Iterator[tuple[int | str, ...]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _not_understood(item, (*where, index))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            here = (*where, key)
            if key == "modifierExtension":
                for index, extension in enumerate(value if isinstance(value, list) else [value]):
                    url = extension.get("url") if isinstance(extension, Mapping) else None
                    if url not in UNDERSTOOD:
                        yield (*here, index)
            yield from _not_understood(value, here)
