"""The decision-ready summary page: urgency first, risks highest first, every value shown
and escaped, England's clock, no patient in the title, the checklist's gaps in words."""

from __future__ import annotations

import copy
import html
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from core.codes.handover import ESCALATION_LEVELS, REQUEST_TYPES, RISK_TYPES, SHARING_BASES
from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from core.handover.ladder_position import LadderContact, LadderPosition
from core.handover.summary_page import (
    LATE_ESCALATION,
    ConfiguredCallBack,
    Names,
    SummaryContext,
    nhs_number,
    summary_html,
)
from tests.paths import EXAMPLES

# The escalation example asks for a response by 15:00 UTC on 21 Nov 2026 (GMT in England).
NOW = datetime(2026, 11, 21, 14, 15, tzinfo=UTC)
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def context(
    now: datetime = NOW, incomplete: tuple[str, ...] = (), received: datetime | None = None
) -> SummaryContext:
    return SummaryContext(
        communication_id="comm-1",
        service_request_id="sr-1",
        received_at=received,
        generated_at=now,
        incomplete_fields=incomplete,
    )


def page(body: dict[str, Any], now: datetime = NOW, incomplete: tuple[str, ...] = ()) -> str:
    return summary_html(parse_dataset(body), context(now, incomplete))


def full_escalation() -> dict[str, Any]:
    """The escalation example with every optional field the spec defines filled in."""
    body = example("escalation-manager")
    body["patient"].update(
        {
            "name": {"given": "Ana-Maria", "family": "O'Neill & Co"},
            "birth_date": "1990-06-15",
            "address": {
                "lines": ["Flat 2", "14 Example Street"],
                "city": "Exampletown",
                "postcode": "ZZ99 3VZ",
            },
        }
    )
    body["sender"]["contact"] = "+44 1632 960002"
    body["key_risks"].append(
        {"type": "harm-from-others", "level": "low", "description": "Ex-partner nearby <2 miles>"}
    )
    body["sharing"] = {
        "basis": "safeguarding",
        "consent_obtained": False,
        "reason_if_not": "Person could not be reached; risk to life.",
    }
    body["legal"] = {"mental_health_act_status": "CTO (s17A)", "capacity_concerns": True}
    body["escalation"]["related_referral"] = "sr-0417"
    body["escalation"]["response"] = {
        "received_at": "2026-11-21T14:40:00Z",
        "from": "Duty manager, CRHT",
        "summary": "Home visit at 15:30 by two clinicians.",
    }
    return body


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return [value] if isinstance(value, str) else []


class Checked(HTMLParser):
    """Every tag read, and the nesting checked: each element closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.declarations: list[str] = []
        # Each piece of text with the elements it sits in, outermost first.
        self.placed: list[tuple[tuple[str, ...], str]] = []

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open, f"</{tag}> closes nothing"
        assert self.open.pop() == tag, f"</{tag}> closes the wrong element"

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        self.placed.append((tuple(self.open), data))


def parsed(document: str) -> Checked:
    parser = Checked()
    parser.feed(document)
    parser.close()
    assert parser.open == []
    return parser


# --- The document ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["handover-crisis", "escalation-manager"])
def test_a_complete_self_contained_html5_document(name: str) -> None:
    document = page(example(name))
    checked = parsed(document)
    assert document.startswith('<!doctype html>\n<html lang="en-GB">')
    assert checked.declarations == ["doctype html"]
    assert checked.tags[:4] == ["html", "head", "meta", "meta"]
    assert ("charset", "utf-8") in checked.attributes
    assert ("name", "viewport") in checked.attributes
    assert {"script", "link", "img", "iframe", "object", "form"}.isdisjoint(checked.tags)
    assert not [value for key, value in checked.attributes if key in ("src", "style")]
    assert "http:" not in document
    assert "https:" not in document


def test_the_same_input_gives_the_same_page() -> None:
    body = full_escalation()
    assert page(body) == page(copy.deepcopy(body))


def test_times_passed_to_the_context_must_carry_their_offset() -> None:
    with pytest.raises(ValueError, match="offset"):
        context(now=datetime(2026, 11, 21, 14, 15))  # naive: the point of the test


@pytest.mark.parametrize("name", ["handover-crisis", "escalation-manager"])
def test_the_title_names_the_kind_of_summary_and_never_the_person(name: str) -> None:
    body = full_escalation() if name == "escalation-manager" else example(name)
    document = page(body)
    title = document.split("<title>")[1].split("</title>")[0]
    kind = "Escalation summary" if name == "escalation-manager" else "Handover summary"
    assert title.endswith(f"{kind} — Crisis")
    patient = body["patient"]
    for secret in (
        patient["nhs_number"],
        nhs_number(patient["nhs_number"]),
        patient["birth_date"],
        patient["name"]["given"],
        html.escape(patient["name"]["family"]),
        patient["name"]["family"],
    ):
        assert secret not in title


# --- Order -----------------------------------------------------------------------------------

ORDER = (
    # Above the fold: what decides.
    "respond-by",
    "request",
    "sender-contact",
    "what-has-changed",
    "key-risks",
    # Then what is missing, the person, and the rest in the Communication's order.
    "incomplete",
    "patient",
    "escalation-step",
    "current-presentation",
    "early-warning-indicator",
    "action-taken",
    "current-plan",
    "information-shared",
    "escalation-response",
    "next-action",
    "sharing",
    "legal",
    # The reader's own organisation, last.
    "receiver",
)


def test_what_decides_first_then_gaps_then_the_person_then_the_rest_sent_to_last() -> None:
    document = page(full_escalation(), incomplete=("sender.team",))
    positions = [document.index(f'id="{section}"') for section in ORDER]
    assert positions == sorted(positions)
    assert document.index("Respond by") < document.index("What is being requested")
    assert document.index("Key risks") < document.index("Current presentation")
    assert document.index("<h2>Sent to</h2>") > document.index('id="legal"')


def test_sections_are_headed_as_the_communication_names_them() -> None:
    document = page(full_escalation())
    for heading in (
        "Person",
        "Who to call back",
        "Key risks",
        "Escalation step",
        "Current presentation",
        "What has changed",
        "Early warning indicator",
        "Action already taken",
        "Current plan",
        "What is being requested",
        "Information shared",
        "Response received",
        "Next action",
        "Basis for sharing",
        "Legal status and capacity",
    ):
        assert f"<h2>{heading}</h2>" in document


def test_a_handover_has_no_escalation_sections() -> None:
    document = page(example("handover-crisis"))
    for section in ("escalation-step", "early-warning-indicator", "escalation-response"):
        assert f'id="{section}"' not in document
    assert "No response recorded yet" not in document


def test_high_risks_come_first_then_medium_low_and_unstated_keeping_the_senders_order() -> None:
    body = example("handover-crisis")
    body["key_risks"] = [
        {"type": "self-neglect", "level": "low"},
        {"type": "other"},
        {"type": "exploitation", "level": "medium"},
        {"type": "suicide", "level": "high"},
        {"type": "harm-to-others", "level": "high"},
    ]
    document = page(body)
    shown = [
        document.index(RISK_TYPES[kind].display)
        for kind in ("suicide", "harm-to-others", "exploitation", "self-neglect", "other")
    ]
    assert shown == sorted(shown)
    # The level is written as a word, not carried by colour alone.
    assert '<span class="badge level-high">High</span>' in document
    assert '<span class="badge level-medium">Medium</span>' in document
    assert '<span class="badge level-low">Low</span>' in document
    assert '<span class="badge level-unstated">Level not stated</span>' in document


def test_no_key_risks_is_said_rather_than_left_out() -> None:
    body = example("handover-crisis")
    del body["key_risks"]
    document = page(body)
    assert "No key risks recorded" in document
    assert 'id="key-risks"' in document


# --- Every value, escaped --------------------------------------------------------------------

# Values the page shows in words or in another form rather than as sent.
CODES = {
    "escalation": "Escalation summary",
    "crisis": "Crisis",
    "01": "Number present and verified",
    "self-harm": RISK_TYPES["self-harm"].display,
    "harm-from-others": RISK_TYPES["harm-from-others"].display,
    "high": "High",
    "low": "Low",
    "crisis-response": REQUEST_TYPES["crisis-response"].display,
    "emergency": "Emergency",
    "safeguarding": SHARING_BASES["safeguarding"].display,
    "manager": ESCALATION_LEVELS["manager"].display,
    "9434765919": "943 476 5919",
    "1990-06-15": "15 Jun 1990",
    "2026-11-19": "19 Nov 2026",
    "2026-11-21T13:20:00Z": "Sat 21 Nov 2026, 13:20 GMT",
    "2026-11-21T13:45:00Z": "Sat 21 Nov 2026, 13:45 GMT",
    "2026-11-21T15:00:00Z": "Sat 21 Nov 2026, 15:00 GMT",
    "2026-11-21T14:10:00Z": "Sat 21 Nov 2026, 14:10 GMT",
    "2026-11-21T14:40:00Z": "Sat 21 Nov 2026, 14:40 GMT",
}


def test_every_value_sent_is_on_the_page_escaped() -> None:
    body = full_escalation()
    document = page(body)
    for value in strings(body):
        assert html.escape(CODES.get(value, value)) in document, value
    # Booleans read as words.
    assert "<dt>Consent obtained</dt><dd>No</dd>" in document
    assert "<dt>Capacity concerns</dt><dd>Yes</dd>" in document
    # Free text is escaped even where it is harmless.
    assert "O&#x27;Neill &amp; Co" in document
    assert "Ex-partner nearby &lt;2 miles&gt;" in document


def test_the_call_back_number_is_prominent_and_tap_to_call() -> None:
    document = page(full_escalation())
    assert '<p class="callback">Call back: <a href="tel:+441632960002">+44 1632 960002</a>' in (
        document
    )
    # Then who it reaches: the practitioner, role and team the sender gave.
    who = document[document.index('<p class="who">') :]
    who = who[: who.index("</p>")]
    assert "<bdi>Priya Shah</bdi>, <bdi>Team manager</bdi>, <bdi>Community Recovery" in who
    assert document.index('class="callback"') < document.index('class="who"')


def test_the_gateway_ids_and_times_are_at_the_bottom() -> None:
    received = NOW - timedelta(minutes=3)
    document = summary_html(parse_dataset(example("handover-crisis")), context(received=received))
    footer = document[document.index("<footer") :]
    for text in ("comm-1", "sr-1", "EPR-2026-000417", "Sat 21 Nov 2026, 14:12 GMT"):
        assert text in footer
    assert '<time datetime="2026-11-21T14:15:00Z">' in footer


def test_absent_fields_are_left_out() -> None:
    body = example("escalation-manager")  # no name, birth date, contact, legal or response
    document = page(body)
    for absent in ("Name", "Date of birth", "Call back", "Mental Health Act", 'id="legal"'):
        assert absent not in document
    assert "No response recorded yet" in document


# --- Injection ---------------------------------------------------------------------------

ATTACKS = ("<script>alert(1)</script>", '"><img src=x onerror=1>')


@pytest.mark.parametrize("attack", ATTACKS)
def test_markup_in_any_free_text_comes_out_inert(attack: str) -> None:
    body = full_escalation()
    body["key_risks"][0]["description"] = attack
    body["patient"]["name"]["family"] = attack
    body["sender"]["contact"] = attack
    body["sender"]["team"] = attack
    body["receiver"]["service"] = attack
    body["current_presentation"] = attack
    body["actions_taken"][0]["by"] = attack
    body["escalation"]["early_warning_indicators"] = [attack]
    body["escalation"]["response"]["from"] = attack
    body["legal"]["mental_health_act_status"] = attack
    document = page(body, incomplete=(attack,))
    checked = parsed(document)
    assert "script" not in checked.tags
    assert "img" not in checked.tags
    assert not [key for key, _ in checked.attributes if key.startswith("on")]
    assert attack not in document
    assert "<script" not in document.lower()
    assert document.count(html.escape(attack)) >= 10
    # What was sent is shown, as text.
    assert "".join(checked.text).count(attack) >= 10


# Bidi controls: embeddings, overrides, isolates and marks (U+202A..E, U+2066..9, U+200E/F).
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
# A right-to-left override never closed: unisolated, it would run on to the paragraph's
# end and show what follows it (the next values, the headings) reversed.
OVERRIDE = "Denies intent \u202eCALL 999 NOW"


def isolated(checked: Checked, text: str) -> bool:
    """Every piece of the page's text holding `text` sits inside a <bdi>."""
    holding = [open_tags for open_tags, data in checked.placed if text in data]
    return bool(holding) and all("bdi" in open_tags for open_tags in holding)


def test_a_right_to_left_override_in_a_risk_or_the_presentation_is_shown_but_isolated() -> None:
    body = example("handover-crisis")
    body["key_risks"][0]["description"] = OVERRIDE
    body["current_presentation"] = OVERRIDE
    document = page(body)
    checked = parsed(document)  # every element closed, in order
    # Kept, escaped, each in its own <bdi> (the override ends with it).
    assert document.count(f'<p class="text"><bdi>{html.escape(OVERRIDE)}</bdi></p>') == 2
    assert isolated(checked, OVERRIDE)
    assert "".join(checked.text).count(OVERRIDE) == 2
    # The page around them is intact: sections in order, headings and badges outside.
    plain = page(example("handover-crisis"))
    shown = [section for section in ORDER if f'id="{section}"' in plain]
    positions = [document.index(f'id="{section}"') for section in shown]
    assert positions == sorted(positions)
    assert checked.tags == parsed(plain).tags
    for heading in ("Key risks", "Current presentation", "What has changed"):
        assert [where for where, data in checked.placed if data == heading] in (
            [("html", "body", "section", "h2")],
            [("html", "body", "div", "div", "section", "h2")],
        )
    assert (("html", "body", "div", "div", "section", "ul", "li", "span"), "High") in (
        checked.placed
    )


@pytest.mark.parametrize("control", list(BIDI_CONTROLS), ids=lambda c: f"U+{ord(c):04X}")
def test_every_free_text_value_is_isolated_whatever_bidi_control_it_holds(control: str) -> None:
    body = full_escalation()
    marked = f"before{control}after"
    for path in FREE_TEXT:
        *parents, last = path
        holder: Any = body
        for step in parents:
            holder = holder[step]
        holder[last] = [marked] if last == "early_warning_indicators" else marked
    document = page(body)
    checked = parsed(document)
    assert "".join(checked.text).count(marked) == len(FREE_TEXT)
    assert isolated(checked, marked)
    assert not [data for _, data in checked.placed if control in data.replace(marked, "")]


# Every free-text field of the dataset the page shows. Codes and times are shown in words;
# identifiers (external_id, related_referral) are isolated too, but whether they may hold
# a bidi control at all is for input validation to say.
FREE_TEXT: tuple[tuple[Any, ...], ...] = (
    ("locality",),
    ("patient", "name", "given"),
    ("patient", "name", "family"),
    ("sender", "practitioner"),
    ("sender", "role"),
    ("sender", "team"),
    ("sender", "contact"),
    ("receiver", "service"),
    ("current_presentation",),
    ("what_has_changed",),
    ("current_plan",),
    ("key_risks", 0, "description"),
    ("actions_taken", 0, "action"),
    ("actions_taken", 0, "by"),
    ("request", "summary"),
    ("sharing", "reason_if_not"),
    ("legal", "mental_health_act_status"),
    ("escalation", "escalated_by", "name"),
    ("escalation", "escalated_by", "role"),
    ("escalation", "escalated_by", "team"),
    ("escalation", "escalated_to", "role"),
    ("escalation", "escalated_to", "service"),
    ("escalation", "early_warning_indicators"),
    ("escalation", "information_shared"),
    ("escalation", "next_action"),
    ("escalation", "response", "from"),
    ("escalation", "response", "summary"),
    ("patient", "address", "city"),
    ("patient", "address", "postcode"),
)


def test_the_page_forbids_scripts_and_loading_anything_even_if_a_value_slipped_through() -> None:
    document = page(example("handover-crisis"))
    assert 'http-equiv="Content-Security-Policy"' in document
    assert "default-src 'none'; style-src 'sha256-" in document


# --- England's clock ---------------------------------------------------------------------


def test_a_winter_respond_by_is_shown_in_gmt_with_the_time_left() -> None:
    document = page(example("escalation-manager"))
    assert '<time datetime="2026-11-21T15:00:00Z">Sat 21 Nov 2026, 15:00 GMT</time>' in document
    assert "(in 45 minutes)" in document
    assert 'class="overdue"' not in document


def test_a_summer_respond_by_is_shown_in_bst() -> None:
    body = example("escalation-manager")
    body["time_sensitivity"]["respond_by"] = "2026-07-01T13:00:00+00:00"
    document = page(body, now=datetime(2026, 7, 1, 12, 30, tzinfo=UTC))
    assert '<time datetime="2026-07-01T13:00:00Z">Wed 1 Jul 2026, 14:00 BST</time>' in document
    assert "(in 30 minutes)" in document


def test_a_respond_by_sent_with_an_offset_is_shown_in_england() -> None:
    body = example("escalation-manager")
    body["time_sensitivity"]["respond_by"] = "2026-07-01T23:30:00-04:00"  # 04:30 BST next day
    document = page(body, now=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert "Thu 2 Jul 2026, 04:30 BST" in document
    assert "(in 15 hours 30 minutes)" in document


@pytest.mark.parametrize(
    ("now", "wording"),
    [
        (datetime(2026, 11, 21, 17, 5, tzinfo=UTC), "overdue by 2 hours 5 minutes"),
        (datetime(2026, 11, 21, 15, 0, 1, tzinfo=UTC), "overdue by 1 minute"),
        (datetime(2026, 11, 21, 15, 0, tzinfo=UTC), "due now"),
        (datetime(2026, 11, 21, 14, 59, 30, tzinfo=UTC), "due in less than a minute"),
        (datetime(2026, 11, 21, 14, 0, tzinfo=UTC), "in 1 hour"),
        (datetime(2026, 11, 19, 13, 0, tzinfo=UTC), "in 2 days 2 hours"),
        (datetime(2026, 11, 22, 15, 0, tzinfo=UTC), "overdue by 1 day"),
    ],
)
def test_the_time_left_or_overdue_is_measured_from_when_the_page_was_made(
    now: datetime, wording: str
) -> None:
    document = page(example("escalation-manager"), now=now)
    assert f"({wording})</span>" in document
    assert ('class="overdue"' in document) == wording.startswith("overdue")


def test_no_respond_by_is_said_and_no_priority_is_said() -> None:
    body = example("handover-crisis")
    del body["time_sensitivity"]
    document = page(body)
    assert "No respond-by time given" in document
    assert "Priority not given" in document
    assert '<header class="urgency" id="respond-by">' in document
    assert "<title>Handover summary — Crisis</title>" in document


@pytest.mark.parametrize(
    ("priority", "shown"),
    [
        ("emergency", "Emergency"),
        ("very-urgent", "Very urgent"),
        ("urgent", "Urgent"),
        ("routine", "Routine"),
    ],
)
def test_the_priority_leads_the_page(priority: str, shown: str) -> None:
    body = example("handover-crisis")
    body["time_sensitivity"]["priority"] = priority
    document = page(body)
    assert f'<h1><span class="priority priority-{priority}">{shown}</span></h1>' in document
    assert f'<header class="urgency urgency-{priority}" id="respond-by">' in document
    assert document.index("<h1>") < document.index("<h2>")


def test_the_date_of_birth_shows_the_age_in_england_on_the_day() -> None:
    body = example("handover-crisis")  # born 2 March 1994
    before = page(body, now=datetime(2026, 3, 1, 23, 59, tzinfo=UTC))
    on_the_day = page(body, now=datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    assert "2 Mar 1994</time> (aged 31)" in before
    assert "2 Mar 1994</time> (aged 32)" in on_the_day


def test_a_person_with_no_nhs_number_yet_is_shown_by_the_senders_own_number() -> None:
    body = example("handover-crisis")
    body["patient"] = {
        "local_identifier": {
            "system": "https://example-recovery.example.org/Id/client-number",
            "value": "C-000417",
        },
        "nhs_number_status": "03",
        "name": {"given": "Alex", "family": "Example"},
    }
    document = page(body)
    assert "<dt>NHS number</dt><dd>None yet</dd>" in document
    assert "C-000417 (the sender&#x27;s, AZZ)" in document
    assert "Trace required" in document


def test_the_address_is_shown_with_the_person_for_a_home_visit_never_in_the_title() -> None:
    document = page(full_escalation())
    person = document[document.index('id="patient"') :]
    person = person[: person.index("</section>")]
    assert (
        "<dt>Address</dt><dd><bdi>Flat 2</bdi>, <bdi>14 Example Street</bdi>, "
        "<bdi>Exampletown</bdi>, <bdi>ZZ99 3VZ</bdi></dd>"
    ) in person
    title = document.split("<title>")[1].split("</title>")[0]
    for part in ("Flat 2", "Example Street", "Exampletown", "ZZ99"):
        assert part not in title


# --- The checklist's gaps ----------------------------------------------------------------


def test_an_incomplete_handover_lists_what_is_missing_in_words_before_the_person() -> None:
    missing = ("sender.contact", "key_risks[1].level", "legal", "sender.contact", "made.up")
    document = page(example("handover-crisis"), incomplete=missing)
    box = document[document.index('id="incomplete"') : document.index('id="patient"')]
    assert "Incomplete handover — missing:" in box
    assert (
        "<ul><li>call-back number</li><li>key risk level (item 2)</li>"
        "<li>legal status and capacity</li><li>made.up</li></ul>"
    ) in box
    assert document.index('id="key-risks"') < document.index('id="incomplete"')


def test_an_incomplete_escalation_says_so() -> None:
    document = page(example("escalation-manager"), incomplete=("escalation.next_action",))
    assert "Incomplete escalation — missing:" in document
    assert "<li>next action</li>" in document
    assert "Incomplete handover" not in document


def test_a_complete_referral_has_no_gaps_box() -> None:
    document = page(example("handover-crisis"))
    assert "Incomplete" not in document
    assert 'id="incomplete"' not in document


def test_both_datasets_are_accepted() -> None:
    handover = parse_dataset(example("handover-crisis"))
    escalation = parse_dataset(example("escalation-manager"))
    assert isinstance(handover, Handover)
    assert isinstance(escalation, EscalationSummary)
    assert "Handover summary" in summary_html(handover, context())
    assert "Escalation summary" in summary_html(escalation, context())


# --- Arrived late: overdue on receipt, escalated long before it was received ----------------


def with_context(body: dict[str, Any], **changes: Any) -> str:
    return summary_html(parse_dataset(body), replace(context(), **changes))


def test_overdue_on_receipt_is_shown_in_the_banner_with_how_late_it_arrived() -> None:
    body = example("escalation-manager")  # due 15:00 UTC
    arrived = datetime(2026, 11, 21, 15, 20, tzinfo=UTC)
    document = with_context(
        body, overdue_on_receipt=True, received_at=arrived, generated_at=arrived
    )
    banner = document[: document.index("</header>")]
    assert (
        '<p class="late" id="overdue-on-receipt"><strong>Overdue on receipt</strong>: it '
        "arrived 20 minutes after its respond-by</p>"
    ) in banner
    assert "(overdue by 20 minutes)" in banner
    # Without a time of receipt it is still said.
    document = with_context(body, overdue_on_receipt=True, generated_at=arrived)
    assert "<strong>Overdue on receipt</strong>: its respond-by had passed" in document
    assert "Overdue on receipt" not in page(body)


@pytest.mark.parametrize(
    ("escalated_at", "received", "flag"),
    [
        (
            "2026-11-21T09:10:00Z",
            datetime(2026, 11, 21, 13, 40, tzinfo=UTC),
            '<time datetime="2026-11-21T09:10:00Z">09:10</time>, received '
            '<time datetime="2026-11-21T13:40:00Z">13:40</time>: 4 hours 30 minutes later',
        ),
        (
            "2026-11-20T22:00:00Z",
            datetime(2026, 11, 21, 13, 40, tzinfo=UTC),
            '<time datetime="2026-11-20T22:00:00Z">Fri 20 Nov, 22:00</time>, received '
            '<time datetime="2026-11-21T13:40:00Z">13:40</time>: 15 hours 40 minutes later',
        ),
        ("2026-11-21T12:40:00Z", datetime(2026, 11, 21, 13, 40, tzinfo=UTC), None),
        ("2026-11-21T12:39:00Z", datetime(2026, 11, 21, 13, 40, tzinfo=UTC), "1 hour 1 minute"),
    ],
)
def test_an_escalation_received_more_than_an_hour_after_it_was_made_is_flagged(
    escalated_at: str, received: datetime, flag: str | None
) -> None:
    assert timedelta(hours=1) == LATE_ESCALATION
    body = example("escalation-manager")
    body["escalation"]["escalated_at"] = escalated_at
    document = with_context(body, received_at=received, generated_at=received)
    if flag is None:
        assert 'id="late-escalation"' not in document
        return
    banner = document[: document.index("</header>")]
    assert '<p class="late" id="late-escalation"><strong>Received late</strong>: escalated' in (
        banner
    )
    assert flag in banner


def test_without_a_time_of_receipt_or_escalation_nothing_is_flagged_late() -> None:
    body = example("escalation-manager")
    assert 'id="late-escalation"' not in with_context(body, received_at=None)
    del body["escalation"]["escalated_at"]
    assert 'id="late-escalation"' not in with_context(body, received_at=NOW)
    # A handover has no escalation step to be late.
    assert 'id="late-escalation"' not in with_context(example("handover-crisis"), received_at=NOW)


# --- The ladder --------------------------------------------------------------------------

MANAGER = LadderContact("Crisis team duty manager", "01632 960101")
ON_CALL = LadderContact("Trust on-call manager", "01632 960102")
DUE = datetime(2026, 11, 21, 14, 25, tzinfo=UTC)


def ladder(**changes: Any) -> LadderPosition:
    position = LadderPosition(
        level="Manager",
        contact=None,
        respond_by=DUE,
        answered=False,
        missed=False,
        next_level="Senior",
        next_contact=ON_CALL,
    )
    return replace(position, **changes)


def ladder_text(position: LadderPosition, now: datetime = NOW) -> str:
    document = with_context(example("escalation-manager"), ladder=position, generated_at=now)
    section = document[document.index('<section class="ladder" id="ladder"') :]
    checked = parsed(section[: section.index("</section>") + len("</section>")])
    return "".join(checked.text).strip()


@pytest.mark.parametrize(
    ("position", "said"),
    [
        (
            ladder(),
            "Manager step; if no response by 14:25, steps up to the Trust on-call manager, "
            "01632 960102",
        ),
        (
            ladder(contact=MANAGER),
            "Manager step (Crisis team duty manager, 01632 960101); if no response by 14:25, "
            "steps up to the Trust on-call manager, 01632 960102",
        ),
        (ladder(answered=True), "Manager step: answered"),
        (
            ladder(missed=True),
            "Manager step; no response by 14:25; steps up to the Trust on-call manager, "
            "01632 960102",
        ),
        (
            ladder(level="Senior", contact=ON_CALL, next_level=None, next_contact=None),
            "Senior step (Trust on-call manager, 01632 960102); respond by 14:25; top of the "
            "ladder",
        ),
        (
            ladder(level="Senior", missed=True, next_level=None, next_contact=None),
            "Senior step; no response by 14:25; top of the ladder",
        ),
        (
            ladder(respond_by=None),
            "Manager step; if not answered, steps up to the Trust on-call manager, 01632 960102",
        ),
        (
            ladder(next_contact=None),
            "Manager step; if no response by 14:25, steps up to the Senior step",
        ),
        (
            ladder(next_contact=LadderContact("Trust on-call manager")),
            "Manager step; if no response by 14:25, steps up to the Trust on-call manager",
        ),
    ],
)
def test_the_ladder_position_says_what_happens_if_nobody_answers(
    position: LadderPosition, said: str
) -> None:
    assert ladder_text(position) == said


def test_the_ladder_line_is_just_under_the_banner_in_england_time_and_tap_to_call() -> None:
    summer = ladder(respond_by=datetime(2026, 7, 1, 13, 25, tzinfo=UTC))
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert "if no response by 14:25," in ladder_text(summer, now)  # BST
    tomorrow = ladder(respond_by=datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    assert "if no response by Sun 22 Nov, 09:00," in ladder_text(tomorrow)
    document = with_context(example("escalation-manager"), ladder=ladder(contact=MANAGER))
    assert '<a href="tel:01632960102">01632 960102</a>' in document
    assert '<time datetime="2026-11-21T14:25:00Z">14:25</time>' in document
    assert document.index("</header>") < document.index('id="ladder"')
    assert document.index('id="ladder"') < document.index('id="request"')
    # No ladder, no line.
    assert 'id="ladder"' not in page(example("escalation-manager"))


def test_ladder_names_from_configuration_are_escaped() -> None:
    odd = ladder(level="<b>Manager</b>", next_contact=LadderContact("A & B <team>", "01632 960102"))
    document = with_context(example("escalation-manager"), ladder=odd)
    assert "&lt;b&gt;Manager&lt;/b&gt; step" in document
    assert "the A &amp; B &lt;team&gt;, " in document
    assert "<b>" not in document


def test_a_ladder_deadline_without_its_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        replace(context(), ladder=ladder(respond_by=datetime(2026, 11, 21, 14, 25)))


# --- A call-back number always -------------------------------------------------------------

CONFIGURED = ConfiguredCallBack("01632 960200", "Community Recovery Team North duty worker")


def test_the_senders_own_call_back_number_comes_first() -> None:
    body = example("handover-crisis")  # contact 01632 960001
    document = with_context(body, sender_call_back=CONFIGURED)
    assert '<p class="callback">Call back: <a href="tel:01632960001">01632 960001</a></p>' in (
        document
    )
    assert "960200" not in document


def test_without_one_the_sending_organisations_configured_number_is_given() -> None:
    body = example("escalation-manager")  # no sender.contact
    document = with_context(body, sender_call_back=CONFIGURED)
    assert '<p class="callback">Call back: <a href="tel:01632960200">01632 960200</a></p>' in (
        document
    )
    assert (
        '<p class="source">Community Recovery Team North duty worker: the sending '
        "organisation's configured number (the sender gave none)</p>"
    ) in document
    unnamed = with_context(body, sender_call_back=ConfiguredCallBack("01632 960200"))
    assert '<p class="source">The sending organisation\'s configured number' in unnamed


def test_with_no_number_at_all_the_page_says_so_and_names_the_sender() -> None:
    names = Names(organisations={"AZZ": "Example Community Recovery Provider"})
    document = with_context(example("escalation-manager"), names=names)
    assert '<p class="callback">No call-back number given</p>' in document
    who = document[document.index('<p class="who">') :]
    assert who.index("Example Community Recovery Provider (<bdi>AZZ</bdi>)") < who.index("</p>")


# --- Names, not codes ----------------------------------------------------------------------

NAMES = Names(
    organisations={
        "AZZ": "Example Community Recovery Provider",
        "RZZ": "Example Mental Health NHS Foundation Trust",
    },
    services={"crisis-resolution-home-treatment": "Crisis resolution and home treatment team"},
    localities={"north": "North Exampleshire"},
)


def test_organisations_services_and_localities_are_shown_by_their_names() -> None:
    document = with_context(example("escalation-manager"), names=NAMES)
    sent_to = document[document.index('<section id="receiver">') :]
    sent_to = sent_to[: sent_to.index("</section>")]
    assert (
        "<dt>Organisation</dt><dd>Example Mental Health NHS Foundation Trust (<bdi>RZZ</bdi>)"
    ) in sent_to
    assert "<dt>Service</dt><dd>Crisis resolution and home treatment team</dd>" in sent_to
    step = document[document.index('id="escalation-step"') :]
    step = step[: step.index("</section>")]
    assert (
        "<dt>To</dt><dd><bdi>Duty manager</bdi>, Crisis resolution and home treatment team, "
        "Example Mental Health NHS Foundation Trust (<bdi>RZZ</bdi>)</dd>"
    ) in step
    assert "<dt>Locality</dt><dd>North Exampleshire</dd>" in document
    assert "Manager escalation" in document  # the level, by the code catalogue's name
    assert "crisis-resolution-home-treatment" not in document


def test_a_code_without_a_name_is_shown_as_sent() -> None:
    body = example("handover-crisis")
    body["receiver"]["service"] = "night-sitting"
    document = with_context(body, names=NAMES)
    assert "<dt>Service</dt><dd><bdi>night-sitting</bdi></dd>" in document
    unnamed = page(example("handover-crisis"))
    assert "<dt>Organisation</dt><dd>ODS <bdi>RZZ</bdi></dd>" in unnamed
    assert "<dt>Locality</dt><dd><bdi>north</bdi></dd>" in unnamed


def test_a_safeguarding_concern_shows_its_data_category_by_name() -> None:
    body = example("handover-crisis")
    body["pathway"] = "safeguarding"
    assert "<dt>Data category</dt><dd>Safeguarding concern</dd>" in page(body)
    assert "Data category" not in page(example("handover-crisis"))


def test_free_text_withheld_by_an_agreement_is_said_at_the_top() -> None:
    document = with_context(example("handover-crisis"), withheld=True)
    assert document.index('id="withheld"') < document.index('id="request"')
    assert "withholds free text from your organisation" in document
    assert 'id="withheld"' not in page(example("handover-crisis"))


def test_what_is_asked_is_always_said_in_one_line() -> None:
    body = example("handover-crisis")
    assert (
        '<p class="ask"><strong>Crisis response</strong>: <bdi>Same-day crisis assessment'
    ) in page(body)
    body["request"] = {"type": "advice"}
    assert '<p class="ask"><strong>Advice</strong></p>' in page(body)
    body["request"] = {"summary": "Call me."}
    assert '<p class="ask"><bdi>Call me.</bdi></p>' in page(body)
    del body["request"]
    assert '<p class="ask">Not stated: call the sender</p>' in page(body)
