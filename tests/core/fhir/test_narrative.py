"""R4's narrative rules for text.div: one XHTML div, basic formatting only, nothing that
runs or loads, some text; parsed with no document type or entities."""

from __future__ import annotations

import pytest

from core.fhir.issues import IssueCode
from core.fhir.narrative import ALLOWED_ELEMENTS, narrative_issues, xhtml_problem

XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'


def _div(inner: str, attributes: str = "") -> str:
    return f"<div {XHTML}{attributes}>{inner}</div>"


ACCEPTED = {
    "text": _div("Seen in A&amp;E; low mood."),
    "formatting": _div("<p>Risks: <b>high</b>, <i>see plan</i><br/>Next</p>"),
    "list": _div("<ul><li>one</li><li>two</li></ul>"),
    "table": _div(
        '<table border="1"><thead><tr><th scope="col">Risk</th></tr></thead>'
        "<tbody><tr><td>Self-harm</td></tr></tbody></table>"
    ),
    "web-link": _div('<a href="https://www.nhs.uk/mental-health/">NHS</a>'),
    "mail-and-phone": _div(
        '<a href="mailto:crisis@example.nhs.uk">mail</a> <a href="tel:111">111</a>'
    ),
    "in-narrative-link": _div('<a href="#plan">plan</a> <a name="plan">Plan</a>'),
    "relative-link": _div('<a href="ServiceRequest/abc">the referral</a>'),
    "contained-image": _div('<img src="#photo" alt="photo"/>'),
    "data-image": _div('<img src="data:image/png;base64,iVBORw0KGgo=" alt="chart"/>'),
    "plain-style": _div('<span style="color: red; font-weight: bold">urgent</span>'),
    "xml-lang": _div("Text", ' xml:lang="en-GB" lang="en-GB"'),
    "numeric-reference": _div("&#160;non-breaking&#x2014;dash"),
    "bidi-in-text": _div("He said \u202eabc"),
    "prefixed-xhtml": '<x:div xmlns:x="http://www.w3.org/1999/xhtml"><x:p>text</x:p></x:div>',
}


@pytest.mark.parametrize("div", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_narrative_within_r4s_rules_is_accepted(div: str) -> None:
    assert xhtml_problem(div) is None


REFUSED = {
    "script": (_div("<script>alert(1)</script>"), "<script>"),
    "iframe": (_div('<iframe src="https://evil.example/"/>'), "<iframe>"),
    "object": (_div('<object data="x.swf"/>'), "<object>"),
    "embed": (_div('<embed src="x"/>'), "<embed>"),
    "applet": (_div('<applet code="x"/>'), "<applet>"),
    "base": (_div('<base href="https://evil.example/"/>'), "<base>"),
    "link": (_div('<link rel="stylesheet" href="https://evil.example/x.css"/>'), "<link>"),
    "meta": (_div('<meta http-equiv="refresh" content="0;url=https://evil.example"/>'), "<meta>"),
    "style-element": (_div("<style>body{display:none}</style>"), "<style>"),
    "form": (_div('<form action="https://evil.example"><input name="pw"/></form>'), "<form>"),
    "svg": (_div('<svg xmlns="http://www.w3.org/1999/xhtml"/>'), "<svg>"),
    "unlisted-element": (_div("<marquee>hi</marquee>"), "basic formatting"),
    "onclick": (_div('<p onclick="steal()">click</p>'), "event attributes"),
    "onerror-upper-case": (_div('<img src="#x" ONERROR="steal()"/>'), "event attributes"),
    "javascript-link": (_div('<a href="javascript:alert(1)">x</a>'), "link"),
    "hidden-javascript-link": (_div('<a href=" JaVa&#x09;Script:alert(1)">x</a>'), "link"),
    "vbscript-link": (_div('<a href="vbscript:msgbox(1)">x</a>'), "link"),
    "data-link": (_div('<a href="data:text/html,&lt;script&gt;">x</a>'), "link"),
    "javascript-cite": (_div('<q cite="javascript:alert(1)">x</q>'), "link"),
    "external-image": (_div('<img src="https://tracker.example/p.gif"/>'), "contained"),
    "svg-data-image": (_div('<img src="data:image/svg+xml;base64,PHN2Zz4="/>'), "contained"),
    "style-url": (_div('<span style="background:url(https://t.example/)">x</span>'), "style"),
    "style-escaped-url": (_div('<span style="background:\\75 rl(x)">x</span>'), "style"),
    "style-expression": (_div('<span style="width:expression(alert(1))">x</span>'), "style"),
    "style-import": (_div("<span style=\"@import 'x.css'\">x</span>"), "style"),
    "unlisted-attribute": (_div('<p contenteditable="true">x</p>'), "attribute"),
    "attribute-of-another-element": (_div('<p href="https://nhs.uk">x</p>'), "attribute"),
    "xlink": (
        _div('<a xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="javascript:x">x</a>'),
        "namespaced",
    ),
    "p-root": (f"<p {XHTML}>text</p>", "one <div"),
    "span-root": (f"<span {XHTML}>text</span>", "one <div"),
    "no-namespace": ("<div>text</div>", "one <div"),
    "other-namespace": ('<div xmlns="http://example.org/">text</div>', "one <div"),
    "foreign-child": (_div('<p xmlns="http://example.org/">x</p>'), "XHTML namespace"),
    "empty": (_div(""), "no content"),
    "whitespace-only": (_div("  <p> </p> "), "no content"),
    "doctype": (f'<!DOCTYPE div [<!ENTITY a "b">]><div {XHTML}>&a;</div>', "DOCTYPE"),
    "billion-laughs": (
        '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f"<div {XHTML}>&b;</div>",
        "DOCTYPE",
    ),
    "external-entity": (
        f'<!DOCTYPE div [<!ENTITY x SYSTEM "file:///etc/passwd">]><div {XHTML}>&x;</div>',
        "DOCTYPE",
    ),
    "xml-declaration": (f'<?xml version="1.0"?><div {XHTML}>x</div>', "XML declaration"),
    "processing-instruction": (_div("<?php echo 1 ?>x"), "processing instructions"),
    "comment": (_div("<!--><script>alert(1)</script>-->x"), "comments"),
    "cdata": (_div("<![CDATA[ x ><script>alert(1)</script> ]]>"), "CDATA"),
    "html-entity": (_div("a&nbsp;b"), "well-formed"),
    "not-xml": (_div("<p>unclosed"), "well-formed"),
    "two-roots": (f"<div {XHTML}>a</div><div {XHTML}>b</div>", "well-formed"),
    "text-outside": (f"text<div {XHTML}>a</div>", "well-formed"),
}


@pytest.mark.parametrize(("div", "named"), REFUSED.values(), ids=REFUSED.keys())
def test_narrative_breaking_r4s_rules_is_refused_saying_why(div: str, named: str) -> None:
    problem = xhtml_problem(div)
    assert problem is not None
    assert named in problem


@pytest.mark.parametrize("element", sorted(ALLOWED_ELEMENTS - {"img", "br", "hr", "col", "area"}))
def test_every_basic_formatting_element_is_accepted(element: str) -> None:
    assert xhtml_problem(_div(f"<{element}>text</{element}>")) is None


def test_the_refusal_never_repeats_the_text() -> None:
    problem = xhtml_problem(_div('<a href="javascript:steal(9434765919)">Alex Example</a>'))
    assert problem is not None
    assert "9434765919" not in problem
    assert "Alex" not in problem


def test_issues_are_at_text_div_of_the_resource_and_of_each_resource_it_holds() -> None:
    bad = {"status": "generated", "div": _div("<script>x</script>")}
    good = {"status": "generated", "div": _div("fine")}
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Flag", "text": good}},
            {"resource": {"resourceType": "Flag", "text": bad, "contained": [{"text": bad}]}},
        ],
    }

    issues = narrative_issues(bundle, "Bundle")

    assert [issue.expression for issue in issues] == [
        "Bundle.entry[1].resource.text.div",
        "Bundle.entry[1].resource.contained[0].text.div",
    ]
    assert {issue.code for issue in issues} == {IssueCode.INVARIANT}
    assert narrative_issues({"text": bad}, "Flag")[0].expression == "Flag.text.div"


def test_text_that_is_not_a_narrative_is_not_read_as_one() -> None:
    concept = {"code": {"text": "<script>not narrative</script>"}, "note": [{"text": "x"}]}
    assert narrative_issues(concept, "Flag") == []
