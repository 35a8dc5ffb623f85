"""SMART system scopes: parsing, printing, granting and narrowing a request."""

from __future__ import annotations

import pytest

from gateway.auth.scopes import Interaction, Scope, ScopeError, ScopeSet, parse_scope

C, R, U, D, S = (
    Interaction.CREATE,
    Interaction.READ,
    Interaction.UPDATE,
    Interaction.DELETE,
    Interaction.SEARCH,
)


@pytest.mark.parametrize(
    ("text", "resource_type", "interactions"),
    [
        ("system/Patient.c", "Patient", {C}),
        ("system/Patient.r", "Patient", {R}),
        ("system/Patient.u", "Patient", {U}),
        ("system/Patient.d", "Patient", {D}),
        ("system/Patient.s", "Patient", {S}),
        ("system/Patient.rs", "Patient", {R, S}),
        ("system/Task.cu", "Task", {C, U}),
        ("system/Task.crud", "Task", {C, R, U, D}),
        ("system/Consent.cruds", "Consent", {C, R, U, D, S}),
        ("system/*.rs", "*", {R, S}),
        ("system/*.cruds", "*", {C, R, U, D, S}),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_v2_letter_subsets_in_order_are_parsed(
    text: str, resource_type: str, interactions: set[Interaction]
) -> None:
    scope = parse_scope(text)
    assert scope.resource_type == resource_type
    assert scope.interactions == frozenset(interactions)


@pytest.mark.parametrize(
    ("text", "equivalent"),
    [
        ("system/Patient.read", "system/Patient.rs"),
        ("system/Patient.write", "system/Patient.cud"),
        ("system/Patient.*", "system/Patient.cruds"),
        ("system/*.read", "system/*.rs"),
        ("system/*.*", "system/*.cruds"),
    ],
    ids=["read", "write", "star", "wildcard-read", "wildcard-star"],
)
def test_v1_aliases_mean_their_v2_letters(text: str, equivalent: str) -> None:
    assert parse_scope(text) == parse_scope(equivalent)


@pytest.mark.parametrize(
    "text",
    [
        "user/Patient.rs",
        "patient/Patient.rs",
        "user/*.read",
        "system/Patient.rc",
        "system/Patient.sr",
        "system/Patient.rr",
        "system/Patient.x",
        "system/Patient.",
        "system/Patient",
        "system/Foo.r",
        "system/HumanName.r",
        "system/Resource.r",
        "system/DomainResource.r",
        "system/patient.r",
        "system/Task.r?x=y",
        "system/Task.rs?status=active",
        " system/Patient.r",
        "system/Patient.r ",
        "system/Patient.READ",
        "",
        "openid",
    ],
    ids=[
        "user-prefix",
        "patient-prefix",
        "user-v1",
        "out-of-order",
        "reversed",
        "repeated",
        "unknown-letter",
        "no-letters",
        "no-dot",
        "unknown-type",
        "datatype",
        "abstract-resource",
        "abstract-domain-resource",
        "lower-case-type",
        "query-suffix",
        "query-suffix-rs",
        "leading-space",
        "trailing-space",
        "upper-case-word",
        "empty",
        "openid",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_a_scope_error_is_a_value_error_that_does_not_echo_the_input() -> None:
    with pytest.raises(ValueError, match="system/") as raised:
        parse_scope("user/Secret.rs")
    assert "Secret" not in str(raised.value)


@pytest.mark.parametrize(
    "text",
    ["system/Patient.c", "system/Patient.rs", "system/Task.cud", "system/*.cruds"],
)
def test_a_v2_scope_prints_as_it_was_written(text: str) -> None:
    assert str(parse_scope(text)) == text


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("system/Flag.read", "system/Flag.rs"),
        ("system/Flag.write", "system/Flag.cud"),
        ("system/Flag.*", "system/Flag.cruds"),
    ],
    ids=["read", "write", "star"],
)
def test_a_v1_scope_prints_in_v2_form_and_parses_back_to_itself(text: str, printed: str) -> None:
    scope = parse_scope(text)
    assert str(scope) == printed
    assert parse_scope(str(scope)) == scope


def test_letters_print_in_cruds_order_whatever_order_the_set_holds() -> None:
    assert str(Scope("Task", frozenset({S, D, C}))) == "system/Task.cds"


def test_a_scope_grants_its_interactions_on_its_type_only() -> None:
    scope = parse_scope("system/Patient.rs")
    assert scope.grants("Patient", R)
    assert scope.grants("Patient", S)
    assert not scope.grants("Patient", C)
    assert not scope.grants("Task", R)


def test_a_wildcard_scope_grants_on_every_type_but_the_access_log() -> None:
    scope = parse_scope("system/*.r")
    assert scope.grants("Patient", R)
    assert not scope.grants("AuditEvent", R)
    assert not scope.grants("Patient", S)


def test_a_wildcard_never_narrows_into_the_access_log() -> None:
    allowed = ScopeSet.parse(["system/*.rs"])
    granted = allowed.narrowed_to(ScopeSet.parse(["system/AuditEvent.rs", "system/Flag.r"]))
    assert str(granted) == "system/Flag.r"
    named = ScopeSet.parse(["system/AuditEvent.rs"])
    assert str(named.narrowed_to(ScopeSet.parse(["system/AuditEvent.s"]))) == "system/AuditEvent.s"


def test_a_scope_set_grants_what_any_of_its_scopes_grants() -> None:
    scopes = ScopeSet.parse(["system/Patient.r", "system/Task.cu", "system/*.s"])
    assert scopes.grants("Patient", R)
    assert scopes.grants("Task", C)
    assert scopes.grants("Task", U)
    assert scopes.grants("Flag", S)
    assert not scopes.grants("Task", R)
    assert not scopes.grants("Flag", D)


def test_an_empty_scope_set_grants_nothing_and_is_false() -> None:
    empty = ScopeSet.parse([])
    assert not empty
    assert not empty.grants("Patient", R)
    assert ScopeSet.parse(["system/Patient.r"])


def test_a_scope_set_prints_its_scopes_space_separated_and_parses_back() -> None:
    scopes = ScopeSet.parse(["system/Patient.read", "system/*.c"])
    assert str(scopes) == "system/Patient.rs system/*.c"
    assert ScopeSet.parse(str(scopes).split()) == scopes


def test_scope_set_parse_refuses_if_any_scope_is_invalid() -> None:
    with pytest.raises(ScopeError):
        ScopeSet.parse(["system/Patient.r", "patient/Patient.r"])


def _narrow(allowed: list[str], requested: list[str]) -> list[str]:
    narrowed = ScopeSet.parse(allowed).narrowed_to(ScopeSet.parse(requested))
    return [str(scope) for scope in narrowed.scopes]


@pytest.mark.parametrize(
    ("allowed", "requested", "granted"),
    [
        (["system/Patient.cruds"], ["system/Patient.rs"], ["system/Patient.rs"]),
        (["system/Patient.rs"], ["system/Patient.cruds"], ["system/Patient.rs"]),
        (["system/Patient.rs"], ["system/Patient.cud"], []),
        (["system/Patient.rs"], ["system/Task.rs"], []),
        (["system/*.rs"], ["system/Task.cruds"], ["system/Task.rs"]),
        (["system/*.r", "system/Task.s"], ["system/Task.rs"], ["system/Task.rs"]),
        (["system/Patient.rs"], ["system/*.rs"], []),
        (["system/*.r", "system/Patient.s"], ["system/*.rs"], ["system/*.r"]),
        (["system/*.rs"], ["system/*.cruds"], ["system/*.rs"]),
        (
            ["system/Patient.rs", "system/Task.cu"],
            ["system/Patient.r", "system/Flag.r", "system/Task.cruds"],
            ["system/Patient.r", "system/Task.cu"],
        ),
        (["system/Patient.rs"], ["system/Patient.r", "system/Patient.r"], ["system/Patient.r"]),
        (
            ["system/Patient.rs"],
            ["system/Patient.read", "system/Patient.cruds"],
            ["system/Patient.rs"],
        ),
        ([], ["system/Patient.r"], []),
        (["system/Patient.r"], [], []),
    ],
    ids=[
        "subset-kept",
        "cut-down",
        "nothing-allowed-dropped",
        "other-type-dropped",
        "wildcard-allows-type",
        "wildcard-and-type-combine",
        "wildcard-request-never-widens",
        "wildcard-request-keeps-wildcard-part-only",
        "wildcard-cut-down",
        "each-scope-on-its-own",
        "duplicates-removed",
        "duplicates-after-narrowing-removed",
        "nothing-allowed",
        "nothing-requested",
    ],
)
def test_narrowing_grants_requested_intersected_with_allowed_per_type(
    allowed: list[str], requested: list[str], granted: list[str]
) -> None:
    assert _narrow(allowed, requested) == granted


def test_a_narrowed_set_never_grants_what_the_allowed_set_does_not() -> None:
    allowed = ScopeSet.parse(["system/Patient.rs", "system/*.r"])
    every = ScopeSet.parse(["system/*.cruds", "system/Patient.cruds", "system/Task.cruds"])
    narrowed = allowed.narrowed_to(every)
    for resource_type in ("Patient", "Task", "Flag"):
        for interaction in Interaction:
            if narrowed.grants(resource_type, interaction):
                assert allowed.grants(resource_type, interaction)
    assert narrowed.grants("Patient", S)
    assert not narrowed.grants("Task", S)


def test_an_empty_narrowing_is_false() -> None:
    assert not ScopeSet.parse(["system/Patient.r"]).narrowed_to(ScopeSet.parse(["system/Task.r"]))
