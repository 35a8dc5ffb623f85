"""A modifierExtension the gateway does not understand is refused wherever it is."""

from __future__ import annotations

from core.fhir.issues import IssueCode
from core.fhir.modifier_extensions import UNDERSTOOD, modifier_extension_issues
from tests.paths import REPO

NEGATION = {"url": "https://example.org/fhir/StructureDefinition/not", "valueBoolean": True}
PLAIN = {"url": "https://example.org/fhir/StructureDefinition/note", "valueString": "x"}


def test_a_resource_without_modifier_extensions_has_no_issue() -> None:
    flag = {"resourceType": "Flag", "status": "active", "extension": [PLAIN]}
    assert modifier_extension_issues(flag, "Flag") == []


def test_one_at_the_top_is_refused_naming_it() -> None:
    issues = modifier_extension_issues({"modifierExtension": [PLAIN, NEGATION]}, "Flag")

    assert [issue.expression for issue in issues] == [
        "Flag.modifierExtension[0]",
        "Flag.modifierExtension[1]",
    ]
    assert {issue.code for issue in issues} == {IssueCode.NOT_SUPPORTED}
    assert "example.org" not in issues[0].diagnostics


def test_one_at_any_depth_is_refused_naming_where() -> None:
    consent = {
        "resourceType": "Consent",
        "provision": {"provision": [{"type": "permit", "modifierExtension": [NEGATION]}]},
    }
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Flag"}}, {"resource": consent}],
    }

    issues = modifier_extension_issues(bundle, "Bundle")

    assert [issue.expression for issue in issues] == [
        "Bundle.entry[1].resource.provision.provision[0].modifierExtension[0]"
    ]


def test_one_without_a_url_or_malformed_is_refused_too() -> None:
    issues = modifier_extension_issues({"modifierExtension": [{"valueBoolean": True}, 7]}, "Task")
    assert len(issues) == 2


def test_the_gateway_understands_none_and_uses_none_of_its_own() -> None:
    assert not UNDERSTOOD
    sources = [*(REPO / "mappings").rglob("*.py"), *(REPO / "gateway").rglob("*.py")]
    users = [
        path.relative_to(REPO)
        for path in sources
        if '"modifierExtension"' in path.read_text() and path.name != "modifier_extensions.py"
    ]
    assert users == []
