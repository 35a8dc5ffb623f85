"""The files in deploy/ agree with the gateway: every GATEWAY_* they name is a real
setting, the image runs as a numeric non-root user on its own venv, the Kubernetes
workloads keep the restricted security context, and the image's run-time lock is the
gateway's requirements and nothing of its tools."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from gateway.platform.settings import Settings
from tests.paths import REPO

DEPLOY = REPO / "deploy"
CONTAINERFILE = DEPLOY / "Containerfile"


def _text_files() -> list[Path]:
    return [
        path
        for path in sorted(DEPLOY.rglob("*"))
        if path.is_file() and path.suffix not in {".lock", ".pyc"} and "secrets" not in path.parts
    ]


def test_every_gateway_variable_named_in_deploy_is_a_setting() -> None:
    settings = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    named: dict[str, set[str]] = {}
    for path in [*_text_files(), REPO / "docs" / "deploy.md"]:
        for variable in re.findall(r"\bGATEWAY_[A-Z0-9_]*[A-Z0-9]\b", path.read_text("utf-8")):
            named.setdefault(variable, set()).add(str(path.relative_to(REPO)))
    assert named
    unknown = {variable: where for variable, where in named.items() if variable not in settings}
    assert not unknown


def test_the_image_runs_the_gateway_as_a_numeric_non_root_user() -> None:
    text = CONTAINERFILE.read_text("utf-8")
    final = text.rsplit("\nFROM ", 1)[1]
    user = re.findall(r"^USER (\S+)$", final, flags=re.MULTILINE)
    assert user == ["10001:10001"]
    assert re.search(r'^ENTRYPOINT \["gateway"\]$', final, flags=re.MULTILINE)
    assert re.search(r'^CMD \["serve"\]$', final, flags=re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "/healthz" in final
    # Only the venv comes from the build stage: no compilers, caches or sources.
    assert re.findall(r"^COPY .*$", final, flags=re.MULTILINE) == [
        "COPY --from=build /opt/gateway /opt/gateway"
    ]
    assert "--require-hashes" in text
    assert text.startswith("#")
    assert "ARG BASE_IMAGE=python:3.11-slim" in text


def _kubernetes_documents() -> list[dict[str, object]]:
    documents = []
    for path in sorted((DEPLOY / "kubernetes").rglob("*.yaml")):
        if path.name == "kustomization.yaml" or "patches" in path.parts:
            continue
        documents += [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]
    return documents


def _pod_spec(document: dict[str, object]) -> dict[str, object] | None:
    spec = document.get("spec")
    if document.get("kind") not in {"Deployment", "StatefulSet", "Job"}:
        return None
    assert isinstance(spec, dict)
    pod = spec["template"]["spec"]
    assert isinstance(pod, dict)
    return pod


def test_every_workload_keeps_the_restricted_security_context() -> None:
    workloads = [pod for doc in _kubernetes_documents() if (pod := _pod_spec(doc)) is not None]
    assert len(workloads) >= 4  # serve, worker, migrate, and the demo's PostgreSQL
    for pod in workloads:
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert {"requests", "limits"} <= set(container["resources"])


def test_gateway_workloads_probe_readiness_and_liveness() -> None:
    serve = next(
        doc
        for doc in _kubernetes_documents()
        if doc["metadata"]["name"] == "gateway-serve" and doc["kind"] == "Deployment"
    )
    pod = _pod_spec(serve)
    assert pod is not None
    [container] = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_compose_runs_the_image_read_only_as_its_user_with_keys_as_secrets() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text("utf-8"))
    gateways = {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "mh-gateway:local"
    }
    assert set(gateways) == {"migrate", "gateway-1", "gateway-2", "worker"}
    for service in gateways.values():
        assert service["read_only"] is True
        assert service["user"] == "10001:10001"
        assert service["cap_drop"] == ["ALL"]
        assert set(service["secrets"]) == {"token-signing-key", "audit-signing-key"}
        assert service["environment"]["GATEWAY_TOKEN_SIGNING_KEY"].startswith("/run/secrets/")
    scrape = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text("utf-8"))
    targets = {
        target
        for job in scrape["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert {"gateway-1:9100", "gateway-2:9100", "worker:9100"} <= targets


def _runtime_lock() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "runtime_lock", DEPLOY / "image" / "runtime_lock.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_images_lock_is_the_gateways_requirements_without_its_tools(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime_lock = _runtime_lock()
    lock = str(REPO / "requirements.lock")
    assert runtime_lock.main(lock, "mh-interface-gateway", "tzdata") == 0
    printed = capsys.readouterr().out
    names = set(re.findall(r"^([a-z0-9-]+)==", printed, flags=re.MULTILINE))
    assert {"fastapi", "uvicorn", "sqlalchemy", "psycopg", "psycopg-binary", "tzdata"} <= names
    assert not names & {"pytest", "mypy", "ruff", "mkdocs", "hypothesis", "schemathesis"}
    # Each entry keeps its hashes, so the image installs it with --require-hashes.
    assert printed.count("--hash=sha256:") >= len(names)
    assert sys.version_info[:2] == (3, 11)
