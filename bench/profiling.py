"""What the benchmarks' cProfile tables share: a profiled function's name, readable."""

from __future__ import annotations

from pathlib import Path

# Where a path is cut, so a name reads as package/module.py:line(function) wherever the
# repository or the interpreter is installed.
_MARKERS = ("/site-packages/", f"{Path(__file__).resolve().parent.parent}/", "/lib/python3.11/")


def function_name(function: tuple[str, int, str]) -> str:
    path, line, name = function
    if path == "~":
        return name
    for marker in _MARKERS:
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})"
