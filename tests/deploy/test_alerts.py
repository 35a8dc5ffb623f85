"""deploy/prometheus/alerts.yaml names only series a real gateway exports, and every rule
says how bad it is and what it means."""

from __future__ import annotations

import re

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.paths import REPO

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
# Series that are not the gateway's: Prometheus's own, and the blackbox exporter's.
NOT_THE_GATEWAYS = {"up", "probe_success"}


def _rules() -> list[dict[str, object]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _series(expr: str) -> set[str]:
    names = set(re.findall(r"\b([a-z_]+)\s*(?:\{|\)|\s*[<>=!]|\s*$|\[)", expr))
    return {name for name in names if name.startswith("gateway_")}


def test_every_rule_has_a_severity_a_summary_and_a_description() -> None:
    rules = _rules()
    assert len(rules) >= 10
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        labels = rule["labels"]
        annotations = rule["annotations"]
        assert isinstance(labels, dict)
        assert isinstance(annotations, dict)
        assert labels["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", str(rule["for"])), rule["alert"]


def test_the_alerts_cover_what_the_runbook_needs() -> None:
    exprs = " ".join(str(rule["expr"]) for rule in _rules())
    for needed in (
        'gateway_outbox_depth{state="dead"}',
        "gateway_outbox_oldest_age_seconds",
        "gateway_delivery_breaker_state) == 2",
        'gateway_subscriptions{status="error"}',
        "gateway_escalation_deadline_lag_seconds) > 60",
        "gateway_audit_integrity_failures_total",
        'probe_success{job="gateway-readyz"}',
        'up{job="gateway"}',
    ):
        assert needed in exprs


@pytest.mark.usefixtures("database")
def test_every_gateway_series_the_alerts_name_is_exported(anonymous: TestClient) -> None:
    """Against the /metrics of a real app (dev serves it on the API's port), on both
    databases: a renamed metric would leave an alert that never fires."""
    text = anonymous.get("/metrics").text
    exported = set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))
    named: set[str] = set()
    for rule in _rules():
        named |= _series(str(rule["expr"]))
    assert named, "the alerts name no gateway series"
    assert named <= exported, sorted(named - exported)
    # And nothing else is read as if it were the gateway's.
    others = set(re.findall(r"\b(up|probe_[a-z_]+)\{", " ".join(str(r["expr"]) for r in _rules())))
    assert others <= NOT_THE_GATEWAYS
