"""requirements.lock, which `make` installs with --require-hashes: it names every
requirement pyproject.toml makes (runtime, dev and build), at a version the project
allows, and every pin carries hashes."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)")


def _locked() -> dict[str, tuple[Version, int]]:
    """name -> (version, how many hashes)."""
    pins: dict[str, tuple[Version, int]] = {}
    current = ""
    for line in (REPO / "requirements.lock").read_text().splitlines():
        pin = _PIN.match(line)
        if pin:
            current = canonicalize_name(pin.group(1))
            pins[current] = (Version(pin.group(2)), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def test_the_lock_holds_every_requirement_of_pyproject_at_an_allowed_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
        *project["build-system"]["requires"],
    ]
    locked = _locked()
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run make lock"
        version, _ = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), text


def test_every_pin_in_the_lock_carries_hashes() -> None:
    locked = _locked()
    assert len(locked) > 50
    assert not [name for name, (_, hashes) in locked.items() if hashes == 0]
