"""Turning request bytes into JSON values, refusing shapes no real sender produces.

A 1 MiB body can still nest ten thousand levels deep or carry a million-element array;
both are refused before any model sees them, so validation cost stays bounded. Input
that two readers could read differently is refused too: a key given twice (which value
wins?), NaN/Infinity (not JSON), control characters, which no FHIR string may hold
and which some databases cannot store, and lone UTF-16 surrogates, which no database
can store.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import NoReturn

from core.fhir.issues import ContentError, Issue, IssueCode, element_path

# C0 controls other than tab, LF and CR (FHIR strings allow only those three).
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# A JSON escape such as "\ud800" not part of a surrogate pair decodes to a lone
# surrogate: not a Unicode character, so no database driver can store it (UTF-8 has no
# encoding for it). json.loads joins a proper pair into one character first.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class ShapeLimits:
    max_depth: int = 32
    max_array_length: int = 1000


class _Refused(Exception):
    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.diagnostics)
        self.issue = issue


def parse_json_object(body: bytes, limits: ShapeLimits) -> dict[str, object]:
    """Decode a UTF-8 JSON object within the shape limits, or raise ContentError."""
    try:
        value = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_object_without_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError:
        raise _error(IssueCode.STRUCTURE, "The body is not valid UTF-8.") from None
    except RecursionError:
        raise _too_deep(limits) from None
    except _Refused as refused:
        raise ContentError([refused.issue]) from None
    except json.JSONDecodeError as error:
        # The position is safe to report; the message around it could quote the input.
        raise _error(
            IssueCode.STRUCTURE,
            f"The body is not well-formed JSON (line {error.lineno}, column {error.colno}).",
        ) from None
    except ValueError:
        # int() refuses more than 4300 digits (CPython's int_max_str_digits); the number
        # is not repeated.
        raise _error(
            IssueCode.TOO_LONG, "The body contains a number with too many digits."
        ) from None
    if not isinstance(value, dict):
        raise _error(IssueCode.STRUCTURE, "The body must be a JSON object.")
    check_shape(value, limits)
    return value


def check_shape(value: object, limits: ShapeLimits) -> None:
    """Refuse containers nested deeper than max_depth, arrays longer than
    max_array_length, and strings (values or keys) holding control characters."""
    root = value.get("resourceType") if isinstance(value, dict) else None
    root_name = root if isinstance(root, str) and root.isalpha() else ""
    stack: list[tuple[object, int, tuple[int | str, ...]]] = [(value, 0, ())]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, str):
            _check_text(node, element_path(root_name, where))
            continue
        if not isinstance(node, dict | list):
            continue
        if depth + 1 > limits.max_depth:
            raise _too_deep(limits)
        if isinstance(node, dict):
            for key, child in node.items():
                _check_text(key, element_path(root_name, where))
                stack.append((child, depth + 1, (*where, key)))
        else:
            if len(node) > limits.max_array_length:
                raise _error(
                    IssueCode.TOO_LONG,
                    f"An array has more than {limits.max_array_length} elements.",
                    element_path(root_name, where) or None,
                )
            stack.extend((child, depth + 1, (*where, i)) for i, child in enumerate(node))


def _object_without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused(
            Issue(IssueCode.STRUCTURE, "A JSON object gives the same key more than once.")
        )
    return result


def _refuse_constant(_: str) -> NoReturn:
    raise _Refused(Issue(IssueCode.STRUCTURE, "NaN and Infinity are not JSON numbers."))


def _check_text(text: str, path: str) -> None:
    if _CONTROL_CHARACTER.search(text):
        raise _control_character(path)
    if _LONE_SURROGATE.search(text):
        raise _error(
            IssueCode.VALUE,
            "A string contains a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape that is "
            "not half of a pair), which is not a Unicode character.",
            path or None,
        )


def has_lone_surrogate(text: str) -> bool:
    """For text that did not come through parse_json_object (a JWT's claims)."""
    return _LONE_SURROGATE.search(text) is not None


def _control_character(path: str) -> ContentError:
    return _error(
        IssueCode.VALUE,
        "A string contains a control character (only tab, line feed and carriage return "
        "are allowed).",
        path or None,
    )


def _too_deep(limits: ShapeLimits) -> ContentError:
    return _error(IssueCode.STRUCTURE, f"The JSON nests deeper than {limits.max_depth} levels.")


def _error(code: IssueCode, message: str, expression: str | None = None) -> ContentError:
    return ContentError([Issue(code, message, expression)])
