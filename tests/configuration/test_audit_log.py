"""audit-log.yaml is checked at load like every configuration file: a bad entry stops
the start, naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.configuration.audit_log import FileWitness, HttpWitness
from gateway.configuration.loader import load_config
from gateway.platform.errors import ConfigurationError
from tests.access_log.witnessing import deployment, new_key, public_pem, sha256_hex


def _with(tmp_path: Path, **audit_log: object) -> Path:
    return deployment(tmp_path / "config", **audit_log)


def test_witnesses_and_witnessed_logs_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    key = new_key(tmp_path / "k.pem")
    config = load_config(
        _with(
            tmp_path,
            witnesses=[
                {"name": "volume", "file": "/mnt/witness/log.ndjson"},
                {
                    "name": "trust",
                    "url": "https://trust.example/audit/witness",
                    "token_file": str(tmp_path / "token"),
                },
            ],
            witnessing=[
                {
                    "origin": "mh-gateway/trust/audit",
                    "public_key_file": str(public_pem(key, tmp_path / "k.pub")),
                    "token_sha256": sha256_hex("theirs"),
                },
            ],
        )
    ).audit_log
    assert config.witnesses == (
        FileWitness("volume", Path("/mnt/witness/log.ndjson")),
        HttpWitness("trust", "https://trust.example/audit/witness", "s3cret"),
    )
    witnessed = config.witnessed_log("mh-gateway/trust/audit")
    assert witnessed is not None
    assert witnessed.accepts_token("theirs")
    assert not witnessed.accepts_token("s3cret")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"witnesses": [{"name": "x"}]}, "witnesses.0: Value error, a witness is either"),
        (
            {"witnesses": [{"name": "x", "url": "https://w.example"}]},
            "an HTTP witness needs token_file",
        ),
        (
            {"witnesses": [{"name": "x", "url": "https://w.example", "token_file": "nope"}]},
            "witnesses.0.token_file: file is missing",
        ),
        (
            {"witnessing": [{"origin": "o", "public_key_file": "nope", "token_sha256": "0" * 64}]},
            "witnessing.0.public_key_file: file is missing",
        ),
        (
            {"retired_signing_keys": [{"public_key_file": "k.pub", "until_tree_size": 0}]},
            "retired_signing_keys.0.until_tree_size",
        ),
        ({"witnesess": []}, "witnesess"),
    ],
)
def test_a_bad_entry_stops_the_start(
    tmp_path: Path, entries: dict[str, object], message: str
) -> None:
    directory = _with(tmp_path)
    (directory / "audit-log.yaml").write_text(yaml.safe_dump(entries))
    with pytest.raises(ConfigurationError) as refused:
        load_config(directory)
    assert "audit-log.yaml" in refused.value.message
    assert message in refused.value.message
