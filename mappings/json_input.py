"""Turning request bytes into JSON values, refusing shapes no real sender produces.

A 1 MiB body can still nest ten thousand levels deep or carry a million-element array;
both are refused before any model sees them, so validation cost stays bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mappings.issues import ContentError, Issue, IssueCode


@dataclass(frozen=True, slots=True)
class ShapeLimits:
    max_depth: int = 32
    max_array_length: int = 1000


def parse_json_object(body: bytes, limits: ShapeLimits) -> dict[str, object]:
    """Decode a UTF-8 JSON object within the shape limits, or raise ContentError."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ContentError([Issue(IssueCode.STRUCTURE, "The body is not valid UTF-8.")]) from None
    except RecursionError:
        raise _too_deep(limits) from None
    except json.JSONDecodeError as error:
        # The position is safe to report; the message around it could quote the input.
        raise ContentError(
            [
                Issue(
                    IssueCode.STRUCTURE,
                    f"The body is not well-formed JSON (line {error.lineno}, "
                    f"column {error.colno}).",
                )
            ]
        ) from None
    except ValueError:
        # int() refuses more than 4300 digits (CPython's int_max_str_digits); the number
        # is not repeated.
        raise ContentError(
            [Issue(IssueCode.TOO_LONG, "The body contains a number with too many digits.")]
        ) from None
    if not isinstance(value, dict):
        raise ContentError([Issue(IssueCode.STRUCTURE, "The body must be a JSON object.")])
    check_shape(value, limits)
    return value


def check_shape(value: object, limits: ShapeLimits) -> None:
    """Refuse nesting deeper than max_depth or arrays longer than max_array_length."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            raise _too_deep(limits)
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            if len(node) > limits.max_array_length:
                raise ContentError(
                    [
                        Issue(
                            IssueCode.TOO_LONG,
                            f"An array has more than {limits.max_array_length} elements.",
                        )
                    ]
                )
            stack.extend((child, depth + 1) for child in node)


def _too_deep(limits: ShapeLimits) -> ContentError:
    return ContentError(
        [Issue(IssueCode.STRUCTURE, f"The JSON nests deeper than {limits.max_depth} levels.")]
    )
