"""Loading a configuration directory: a bad file stops the start, naming file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from gateway.auth.scopes import Interaction
from gateway.configuration.loader import load_config
from gateway.platform.errors import ConfigurationError
from tests.conftest import DEMO_CONFIG


def _write(directory: Path, organisations: str, deployment: str = "name: test\n") -> Path:
    (directory / "deployment.yaml").write_text(deployment)
    (directory / "organisations.yaml").write_text(organisations)
    # Required: without the referral checklists no handover could be accepted.
    (directory / "pathways.yaml").write_text((DEMO_CONFIG / "pathways.yaml").read_text())
    return directory


def test_the_demo_configuration_loads() -> None:
    config = load_config(DEMO_CONFIG)
    assert config.deployment.demo is True
    assert {o.ods for o in config.directory.organisations} == {"AZZ", "RZZ"}


def test_a_bad_ods_code_names_the_file_and_field(tmp_path: Path) -> None:
    _write(tmp_path, "organisations:\n  - {ods: rzz, name: T, role: trust}\n")
    with pytest.raises(ConfigurationError) as raised:
        load_config(tmp_path)
    assert "organisations.yaml" in raised.value.message
    assert "organisations.0.ods" in raised.value.message


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "organisations:\n  - {ods: RZZ, name: T, role: trust, colour: red}\n")
    with pytest.raises(ConfigurationError, match="colour"):
        load_config(tmp_path)


def test_duplicate_ods_codes_are_refused(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "organisations:\n"
        "  - {ods: RZZ, name: A, role: trust}\n"
        "  - {ods: RZZ, name: B, role: trust}\n",
    )
    with pytest.raises(ConfigurationError, match="only once"):
        load_config(tmp_path)


def test_the_demo_organisations_have_call_back_numbers() -> None:
    directory = load_config(DEMO_CONFIG).directory
    provider = directory.organisation("AZZ")
    assert provider is not None
    assert provider.telephone == "01632 960200"
    assert provider.contact_name == "Community Recovery Team North duty worker"
    trust = directory.organisation("RZZ")
    assert trust is not None
    # Ofcom's drama numbers only: never a real line.
    assert trust.telephone is not None
    assert trust.telephone.startswith("01632 960")
    assert directory.organisation("QQQ") is None


@pytest.mark.parametrize(
    "telephone", ["01632 960200", "+44 1632 960200", "(01632) 960-200", "0163296020"]
)
def test_an_organisations_telephone_reads_as_a_number(tmp_path: Path, telephone: str) -> None:
    _write(
        tmp_path,
        f"organisations:\n  - {{ods: RZZ, name: T, role: trust, telephone: '{telephone}'}}\n",
    )
    (organisation,) = load_config(tmp_path).directory.organisations
    assert organisation.telephone == telephone
    assert organisation.contact_name is None


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("telephone: 'call the duty line'", "organisations.0.telephone"),
        ("telephone: '01632'", "organisations.0.telephone"),
        ("telephone: '01632 960200 ext 4'", "organisations.0.telephone"),
        ("telephone: ' 01632 960200'", "organisations.0.telephone"),
        ("telephone: 1632960200", "organisations.0.telephone"),
        ("contact_name: ''", "organisations.0.contact_name"),
    ],
)
def test_a_bad_telephone_or_contact_name_names_the_file_and_field(
    tmp_path: Path, entry: str, field: str
) -> None:
    _write(tmp_path, f"organisations:\n  - {{ods: RZZ, name: T, role: trust, {entry}}}\n")
    with pytest.raises(ConfigurationError) as raised:
        load_config(tmp_path)
    assert "organisations.yaml" in raised.value.message
    assert field in raised.value.message


LOCAL_SYSTEM = "https://example-recovery.example.org/Id/client-number"


def _provider(ods: str, system: str) -> str:
    """A provider entry of organisations.yaml registering one local identifier system."""
    fields = f"ods: {ods}, name: P, role: provider, local_patient_identifier_systems: [{system}]"
    return f"  - {{{fields}}}\n"


def test_the_demo_provider_registers_its_local_patient_identifier_system() -> None:
    directory = load_config(DEMO_CONFIG).directory
    assert directory.local_patient_systems == {"AZZ": frozenset({LOCAL_SYSTEM})}


@pytest.mark.parametrize(
    "system",
    [
        "https://fhir.nhs.uk/Id/nhs-number",  # the NHS number's own
        "http://fhir.nhs.uk/Id/nhs-number",  # a near miss of it
        "https://fhir.nhs.uk/Id/ods-organization-code",
        "client-number",  # not an absolute URI
        "https://example.org/Id/a b",
        "https://example.org/Id/a|b",
        "https://example.org/" + "x" * 180,
    ],
)
def test_a_local_patient_identifier_system_must_be_the_organisations_own_uri(
    tmp_path: Path, system: str
) -> None:
    _write(tmp_path, f"organisations:\n{_provider('AZZ', repr(system))}")
    with pytest.raises(ConfigurationError) as raised:
        load_config(tmp_path)
    assert "organisations.0.local_patient_identifier_systems.0" in raised.value.message


def test_a_local_patient_identifier_system_belongs_to_one_organisation(tmp_path: Path) -> None:
    twice = _provider("AZZ", LOCAL_SYSTEM) + _provider("AXX", LOCAL_SYSTEM)
    _write(tmp_path, f"organisations:\n{twice}")
    with pytest.raises(ConfigurationError, match="one organisation only"):
        load_config(tmp_path)


def test_invalid_yaml_and_missing_files_are_reported(tmp_path: Path) -> None:
    _write(tmp_path, "organisations: [\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_config(tmp_path)
    (tmp_path / "deployment.yaml").unlink()
    with pytest.raises(ConfigurationError, match=r"deployment\.yaml: file is missing"):
        load_config(tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "nowhere")


ORGANISATIONS = (
    "organisations:\n"
    "  - {ods: RZZ, name: Trust, role: trust}\n"
    "  - {ods: AZZ, name: Provider, role: provider}\n"
)


def _public_jwk(kid: str = "k1") -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP384R1())
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "ES384"}


def _client(client_id: str = "trust-system", /, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "client_id": client_id,
        "organisation": "RZZ",
        "role": "trust-crisis-system",
        "scopes": ["system/*.rs"],
        "jwks": {"keys": [_public_jwk()]},
    }
    entry.update(fields)
    return {name: value for name, value in entry.items() if value is not None}


def _write_clients(directory: Path, *clients: dict[str, Any]) -> Path:
    _write(directory, ORGANISATIONS)
    # JSON is YAML: json.dumps keeps generated keys exact.
    (directory / "clients.yaml").write_text(json.dumps({"clients": list(clients)}, indent=2))
    return directory


def _refusal(directory: Path) -> str:
    with pytest.raises(ConfigurationError) as raised:
        load_config(directory)
    return raised.value.message


def test_the_demo_configuration_registers_three_clients_with_parsed_keys() -> None:
    config = load_config(DEMO_CONFIG)
    assert [client.client_id for client in config.clients] == [
        "demo-provider-epr",
        "demo-trust-crisis",
        "demo-ig-lead",
    ]
    provider = config.client("demo-provider-epr")
    trust = config.client("demo-trust-crisis")
    ig_lead = config.client("demo-ig-lead")
    assert provider is not None
    assert trust is not None
    assert ig_lead is not None
    assert (provider.organisation, provider.role) == ("AZZ", "provider-epr")
    assert (trust.organisation, trust.role) == ("RZZ", "trust-crisis-system")
    assert [(key.kid, key.algorithm) for key in provider.keys] == [
        ("demo-provider-epr-2026-11", "ES384")
    ]
    assert [(key.kid, key.algorithm) for key in trust.keys] == [
        ("demo-trust-crisis-2026-11", "RS384")
    ]
    assert isinstance(trust.keys[0].key, rsa.RSAPublicKey)
    assert isinstance(ig_lead.keys[0].key, ec.EllipticCurvePublicKey)
    assert trust.allowed_scopes.grants("Patient", Interaction.READ)
    assert not trust.allowed_scopes.grants("Patient", Interaction.CREATE)
    assert ig_lead.allowed_scopes.grants("AuditEvent", Interaction.SEARCH)
    assert (provider.rate_per_second, provider.rate_burst) == (50, 100)
    assert ig_lead.rate_per_second is None
    assert config.client("nobody") is None


def test_without_clients_yaml_no_client_is_registered(tmp_path: Path) -> None:
    _write(tmp_path, ORGANISATIONS)
    assert load_config(tmp_path).clients == ()


def test_a_client_is_registered_with_its_fields_and_defaults(tmp_path: Path) -> None:
    thumbprint = "ab" * 32
    _write_clients(
        tmp_path,
        _client(
            "epr.system_1-a",
            organisation="AZZ",
            role=None,
            scopes=["system/Patient.read", "system/Task.cu"],
            certificate_sha256=thumbprint,
            rate_limit={"per_second": 2.5, "burst": 5},
        ),
    )
    (client,) = load_config(tmp_path).clients
    assert client.client_id == "epr.system_1-a"
    assert client.organisation == "AZZ"
    assert client.role is None
    assert client.purpose_of_use == "direct-care"
    assert str(client.allowed_scopes) == "system/Patient.rs system/Task.cu"
    assert client.certificate_sha256 == thumbprint
    assert (client.rate_per_second, client.rate_burst) == (2.5, 5)
    assert [key.kid for key in client.keys] == ["k1"]


def test_a_jwks_file_is_read_relative_to_the_configuration_directory(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "trust.json").write_text(json.dumps({"keys": [_public_jwk("file")]}))
    _write_clients(tmp_path, _client(jwks=None, jwks_file="keys/trust.json"))
    (client,) = load_config(tmp_path).clients
    assert [key.kid for key in client.keys] == ["file"]


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"client_id": "has space"}, "clients.0.client_id", "pattern"),
        ({"client_id": "slash/id"}, "clients.0.client_id", "pattern"),
        ({"client_id": ""}, "clients.0.client_id", "pattern"),
        ({"client_id": "x" * 129}, "clients.0.client_id", "pattern"),
        ({"organisation": "BZZ"}, "clients.0.organisation", "not an organisation"),
        ({"organisation": "rzz"}, "clients.0.organisation", "ODS code"),
        ({"organisation": "R-ZZ"}, "clients.0.organisation", "ODS code"),
        (
            {"scopes": ["system/Patient.rs", "user/Patient.rs"]},
            "clients.0.scopes",
            "system/<ResourceType>.<cruds>",
        ),
        ({"scopes": ["system/Foo.r"]}, "clients.0.scopes", "resource type"),
        ({"scopes": []}, "clients.0.scopes", "at least 1"),
        ({"role": "superuser"}, "clients.0.role", "ig-lead"),
        ({"purpose_of_use": "marketing"}, "clients.0.purpose_of_use", "direct-care"),
        ({"scopes": ["system/AuditEvent.rs"]}, "clients.0", "AuditEvent"),
        ({"scopes": ["system/AuditEvent.read"], "role": None}, "clients.0", "AuditEvent"),
        ({"scopes": ["system/AuditEvent.r"], "role": "operator"}, "clients.0", "AuditEvent"),
        ({"jwks_file": "keys/k.json"}, "clients.0", "exactly one of jwks"),
        ({"jwks": None}, "clients.0", "exactly one of jwks"),
        ({"certificate_sha256": "AB" * 32}, "clients.0.certificate_sha256", "pattern"),
        ({"certificate_sha256": "ab" * 31}, "clients.0.certificate_sha256", "pattern"),
        (
            {"rate_limit": {"per_second": 0, "burst": 1}},
            "clients.0.rate_limit.per_second",
            "greater than 0",
        ),
        (
            {"rate_limit": {"per_second": 1, "burst": 0}},
            "clients.0.rate_limit.burst",
            "greater than or equal to 1",
        ),
        ({"colour": "red"}, "clients.0.colour", "Extra inputs"),
    ],
    ids=[
        "client-id-space",
        "client-id-slash",
        "client-id-empty",
        "client-id-too-long",
        "organisation-unknown",
        "organisation-lower-case",
        "organisation-not-ods-shape",
        "scope-invalid",
        "scope-unknown-type",
        "no-scopes",
        "unknown-role",
        "unknown-purpose",
        "audit-event-for-trust-system",
        "audit-event-without-role",
        "audit-event-for-operator",
        "both-jwks-and-jwks-file",
        "neither-jwks-nor-jwks-file",
        "certificate-upper-case",
        "certificate-too-short",
        "rate-zero",
        "burst-zero",
        "unknown-field",
    ],
)
def test_a_bad_client_entry_names_the_file_and_field(
    tmp_path: Path, fields: dict[str, Any], field: str, problem: str
) -> None:
    _write_clients(tmp_path, _client("first"), _client("second", **fields))
    message = _refusal(tmp_path).replace("clients.1", "clients.0")
    assert f"clients.yaml: {field}" in message
    assert problem in message


def test_an_audit_event_scope_is_allowed_for_an_ig_lead(tmp_path: Path) -> None:
    _write_clients(tmp_path, _client(role="ig-lead", scopes=["system/AuditEvent.rs"]))
    (client,) = load_config(tmp_path).clients
    assert client.allowed_scopes.grants("AuditEvent", Interaction.READ)


def test_an_ig_lead_sees_its_own_organisation_unless_registered_system_wide(
    tmp_path: Path,
) -> None:
    ig = {"role": "ig-lead", "scopes": ["system/AuditEvent.rs"]}
    _write_clients(
        tmp_path,
        _client("operator-ig", **ig, access_log="system-wide"),
        _client("provider-ig", **ig, organisation="AZZ"),
    )
    operator_ig, provider_ig = load_config(tmp_path).clients
    assert operator_ig.sees_every_organisation
    assert not provider_ig.sees_every_organisation
    assert provider_ig.access_log == "own-organisation"
    demo_ig = load_config(DEMO_CONFIG).client("demo-ig-lead")
    assert demo_ig is not None
    assert demo_ig.sees_every_organisation


def test_only_one_client_may_see_every_organisations_events(tmp_path: Path) -> None:
    ig = {"role": "ig-lead", "scopes": ["system/AuditEvent.rs"], "access_log": "system-wide"}
    _write_clients(tmp_path, _client("first-ig", **ig), _client("second-ig", **ig))
    message = _refusal(tmp_path)
    assert "clients.yaml: clients: " in message
    assert "access_log: system-wide may be given to one client only" in message
    assert "first-ig, second-ig" in message


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"access_log": "system-wide"}, "is for a client with role ig-lead only"),
        ({"role": "ig-lead", "access_log": "everyone"}, "clients.0.access_log"),
    ],
    ids=["not-an-ig-lead", "unknown-view"],
)
def test_a_system_wide_view_is_for_an_ig_lead_and_named_exactly(
    tmp_path: Path, fields: dict[str, Any], problem: str
) -> None:
    _write_clients(tmp_path, _client(**fields))
    assert problem in _refusal(tmp_path)


def test_a_missing_jwks_file_is_named(tmp_path: Path) -> None:
    _write_clients(tmp_path, _client(jwks=None, jwks_file="keys/missing.json"))
    message = _refusal(tmp_path)
    assert "clients.yaml: clients.0.jwks_file: file is missing" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{not json", "not valid JSON"), ('["keys"]', "a JWKS is a JSON object")],
    ids=["not-json", "json-array"],
)
def test_a_jwks_file_that_is_not_a_json_object_is_named(
    tmp_path: Path, content: str, problem: str
) -> None:
    (tmp_path / "trust.jwks.json").write_text(content)
    _write_clients(tmp_path, _client(jwks=None, jwks_file="trust.jwks.json"))
    message = _refusal(tmp_path)
    assert "trust.jwks.json" in message
    assert problem in message


def test_a_jwks_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "trust.jwks.json").write_bytes(b'{"keys": "\xff"}')
    _write_clients(tmp_path, _client(jwks=None, jwks_file="trust.jwks.json"))
    assert "trust.jwks.json: not valid JSON" in _refusal(tmp_path)


def test_a_jwks_with_private_material_is_refused_without_quoting_it(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    jwk: dict[str, Any] = {**ECAlgorithm.to_jwk(private, as_dict=True), "kid": "k1"}
    _write_clients(tmp_path, _client("first"), _client("second", jwks={"keys": [jwk]}))
    message = _refusal(tmp_path)
    assert "clients.yaml: clients.1.jwks: keys[0]: holds private key material" in message
    assert jwk["d"] not in message
    assert jwk["x"] not in message


def test_a_jwks_file_with_private_material_is_refused(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    jwk: dict[str, Any] = {**ECAlgorithm.to_jwk(private, as_dict=True), "kid": "k1"}
    (tmp_path / "k.json").write_text(json.dumps({"keys": [_public_jwk("ok"), jwk]}))
    _write_clients(tmp_path, _client(jwks=None, jwks_file="k.json"))
    message = _refusal(tmp_path)
    assert "clients.0.jwks: keys[1]: holds private key material" in message
    assert jwk["d"] not in message


@pytest.mark.parametrize(
    "jwks",
    [
        {"keys": []},
        {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": "AA", "y": "AA"}]},
        {"keys": [{"kty": "EC", "crv": "P-384", "kid": "k", "x": "AAAA", "y": "AAAA"}]},
        {"keys": [{"kty": "RSA", "kid": "k", "e": "AQAB"}]},
    ],
    ids=["empty", "p256", "p384-short-coordinates", "rsa-without-modulus"],
)
def test_an_unusable_jwks_stops_the_start_naming_the_client(
    tmp_path: Path, jwks: dict[str, Any]
) -> None:
    _write_clients(tmp_path, _client(jwks=jwks))
    assert "clients.yaml: clients.0.jwks: " in _refusal(tmp_path)


def test_duplicate_client_ids_are_refused(tmp_path: Path) -> None:
    _write_clients(tmp_path, _client("same"), _client("same", organisation="AZZ"))
    message = _refusal(tmp_path)
    assert "clients.yaml: clients: " in message
    assert "client_id may appear only once" in message


def test_one_certificate_registered_to_two_clients_is_refused(tmp_path: Path) -> None:
    thumbprint = "0f" * 32
    _write_clients(
        tmp_path,
        _client("a", certificate_sha256=thumbprint),
        _client("b", certificate_sha256=thumbprint),
    )
    message = _refusal(tmp_path)
    assert "clients.yaml: clients: " in message
    assert "one client only" in message


def test_clients_without_certificates_do_not_clash(tmp_path: Path) -> None:
    _write_clients(tmp_path, _client("a"), _client("b"), _client("c", certificate_sha256="1" * 64))
    assert [client.client_id for client in load_config(tmp_path).clients] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("content", "field"),
    [("clients: []\nextra: 1\n", "extra"), ("{}\n", "clients"), ("[]\n", "(top level)")],
    ids=["unknown-top-level-field", "no-clients-key", "list"],
)
def test_a_malformed_clients_file_is_named(tmp_path: Path, content: str, field: str) -> None:
    _write(tmp_path, ORGANISATIONS)
    (tmp_path / "clients.yaml").write_text(content)
    assert f"clients.yaml: {field}" in _refusal(tmp_path)


# --- data-sharing agreements ------------------------------------------------------------

_TWO_ORGANISATIONS = (
    "organisations:\n"
    "  - {ods: AZZ, name: P, role: provider}\n"
    "  - {ods: RZZ, name: T, role: trust}\n"
)
_AGREEMENT = """\
id: DSA-1
version: "3"
title: Test agreement
status: active
parties: [{ods: AZZ, role: provider}, {ods: RZZ, role: trust}]
purposes: [direct-care]
data_categories: [referral, escalation]
legal_basis: UK GDPR 6(1)(e), 9(2)(h)
valid_from: 2026-01-01
valid_to: 2026-12-31
contacts: [{name: A Person, role: IG lead}]
"""


def _with_agreement(directory: Path, text: str, name: str = "dsa-1.yaml") -> Path:
    _write(directory, _TWO_ORGANISATIONS)
    (directory / "agreements").mkdir(exist_ok=True)
    (directory / "agreements" / name).write_text(text)
    return directory


def test_an_agreement_loads_as_the_decision_point_takes_it(tmp_path: Path) -> None:
    config = load_config(_with_agreement(tmp_path, _AGREEMENT))
    (agreement,) = config.agreements
    assert agreement.label == "DSA-1 v3"
    assert agreement.parties == {"AZZ", "RZZ"}
    assert agreement.categories == {"referral", "escalation"}
    assert str(agreement.valid_to) == "2026-12-31"


def test_no_agreements_folder_means_no_agreements(tmp_path: Path) -> None:
    _write(tmp_path, _TWO_ORGANISATIONS)
    assert load_config(tmp_path).agreements == ()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("purposes: [direct-care]", "purposes: [marketing]"), "purposes.0"),
        (
            ("data_categories: [referral, escalation]", "data_categories: [gossip]"),
            "data_categories.0",
        ),
        (("status: active", "status: maybe"), "status"),
        (("valid_to: 2026-12-31", "valid_to: 2025-12-31"), "(top level)"),
        (
            ("{ods: RZZ, role: trust}", "{ods: RZZ, role: trust}, {ods: AZZ, role: again}"),
            "parties",
        ),
        (("contacts: [{name: A Person, role: IG lead}]", "contacts: []"), "contacts"),
        (("title: Test agreement", "title: Test agreement\ncolour: red"), "colour"),
    ],
    ids=[
        "purpose",
        "category",
        "status",
        "dates",
        "duplicate-party",
        "no-contact",
        "unknown-field",
    ],
)
def test_a_bad_agreement_names_the_file_and_field(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    _with_agreement(tmp_path, _AGREEMENT.replace(*change))
    with pytest.raises(ConfigurationError) as raised:
        load_config(tmp_path)
    assert "dsa-1.yaml" in raised.value.message
    assert field in raised.value.message


def test_an_agreement_party_must_be_a_known_organisation(tmp_path: Path) -> None:
    _with_agreement(
        tmp_path, _AGREEMENT.replace("{ods: RZZ, role: trust}", "{ods: RQQ, role: trust}")
    )
    with pytest.raises(ConfigurationError, match=r"dsa-1.yaml: parties.1.ods: not an organisation"):
        load_config(tmp_path)


def test_two_agreements_may_not_share_an_id(tmp_path: Path) -> None:
    _with_agreement(tmp_path, _AGREEMENT)
    _with_agreement(tmp_path, _AGREEMENT, name="dsa-2.yaml")
    with pytest.raises(ConfigurationError, match=r"dsa-2\.yaml: id: DSA-1 is also the id in"):
        load_config(tmp_path)


def test_a_client_may_be_registered_for_other_purposes_of_use() -> None:
    config = load_config(DEMO_CONFIG)
    trust = config.client("demo-trust-crisis")
    assert trust is not None
    assert {p.value for p in trust.other_purposes_of_use} == {"ETREAT", "BTG", "safeguarding"}
