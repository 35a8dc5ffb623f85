"""Reading a configuration directory; a bad file stops the start, naming file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gateway.access_log.keys import sqlite_directory_holding
from gateway.auth.client_keys import JWKSError, parse_jwks
from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import ScopeSet
from gateway.configuration.agreements import AgreementEntry
from gateway.configuration.audit_log import AuditLogConfig, AuditLogEntries, resolve
from gateway.configuration.endpoints import Endpoint, Endpoints
from gateway.configuration.ladders import Ladders
from gateway.configuration.models import (
    ClientEntry,
    Clients,
    Deployment,
    Directory,
    GatewayConfig,
)
from gateway.configuration.pathways import PathwaysConfig
from gateway.configuration.published_keys import refuse_published_keys
from gateway.platform.errors import ConfigurationError
from gateway.platform.logging import get_logger
from gateway.platform.settings import Settings

log = get_logger(__name__)

_Model = TypeVar("_Model", bound=BaseModel)


def load_config(directory: Path) -> GatewayConfig:
    if not directory.is_dir():
        raise ConfigurationError(f"configuration directory {directory} does not exist")
    deployment = _load(directory / "deployment.yaml", Deployment)
    organisations = _load(directory / "organisations.yaml", Directory)
    pathways = _pathways(directory / "pathways.yaml", organisations)
    clients_file = directory / "clients.yaml"
    # No clients.yaml: nobody can get a token; the API answers 401 to every call.
    entries = _load(clients_file, Clients).clients if clients_file.exists() else ()
    known = {organisation.ods for organisation in organisations.organisations}
    clients = tuple(
        _registered(clients_file, index, entry, known) for index, entry in enumerate(entries)
    )
    agreements = _agreements(directory / "agreements", known)
    endpoints = _endpoints(directory / "endpoints.yaml", known)
    ladders = _ladders(directory / "ladders.yaml", known, pathways, endpoints)
    return GatewayConfig(
        deployment,
        organisations,
        pathways,
        clients=clients,
        agreement_entries=agreements,
        endpoints=endpoints,
        ladders=ladders,
        audit_log=_audit_log(directory / "audit-log.yaml"),
    )


def _audit_log(path: Path) -> AuditLogConfig:
    """audit-log.yaml; without it no witnesses, and no keys retired."""
    if not path.exists():
        return AuditLogConfig()
    return resolve(path, _load(path, AuditLogEntries))


def _endpoints(path: Path, known_organisations: set[str]) -> Endpoints:
    """endpoints.yaml; without it nothing is pushed (every receiver pulls)."""
    if not path.exists():
        return Endpoints()
    endpoints = _load(path, Endpoints)
    resolved = []
    for index, endpoint in enumerate(endpoints.endpoints):
        if endpoint.ods not in known_organisations:
            raise ConfigurationError(
                f"{path}: endpoints.{index}.ods: not an organisation in organisations.yaml"
            )
        resolved.append(_with_key_files(path, index, endpoint))
    return Endpoints(endpoints=tuple(resolved))


def _ladders(
    path: Path, known_organisations: set[str], pathways: PathwaysConfig, endpoints: Endpoints
) -> Ladders:
    """ladders.yaml; without it no escalation has a ladder (its respond-by is still
    watched). Each ladder's receiver, pathway and locality must be configured, and every
    level must have a contact: here, or (for one release) in endpoints.yaml. (A pathway
    is one the dataset knows, which the model checks.)"""
    if any(endpoint.contacts for endpoint in endpoints.endpoints):
        log.warning(
            "config.endpoint_contacts_deprecated",
            file=str(path.parent / "endpoints.yaml"),
            advice="move each level's contact to ladders.yaml; endpoints.yaml contacts "
            "are read for one more release",
        )
    if not path.exists():
        return Ladders()
    ladders = _load(path, Ladders)
    resolved = []
    for index, ladder in enumerate(ladders.ladders):
        where = f"{path}: ladders.{index}"
        if ladder.receiver not in known_organisations:
            raise ConfigurationError(f"{where}.receiver: not an organisation in organisations.yaml")
        if ladder.locality != "*" and ladder.locality not in pathways.localities:
            raise ConfigurationError(
                f"{where}.locality: not one of the localities in pathways.yaml"
            )
        endpoint = next((e for e in endpoints.endpoints if e.ods == ladder.receiver), None)
        levels = []
        for number, level in enumerate(ladder.levels):
            contact = level.contact
            if contact is None and endpoint is not None:
                contact = endpoint.contacts.get(level.level)
            if contact is None or contact.telephone is None:
                raise ConfigurationError(
                    f"{where}.levels.{number}.contact: every step of a ladder needs someone "
                    "to call (a name, and a telephone number)"
                )
            levels.append(level.model_copy(update={"contact": contact}))
        resolved.append(ladder.model_copy(update={"levels": tuple(levels)}))
    return Ladders(ladders=tuple(resolved))


def _with_key_files(path: Path, index: int, endpoint: Endpoint) -> Endpoint:
    """Key and certificate files, relative to the configuration directory, must exist."""
    auth = endpoint.authentication
    parts: dict[str, Any] = {}
    for name, part in (("smart", auth.smart), ("mtls", auth.mtls)):
        if part is None:
            continue
        files: dict[str, Path] = {}
        for field_name, value in part:
            if isinstance(value, Path):
                located = (path.parent / value).resolve()
                if not located.is_file():
                    raise ConfigurationError(
                        f"{path}: endpoints.{index}.authentication.{name}.{field_name}: "
                        "file is missing"
                    )
                files[field_name] = located
        parts[name] = part.model_copy(update=files)
    return endpoint.model_copy(update={"authentication": auth.model_copy(update=parts)})


def _pathways(path: Path, organisations: Directory) -> PathwaysConfig:
    """pathways.yaml is required: without a referral checklist no handover can be
    checked, so none could be accepted."""
    if not path.exists():
        raise ConfigurationError(
            f"{path}: file is missing (the referral checklists, input limits, localities "
            "and decline reasons; see config/demo/pathways.yaml)"
        )
    pathways = _load(path, PathwaysConfig)
    for index, organisation in enumerate(organisations.organisations):
        if organisation.locality is not None and organisation.locality not in pathways.localities:
            raise ConfigurationError(
                f"{path.parent / 'organisations.yaml'}: organisations.{index}.locality: "
                f"not one of the localities in {path.name}"
            )
    return pathways


def _agreements(folder: Path, known_organisations: set[str]) -> tuple[AgreementEntry, ...]:
    """agreements/*.yaml, one agreement per file. No folder: no agreements, so nothing is
    shared between organisations (deny by default)."""
    if not folder.is_dir():
        return ()
    entries: list[AgreementEntry] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")):
        entry = _load(path, AgreementEntry)
        for index, party in enumerate(entry.parties):
            if party.ods not in known_organisations:
                raise ConfigurationError(
                    f"{path}: parties.{index}.ods: not an organisation in organisations.yaml"
                )
        if entry.id in seen:
            raise ConfigurationError(f"{path}: id: {entry.id} is also the id in {seen[entry.id]}")
        seen[entry.id] = path
        entries.append(entry)
    return tuple(entries)


def check_settings(settings: Settings, config: GatewayConfig) -> None:
    """Refuse combinations that must never reach production."""
    if settings.env == "prod" and config.deployment.demo:
        raise ConfigurationError(
            f"{settings.config_dir} is a demo deployment (published keys, sample data); "
            "GATEWAY_ENV=prod refuses it. Point GATEWAY_CONFIG_DIR at your deployment."
        )
    if settings.env == "prod":
        refuse_published_keys(config.clients)
    if settings.env == "prod" and not settings.public_base_url:
        # Otherwise the token endpoint's audience (and every link) would come from the
        # request's Host header, which the client chooses.
        raise ConfigurationError(
            "GATEWAY_ENV=prod needs GATEWAY_PUBLIC_BASE_URL: the URL clients use for this "
            "gateway, which client assertions must name as their audience"
        )
    if settings.env == "prod" and settings.audit_signing_key_fd is None:
        store = sqlite_directory_holding(settings.audit_signing_key, settings.database_url)
        if store is not None:
            raise ConfigurationError(
                f"GATEWAY_AUDIT_SIGNING_KEY is inside {store}, the SQLite store's directory: "
                "GATEWAY_ENV=prod refuses a checkpoint-signing key kept with the log it "
                "vouches for. Keep it on another volume, or pass it as "
                "GATEWAY_AUDIT_SIGNING_KEY_FD"
            )


def _registered(
    path: Path, index: int, entry: ClientEntry, known_organisations: set[str]
) -> RegisteredClient:
    where = f"{path}: clients.{index}"
    if entry.organisation not in known_organisations:
        raise ConfigurationError(f"{where}.organisation: not an organisation in organisations.yaml")
    jwks = entry.jwks if entry.jwks is not None else _jwks_file(path, index, entry)
    try:
        keys = parse_jwks(jwks)
    except JWKSError as error:
        raise ConfigurationError(f"{where}.jwks: {error}") from None
    rate = entry.rate_limit
    return RegisteredClient(
        client_id=entry.client_id,
        organisation=entry.organisation,
        role=entry.role,
        purpose_of_use=entry.purpose_of_use,
        allowed_scopes=ScopeSet.parse(entry.scopes),
        keys=keys,
        certificate_sha256=entry.certificate_sha256,
        rate_per_second=rate.per_second if rate else None,
        rate_burst=rate.burst if rate else None,
        other_purposes_of_use=frozenset(entry.other_purposes_of_use),
        access_log=entry.access_log,
    )


def _jwks_file(path: Path, index: int, entry: ClientEntry) -> dict[str, Any]:
    assert entry.jwks_file is not None
    location = (path.parent / entry.jwks_file).resolve()
    try:
        data: Any = json.loads(location.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: clients.{index}.jwks_file: file is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigurationError(f"{location}: not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{location}: a JWKS is a JSON object")
    return data


def _load(path: Path, model: type[_Model]) -> _Model:
    try:
        # libyaml's parser (PyYAML's wheels carry it): the same documents, ten times faster,
        # and configuration is read at every start and reload.
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: file is missing") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(f"{path}{where}: not valid YAML") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigurationError(f"{path}: {field}: {first['msg']}") from None
