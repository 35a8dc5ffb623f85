"""The hazard log, read from YAML into checked values.

Every problem is reported as a `HazardLogError` naming the file and the field
(`hazards[2] (H03).residual.likelihood`), so whoever edits the log is sent to the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from safety_case.matrix import UNACCEPTABLE_FROM, Consequence, Likelihood, rating

NODE_ID = re.compile(r"^tests/[\w/]+\.py(::\w+)+$")
DOCUMENT = re.compile(r"^[\w./-]+\.(md|yaml|txt)(#[\w-]+)?$")
HAZARD_ID = re.compile(r"^H\d{2,3}$")
ISSUE = re.compile(r"^issue \d+$")


class HazardLogError(Exception):
    """The hazard log is malformed: the file, the field and what is wrong with it."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}")
        self.path = str(path)
        self.field = field
        self.problem = problem


class Status(Enum):
    """A hazard's status, in the DCB0129 Implementation Guidance's own vocabulary."""

    OPEN = "open"  # the manufacturer still has actions to complete
    TRANSFERRED = "transferred"  # the manufacturer's are done; the deployer's are not
    CLOSED = "closed"  # every action is complete


class Kind(Enum):
    """The kinds of control the guidance's hazard log template names."""

    DESIGN = "design"
    TEST = "test"
    TRAINING = "training"
    BUSINESS_PROCESS = "business process change"


class Owner(Enum):
    """Who carries a control: the manufacturer (DCB0129) or the deploying Trust (DCB0160)."""

    MANUFACTURER = "manufacturer"
    DEPLOYER = "deployer"


@dataclass(frozen=True)
class Assessment:
    likelihood: Likelihood
    consequence: Consequence
    rating: int


@dataclass(frozen=True)
class Control:
    kind: Kind
    owner: Owner
    summary: str
    tests: tuple[str, ...]
    documents: tuple[str, ...]
    pending: str | None  # evidence being built now; the log cannot be released with it


@dataclass(frozen=True)
class Hazard:
    id: str
    title: str
    status: Status
    description: str
    causes: tuple[str, ...]
    effects: tuple[str, ...]
    initial: Assessment
    residual: Assessment
    mitigated_by: tuple[str, ...]
    controls: tuple[Control, ...]


@dataclass(frozen=True)
class HazardLog:
    path: str
    system: str
    version: str
    reviewed: str
    scope: str
    intended_use: str
    hazards: tuple[Hazard, ...]


E = TypeVar("E", bound=Enum)


class _Reader:
    """Reads one mapping of the YAML, naming each field by its path when it is wrong."""

    def __init__(self, path: Path, field: str, value: object) -> None:
        if not isinstance(value, dict):
            raise HazardLogError(path, field or "(top level)", "must be a mapping")
        self.path = path
        self.field = field
        self.value: dict[str, Any] = value

    def name(self, key: str) -> str:
        return f"{self.field}.{key}" if self.field else key

    def fail(self, key: str, problem: str) -> HazardLogError:
        return HazardLogError(self.path, self.name(key), problem)

    def text(self, key: str, *, required: bool = True) -> str:
        value = self.value.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be non-empty text")
        return value.strip()

    def texts(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        value = self.value.get(key)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or (required and not value):
            raise self.fail(key, "must be a non-empty list" if required else "must be a list")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{key}[{index}]", "must be non-empty text")
        return tuple(item.strip() for item in value)

    def choice(self, key: str, enum: type[E]) -> E:
        value = self.value.get(key)
        for member in enum:
            if member.value == value:
                return member
        allowed = ", ".join(str(member.value) for member in enum)
        raise self.fail(key, f"{value!r} is not one of: {allowed}")

    def mapping(self, key: str) -> _Reader:
        return _Reader(self.path, self.name(key), self.value.get(key))

    def items(self, key: str) -> list[_Reader]:
        value = self.value.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list")
        return [_Reader(self.path, f"{self.name(key)}[{i}]", item) for i, item in enumerate(value)]

    def unknown_keys(self, known: set[str]) -> None:
        for key in self.value:
            if key not in known:
                raise self.fail(
                    str(key), f"is not a field here (known: {', '.join(sorted(known))})"
                )


def load(path: Path) -> HazardLog:
    """Read and check the hazard log at `path`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(parse)"
        raise HazardLogError(path, where, "is not valid YAML") from None
    top = _Reader(path, "", raw)
    top.unknown_keys({"system", "version", "reviewed", "scope", "intended_use", "hazards"})
    reviewed = top.value.get("reviewed")
    hazards = tuple(_hazard(reader) for reader in top.items("hazards"))
    seen: set[str] = set()
    for index, hazard in enumerate(hazards):
        if hazard.id in seen:
            raise HazardLogError(path, f"hazards[{index}].id", f"{hazard.id} appears twice")
        seen.add(hazard.id)
    return HazardLog(
        path=str(path),
        system=top.text("system"),
        version=top.text("version"),
        reviewed=str(reviewed) if reviewed else top.text("reviewed"),
        scope=top.text("scope"),
        intended_use=top.text("intended_use"),
        hazards=hazards,
    )


def _hazard(reader: _Reader) -> Hazard:
    identifier = reader.text("id")
    if not HAZARD_ID.match(identifier):
        raise reader.fail("id", f"{identifier!r} is not of the form H01")
    reader.field = f"{reader.field} ({identifier})"
    reader.unknown_keys(
        {
            "id", "title", "status", "description", "causes", "effects",
            "initial", "residual", "mitigated_by", "controls",
        }
    )  # fmt: skip
    initial = _assessment(reader.mapping("initial"))
    residual = _assessment(reader.mapping("residual"))
    if residual.rating > initial.rating:
        raise reader.fail("residual.rating", "is higher than the initial rating")
    if residual.rating >= UNACCEPTABLE_FROM:
        raise reader.fail(
            "residual.rating", f"{residual.rating} is not acceptable: the hazard needs controls"
        )
    mitigated_by = reader.texts("mitigated_by")
    for index, issue in enumerate(mitigated_by):
        if not ISSUE.match(issue):
            raise reader.fail(f"mitigated_by[{index}]", f"{issue!r} is not of the form 'issue 7'")
    return Hazard(
        id=identifier,
        title=reader.text("title"),
        status=reader.choice("status", Status),
        description=reader.text("description"),
        causes=reader.texts("causes"),
        effects=reader.texts("effects"),
        initial=initial,
        residual=residual,
        mitigated_by=mitigated_by,
        controls=tuple(_control(item) for item in reader.items("controls")),
    )


def _assessment(reader: _Reader) -> Assessment:
    reader.unknown_keys({"likelihood", "consequence", "rating"})
    likelihood = reader.choice("likelihood", Likelihood)
    consequence = reader.choice("consequence", Consequence)
    stated = reader.value.get("rating")
    expected = rating(likelihood, consequence)
    if stated != expected:
        raise reader.fail(
            "rating",
            f"{stated!r} is not what the DCB0129 matrix gives for "
            f"{likelihood.value} likelihood and {consequence.value} consequence ({expected})",
        )
    return Assessment(likelihood, consequence, expected)


def _control(reader: _Reader) -> Control:
    reader.unknown_keys({"kind", "owner", "summary", "tests", "documents", "pending"})
    tests = reader.texts("tests", required=False)
    for index, node_id in enumerate(tests):
        if "[" in node_id:
            raise reader.fail(
                f"tests[{index}]",
                f"{node_id!r}: name the test without its [parameters], so every "
                "parametrisation (both databases) is the evidence",
            )
        if not NODE_ID.match(node_id):
            raise reader.fail(f"tests[{index}]", f"{node_id!r} is not a pytest node id")
    documents = reader.texts("documents", required=False)
    for index, document in enumerate(documents):
        if not DOCUMENT.match(document):
            raise reader.fail(f"documents[{index}]", f"{document!r} is not a document path")
    pending = reader.text("pending", required=False) or None
    owner = reader.choice("owner", Owner)
    if not tests and pending is None and (owner is Owner.MANUFACTURER or not documents):
        raise reader.fail(
            "tests",
            "a manufacturer's control names the tests that prove it (or is marked pending); "
            "a deployer's names at least the document that tells the deployer what to do",
        )
    return Control(
        kind=reader.choice("kind", Kind),
        owner=owner,
        summary=reader.text("summary"),
        tests=tests,
        documents=documents,
        pending=pending,
    )
