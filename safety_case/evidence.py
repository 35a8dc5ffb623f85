"""Which pytest node ids exist, found by reading the test modules, not by running them.

Parsing with `ast` takes milliseconds and needs no database: it finds what pytest's
default collection would (module-level `test*` functions, `test*` methods of `Test*`
classes without an `__init__`, nested classes), which is all this repository writes.
A node id is named without its `[parameters]`, so it stands for every parametrisation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

_ANCHOR_NOISE = re.compile(r"[^\w\- ]")


def collected_ids(module: Path, relative_to: Path) -> set[str]:
    """The node ids (without parameters) that pytest collects from one test module."""
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    prefix = module.relative_to(relative_to).as_posix()
    return set(_collect(tree.body, prefix))


def _collect(body: list[ast.stmt], prefix: str) -> Iterable[str]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name.startswith("test"):
                yield f"{prefix}::{node.name}"
        elif isinstance(node, ast.ClassDef) and _is_test_class(node):
            yield from _collect(node.body, f"{prefix}::{node.name}")


def _is_test_class(node: ast.ClassDef) -> bool:
    # pytest collects a Test* class only when it has no __init__.
    has_init = any(
        isinstance(item, ast.FunctionDef) and item.name == "__init__" for item in node.body
    )
    return node.name.startswith("Test") and not has_init


def missing_tests(node_ids: Iterable[str], root: Path) -> list[str]:
    """The node ids, of those given, that no test module under `root` defines."""
    wanted = sorted(set(node_ids))
    found: dict[str, set[str]] = {}
    missing = []
    for node_id in wanted:
        file = node_id.split("::", 1)[0]
        if file not in found:
            module = root / file
            is_test_module = module.is_file() and module.name.startswith("test_")
            found[file] = collected_ids(module, root) if is_test_module else set()
        if node_id not in found[file]:
            missing.append(node_id)
    return missing


def missing_documents(documents: Iterable[str], root: Path) -> list[str]:
    """The documents (`path` or `path#anchor`), of those given, that are not in the tree."""
    missing = []
    for document in sorted(set(documents)):
        file, _, anchor = document.partition("#")
        path = root / file
        if not path.is_file() or (anchor and anchor not in heading_anchors(path)):
            missing.append(document)
    return missing


def heading_anchors(markdown: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (lower case, punctuation gone)."""
    anchors = set()
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(_ANCHOR_NOISE.sub("", title).replace(" ", "-"))
    return anchors
