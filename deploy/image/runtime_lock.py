"""Print the part of requirements.lock that the gateway needs at run time.

requirements.lock pins, with their hashes, everything the gateway, its tests and its
docs need; the image wants only what `gateway` imports. Run with the interpreter of a
venv where the whole lock and the project are installed (the image's build stage): it
walks the project's requirements (its own, no extras) through the installed
distributions' metadata, markers evaluated for this interpreter, and prints the lock's
entries for the distributions reached, hashes and all, so that the final venv is
installed with `pip install --require-hashes --no-deps` from the same pins.

    python runtime_lock.py requirements.lock mh-interface-gateway [ALSO ...] > runtime.lock

ALSO: distributions to add, with what they require (the image adds tzdata: the gateway
reads the IANA time zones, Europe/London, and a base image need not have them).
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(root: str, *also: str) -> set[str]:
    seen: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(name, frozenset()) for name in (root, *also)]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise SystemExit(f"runtime_lock: {name} is not installed") from None
        seen.add(key)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            child = canonicalize_name(req.name)
            if child not in seen or req.extras:
                todo.append((req.name, frozenset(req.extras)))
    return seen - {canonicalize_name(root)}


def entries(lock_text: str) -> dict[str, str]:
    """The lock's entries by distribution name: each `name==version \\` line with its
    hash lines (comments dropped)."""
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock_text):
        head = block.split("==", 1)[0].strip()
        if not head or head.startswith("#") or "==" not in block:
            continue
        lines = [line for line in block.splitlines() if not line.strip().startswith("#")]
        found[canonicalize_name(head)] = "\n".join(lines)
    return found


def main(lock_path: str, root: str, *also: str) -> int:
    with open(lock_path, encoding="utf-8") as lock:
        locked = entries(lock.read())
    needed = closure(root, *also)
    missing = sorted(needed - locked.keys())
    if missing:
        print(f"runtime_lock: not in {lock_path}: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"# The run-time part of {lock_path}, for {root} (deploy/image/runtime_lock.py)")
    for name in sorted(needed):
        print(locked[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
