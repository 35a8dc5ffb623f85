from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.access_log import verify as verify_module
from gateway.access_log.checkpoint import (
    Checkpoint,
    SignedCheckpoint,
    public_key_map,
    sign_checkpoint,
)
from gateway.access_log.merkle import TreeBuilder, frontier_nodes, leaf_hash, node_leaves
from gateway.access_log.verify import LogEntry, Report, main, verify_log

ORIGIN = "gateway.example.nhs.uk/audit"
KEY = Ed25519PrivateKey.generate()
KEYS = public_key_map(ORIGIN, [KEY.public_key()])
T0 = datetime(2025, 1, 1, tzinfo=UTC)
SIZES = (10, 25, 50, 80)  # then 20 events no checkpoint covers yet
EVENTS = [
    json.dumps({"id": i, "patient": f"943 476 {i:04d}"}, separators=(",", ":")).encode()
    for i in range(100)
]


def root_of(events: Sequence[bytes]) -> bytes:
    builder = TreeBuilder()
    builder.extend(leaf_hash(event) for event in events)
    return builder.root()


def sign_at(
    size: int,
    when: datetime,
    *,
    key: Ed25519PrivateKey = KEY,
    origin: str = ORIGIN,
    events: Sequence[bytes] = EVENTS,
) -> SignedCheckpoint:
    return sign_checkpoint(Checkpoint(origin, size, root_of(events[:size]), when), key, ORIGIN)


CHECKPOINTS = [sign_at(size, T0 + timedelta(minutes=i)) for i, size in enumerate(SIZES)]


def entries(events: Sequence[bytes], *, recorded: bool = False, start: int = 0) -> list[LogEntry]:
    return [(start + i, e, leaf_hash(e) if recorded else None) for i, e in enumerate(events)]


def verify(
    log: Sequence[LogEntry], checkpoints: Sequence[SignedCheckpoint] = CHECKPOINTS, **options: Any
) -> Report:
    return verify_log(log, checkpoints, KEYS, origin=ORIGIN, **options)


def failed_at(report: Report, position: int, problem: str) -> None:
    assert not report.ok
    assert report.first_bad_position == position
    assert report.problem is not None
    assert problem in report.problem


def flip(event: bytes) -> bytes:
    return event[:5] + bytes([event[5] ^ 1]) + event[6:]


def test_an_intact_log_verifies() -> None:
    report = verify(entries(EVENTS, recorded=True))
    assert report == Report(
        ok=True,
        events_checked=100,
        checkpoints_checked=4,
        tree_size=80,
        root_hash=root_of(EVENTS[:80]),
        first_bad_position=None,
        problem=None,
        unattested_events=20,
    )
    assert verify(entries(EVENTS)).ok


def test_a_log_without_checkpoints_verifies_but_attests_nothing() -> None:
    report = verify(entries(EVENTS), [])
    assert (report.ok, report.tree_size, report.root_hash, report.unattested_events) == (
        True,
        0,
        None,
        100,
    )


def test_a_changed_event_fails_its_checkpoint_range() -> None:
    events = [*EVENTS[:30], flip(EVENTS[30]), *EVENTS[31:]]
    failed_at(
        verify(entries(events)),
        25,
        "the events in positions 25..49 do not match checkpoint of size 50",
    )


def test_a_changed_event_fails_its_recorded_leaf_hash() -> None:
    log = entries(EVENTS, recorded=True)
    log[30] = (30, flip(EVENTS[30]), log[30][2])
    report = verify(log)
    failed_at(report, 30, "the event at position 30 does not match its hash")
    assert (report.events_checked, report.checkpoints_checked, report.tree_size) == (30, 2, 25)


def test_a_deleted_event_is_a_gap() -> None:
    log = entries(EVENTS, recorded=True)
    del log[30]
    failed_at(verify(log), 30, "events missing from position 30")


def test_reordered_events() -> None:
    log = entries(EVENTS, recorded=True)
    log[30], log[31] = log[31], log[30]  # the rows swapped
    failed_at(verify(log), 30, "events missing from position 30")
    backwards = [*log[:30], log[31], log[29], *log[32:]]
    failed_at(verify(backwards), 29, "position 29 repeats or is out of order")
    # The content swapped under the positions, with its recorded hashes...
    swapped = [*log[:30], (30, EVENTS[31], log[30][2]), (31, EVENTS[30], log[31][2]), *log[32:]]
    failed_at(verify(swapped), 25, "positions 25..49 do not match checkpoint of size 50")
    # ...or without them.
    swapped = [*log[:30], (30, EVENTS[31], log[31][2]), (31, EVENTS[30], log[30][2]), *log[32:]]
    failed_at(verify(swapped), 30, "the event at position 30 does not match its hash")


def test_an_inserted_event() -> None:
    log = entries(EVENTS, recorded=True)
    forged = b'{"id":30,"patient":"943 476 9999"}'
    failed_at(verify([*log[:31], (30, forged, leaf_hash(forged)), *log[31:]]), 30, "repeats")
    renumbered = entries([*EVENTS[:30], forged, *EVENTS[30:]], recorded=True)
    failed_at(verify(renumbered), 25, "positions 25..49 do not match checkpoint of size 50")


def test_a_truncated_tail() -> None:
    report = verify(entries(EVENTS[:70]))
    failed_at(report, 70, "events missing from position 70")
    assert (report.checkpoints_checked, report.tree_size) == (3, 50)


def test_a_checkpoint_signed_by_another_key() -> None:
    forged = sign_at(50, T0 + timedelta(minutes=2), key=Ed25519PrivateKey.generate())
    checkpoints = [*CHECKPOINTS[:2], forged, *CHECKPOINTS[3:]]
    failed_at(
        verify(entries(EVENTS), checkpoints), 25, "checkpoint of size 50 is not validly signed"
    )


def test_a_checkpoint_for_another_origin() -> None:
    other = sign_at(50, T0 + timedelta(minutes=2), origin="elsewhere.example/audit")
    checkpoints = [*CHECKPOINTS[:2], other, *CHECKPOINTS[3:]]
    failed_at(verify(entries(EVENTS), checkpoints), 25, "checkpoint of size 50 is for another log")


def test_a_checkpoint_dated_before_its_predecessor() -> None:
    earlier = sign_at(50, T0 - timedelta(seconds=1))
    checkpoints = [*CHECKPOINTS[:2], earlier, *CHECKPOINTS[3:]]
    failed_at(verify(entries(EVENTS), checkpoints), 50, "checkpoint of size 50 is dated before")
    same_time = sign_at(50, CHECKPOINTS[1].checkpoint.timestamp)
    assert verify(entries(EVENTS), [*CHECKPOINTS[:2], same_time, *CHECKPOINTS[3:]]).ok


def test_checkpoint_sizes_must_increase() -> None:
    checkpoints = [CHECKPOINTS[0], CHECKPOINTS[2], CHECKPOINTS[1]]
    failed_at(
        verify(entries(EVENTS), checkpoints), 50, "checkpoint of size 25 follows one of size 50"
    )
    repeated = [CHECKPOINTS[0], CHECKPOINTS[1], CHECKPOINTS[1]]
    failed_at(verify(entries(EVENTS), repeated), 25, "size 25 follows one of size 25")


def test_a_log_after_an_archived_prefix_resumes_from_its_frontier() -> None:
    start = 30
    frontier = [
        root_of(EVENTS[n.start : n.stop])
        for n in (node_leaves(f, start) for f in frontier_nodes(start))
    ]
    log = entries(EVENTS[start:], start=start)
    report = verify(log, first_position=start, frontier=frontier)
    assert (report.ok, report.events_checked, report.checkpoints_checked) == (True, 70, 4)
    assert report.unattested_events == 20
    tampered = [frontier[0], flip(frontier[1]), *frontier[2:]]
    failed_at(verify(log, first_position=start, frontier=tampered), 30, "positions 30..49")
    with pytest.raises(ValueError, match="frontier"):
        verify(log, first_position=start)


def test_a_checkpoint_at_the_start_of_an_export_checks_its_frontier() -> None:
    start = 25
    frontier = [
        root_of(EVENTS[n.start : n.stop])
        for n in (node_leaves(f, start) for f in frontier_nodes(start))
    ]
    log = entries(EVENTS[start:], start=start)
    assert verify(log, first_position=start, frontier=frontier).ok
    tampered = [flip(frontier[0]), *frontier[1:]]
    report = verify(log, first_position=start, frontier=tampered)
    failed_at(report, 25, "the tree before position 25 does not match its checkpoint")


def test_progress_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "PROGRESS_INTERVAL", 16)
    seen: list[int] = []
    assert verify(entries(EVENTS), progress=seen.append).ok
    assert seen == [16, 32, 48, 64, 80, 96]


# --- The export directory and the command. ---------------------------------------------


def pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def write_export(
    directory: Path,
    events: Sequence[bytes] = EVENTS,
    checkpoints: Sequence[SignedCheckpoint] = CHECKPOINTS,
    **manifest: Any,
) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "events.ndjson").write_bytes(b"".join(event + b"\n" for event in events))
    lines = [json.dumps(c.to_json(), separators=(",", ":")) + "\n" for c in checkpoints]
    (directory / "checkpoints.ndjson").write_text("".join(lines))
    (directory / "public-keys.pem").write_bytes(pem(KEY))
    content = {
        "format": "mh-gateway-audit-export/1",
        "origin": ORIGIN,
        "first_position": 0,
        "event_count": len(events),
        "exported_at": "2025-01-01T00:10:00.000000Z",
        **manifest,
    }
    (directory / "manifest.json").write_text(json.dumps(content))
    return directory


def run_main(
    directory: Path, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, str, str]:
    code = main([str(directory), *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_main_verifies_an_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(write_export(tmp_path), capsys)
    assert code == 0, err
    assert out == (
        f"OK: 100 events, 4 checkpoints, tree size 80, root {root_of(EVENTS[:80]).hex()}, "
        "20 events after the latest checkpoint\n"
    )


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([*EVENTS[:30], flip(EVENTS[30]), *EVENTS[31:]], "25: the events in positions 25..49"),
        ([*EVENTS[:30], *EVENTS[31:]], "25: the events in positions 25..49"),
        (
            [*EVENTS[:30], EVENTS[31], EVENTS[30], *EVENTS[32:]],
            "25: the events in positions 25..49",
        ),
        ([*EVENTS[:30], b'{"id":"x"}', *EVENTS[30:]], "25: the events in positions 25..49"),
        (EVENTS[:70], "70: events missing from position 70"),
    ],
    ids=["changed", "deleted", "reordered", "inserted", "truncated"],
)
def test_main_reports_tampering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], events: list[bytes], expected: str
) -> None:
    code, out, _ = run_main(write_export(tmp_path, events, event_count=100), capsys)
    assert code == 1
    assert out.startswith(f"FAILED at position {expected}")
    assert "943 476" not in out  # never event content


def test_main_compares_the_event_count_with_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(write_export(tmp_path, EVENTS[:90], event_count=100), capsys)
    assert (code, out) == (
        1,
        "FAILED at position 90: events missing from position 90 (the manifest lists 100)\n",
    )
    code, out, _ = run_main(write_export(tmp_path, EVENTS, event_count=95), capsys)
    assert code == 1
    assert out.startswith("FAILED at position 95:")


def test_main_uses_trusted_keys_when_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_export(tmp_path / "export")
    other = tmp_path / "trusted.pem"
    other.write_bytes(pem(Ed25519PrivateKey.generate()))
    code, out, _ = run_main(export, capsys, "--public-keys", str(other))
    assert code == 1
    assert (
        out == "FAILED at position 0: checkpoint of size 10 is not validly signed by a known key\n"
    )


def test_main_shows_progress_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "PROGRESS_INTERVAL", 32)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run_main(write_export(tmp_path), capsys)
    assert code == 0
    assert "\r96 events verified" in err


def break_manifest(directory: Path) -> None:
    (directory / "manifest.json").write_text("{")


def drop_keys(directory: Path) -> None:
    (directory / "public-keys.pem").unlink()


def no_final_newline(directory: Path) -> None:
    path = directory / "events.ndjson"
    path.write_bytes(path.read_bytes()[:-1])


def bad_checkpoint(directory: Path) -> None:
    with (directory / "checkpoints.ndjson").open("a") as file:
        file.write('{"origin": "x"}\n')


def wrong_format(directory: Path) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(json.dumps({**manifest, "format": "other/1"}))


def missing_frontier(directory: Path) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(json.dumps({**manifest, "first_position": 5}))


@pytest.mark.parametrize(
    "damage",
    [break_manifest, drop_keys, no_final_newline, bad_checkpoint, wrong_format, missing_frontier],
)
def test_main_refuses_a_malformed_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Any
) -> None:
    export = write_export(tmp_path)
    damage(export)
    code, out, err = run_main(export, capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"cannot verify {export}: ")
    assert err.count("\n") == 1


def test_main_refuses_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(tmp_path / "absent", capsys)
    assert code == 2
    assert "Traceback" not in err


def run_module(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-m", "gateway.access_log.verify", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_module_runs_isolated_with_exit_codes_0_1_2(tmp_path: Path) -> None:
    good = run_module(write_export(tmp_path / "good"))
    assert (good.returncode, good.stderr) == (0, "")
    assert good.stdout.startswith("OK: 100 events")
    bad = run_module(write_export(tmp_path / "bad", EVENTS[:70], event_count=100))
    assert bad.returncode == 1
    assert bad.stdout.startswith("FAILED at position 70")
    missing = run_module(tmp_path / "absent")
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    program = (
        "import sys; before = set(sys.modules); import gateway.access_log.verify; "
        "print(*sorted(set(sys.modules) - before))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", program], capture_output=True, text=True, check=True
    )
    imported = result.stdout.split()
    third_party = {name.split(".")[0] for name in imported} - set(sys.stdlib_module_names)
    # _openssl and _cffi_backend are cryptography's own bindings.
    assert third_party == {"gateway", "cryptography", "_openssl", "_cffi_backend"}
    assert {name for name in imported if name.startswith("gateway")} == {
        "gateway",
        "gateway.access_log",
        "gateway.access_log.merkle",
        "gateway.access_log.checkpoint",
        "gateway.access_log.verify",
    }


def test_report_is_frozen() -> None:
    report = verify(entries(EVENTS))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.ok = False  # type: ignore[misc]
