"""Properties of the decision point over random requests, statements and agreements."""

from __future__ import annotations

import dataclasses
import functools
import random as stdlib_random
from datetime import UTC, date, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from consent.agreements import Agreement, cover, shared_with
from consent.decision import decide
from consent.model import DATA_CATEGORIES, OVERRIDING_ROLES, Obligation, Rule, SharingRequest
from consent.purposes import AGREEMENT_PURPOSES, Purpose
from consent.statements import FUTURE_SKEW, ConsentStatement, Period, Provision

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
ORGS = ("AZZ", "RZZ", "RYY", "AXX")
ROLES = (*sorted(OVERRIDING_ROLES), "ig-lead", "operations", None)
RESOURCE_TYPES = ("ServiceRequest", "Communication", "Flag", "Task", "AuditEvent")
LABELS = (
    ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"),
    ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "V"),
    ("urn:other", "R"),
)
PURPOSE_CODES = ("TREAT", "ETREAT", "BTG", "direct-care", "safeguarding", "service-improvement")
STATUSES = ("active", "active", "active", "draft", "inactive", "entered-in-error")
SETTINGS = settings(max_examples=200, deadline=None)

# Moments near NOW, few enough that statements and periods often tie or touch.
moments = st.integers(min_value=-3, max_value=3).map(lambda days: NOW + timedelta(days=days))
# When the gateway stored a statement: never after its own now.
stored_at = st.integers(min_value=-3, max_value=0).map(lambda days: NOW + timedelta(days=days))


def _sparse(elements: st.SearchStrategy, max_size: int = 2) -> st.SearchStrategy:
    """Mostly no criterion, so that provisions often apply."""
    return st.one_of(
        st.just(frozenset()),
        st.just(frozenset()),
        st.frozensets(elements, min_size=1, max_size=max_size),
    )


periods = st.builds(Period, st.none() | moments, st.none() | moments)


CRITERIA = ("actors", "unresolved", "purposes", "period", "data_period", "classes", "labels")

# The strategies the composites draw from are built once, here: a strategy made afresh at
# each draw is validated afresh too, which was most of these tests' time.


def _some(values: tuple[object, ...]) -> st.SearchStrategy:
    """At least one value for each criterion stated."""
    return st.frozensets(st.sampled_from(values), min_size=1, max_size=2)


_STATED = st.lists(st.sampled_from(CRITERIA), max_size=2, unique=True)
_PROVISION_TYPES = st.sampled_from((None, "permit", "deny"))
_ACTORS = _some(ORGS)
_PURPOSES = _some(PURPOSE_CODES)
_CLASSES = _some(DATA_CATEGORIES + RESOURCE_TYPES)
_LABEL_SETS = _some(LABELS)


@functools.cache
def _children(depth: int) -> st.SearchStrategy[list[Provision]]:
    return st.lists(provisions(depth + 1), max_size=2 if depth == 0 else 1)


@st.composite
def provisions(draw: st.DrawFn, depth: int = 0) -> Provision:
    """A provision with at most two criteria, nested at most three deep below the root."""
    children: tuple[Provision, ...] = ()
    if depth < 3:
        children = tuple(draw(_children(depth)))
    stated = draw(_STATED)
    return Provision(
        type=draw(_PROVISION_TYPES),
        actors=draw(_ACTORS) if "actors" in stated else frozenset(),
        unresolved_actor="unresolved" in stated,
        purposes=draw(_PURPOSES) if "purposes" in stated else frozenset(),
        period=draw(periods) if "period" in stated else None,
        data_period=draw(periods) if "data_period" in stated else None,
        classes=draw(_CLASSES) if "classes" in stated else frozenset(),
        security_labels=draw(_LABEL_SETS) if "labels" in stated else frozenset(),
        provisions=children,
    )


_ROOT_PROVISIONS = provisions()


def with_paths(node: Provision, path: str = "provision") -> Provision:
    children = tuple(
        with_paths(child, f"{path}.provision[{index}]")
        for index, child in enumerate(node.provisions)
    )
    return dataclasses.replace(node, path=path, provisions=children)


_ONE_IN_SIX = st.integers(min_value=0, max_value=5)
_STATUSES = st.sampled_from(STATUSES)
_MAYBE_MOMENT = st.none() | moments


@st.composite
def statement(
    draw: st.DrawFn, id: str, custodians: st.SearchStrategy[str | None]
) -> ConsentStatement:
    unreadable = draw(_ONE_IN_SIX) == 0
    return ConsentStatement(
        id=id,
        status=draw(_STATUSES),
        recorded=draw(_MAYBE_MOMENT),
        last_updated=draw(stored_at),
        provision=None if unreadable else with_paths(draw(_ROOT_PROVISIONS)),
        custodian=draw(custodians),
        unreadable=unreadable,
    )


@functools.cache
def _statement_by(id: str, origin: str | None) -> st.SearchStrategy[ConsentStatement]:
    """Mostly recorded by `origin` (so that it governs the data), sometimes by another
    organisation, now and then by one that cannot be read."""
    return statement(id, st.sampled_from((origin, origin, origin, *ORGS, None)))


_UP_TO_THREE = st.integers(min_value=0, max_value=3)


@st.composite
def statements(
    draw: st.DrawFn, origin: str | None = "AZZ", prefix: str = "c"
) -> tuple[ConsentStatement, ...]:
    """Mostly recorded by `origin` (so that they govern the data), some by another
    organisation, a few by one that cannot be read."""
    count = draw(_UP_TO_THREE)
    return tuple(draw(_statement_by(f"{prefix}{index}", origin)) for index in range(count))


def _mostly_all(values: tuple[str, ...]) -> st.SearchStrategy:
    """Often every value, so that agreements often cover (and consent is reached)."""
    return st.just(frozenset(values)) | st.frozensets(st.sampled_from(values), min_size=1)


_AGREEMENT_COUNTS = {size: st.integers(min_value=size, max_value=4) for size in (0, 1)}
_ORDERS = {count: st.permutations(range(count)) for count in range(5)}
_STARTS = st.integers(min_value=-6, max_value=1)
_VERSIONS = st.sampled_from(("1", "2"))
_PARTIES = _mostly_all(ORGS)
_AGREED_PURPOSES = _mostly_all(AGREEMENT_PURPOSES)
_CATEGORIES = _mostly_all(DATA_CATEGORIES)
_LENGTHS = st.none() | st.integers(4, 8)
_AGREEMENT_STATUSES = st.sampled_from(("active", "active", "active", "draft", "suspended"))


@st.composite
def agreements(draw: st.DrawFn, min_size: int = 1) -> tuple[Agreement, ...]:
    count = draw(_AGREEMENT_COUNTS[min_size])
    found = []
    for index in draw(_ORDERS[count]):
        valid_from = TODAY + timedelta(draw(_STARTS))
        version = draw(_VERSIONS)
        parties = draw(_PARTIES)
        purposes = draw(_AGREED_PURPOSES)
        categories = draw(_CATEGORIES)
        length = draw(_LENGTHS)
        found.append(
            Agreement(
                id=f"DSA-{index:03d}",
                version=version,
                parties=parties,
                purposes=purposes,
                categories=categories,
                valid_from=valid_from,
                valid_to=None if length is None else valid_from + timedelta(length),
                status=draw(_AGREEMENT_STATUSES),
                withhold_free_text=draw(st.booleans()),
            )
        )
    return tuple(found)


_RECIPIENTS = st.sampled_from(ORGS)
_ROLES = st.sampled_from(ROLES)
_REQUEST_PURPOSES = st.sampled_from(Purpose)
_ACTIONS = st.sampled_from(("read", "write", "deliver"))
_REQUEST_CATEGORIES = st.sampled_from(DATA_CATEGORIES)
_PATIENTS = st.sampled_from(("9434765919", "9434765919", "9434765919", None))
_RESOURCE_TYPES = st.sampled_from(RESOURCE_TYPES)
_REQUEST_LABELS = _sparse(st.sampled_from(LABELS))
_JUSTIFICATIONS = st.sampled_from((None, "", "  ", "Risk to life"))
# Mostly data about a person; sometimes data about nobody (a Provenance, say).
_ABOUT_A_PERSON = st.sampled_from((True, True, True, False))


@functools.cache
def _actors(recipient: str) -> st.SearchStrategy[str]:
    return st.sampled_from((recipient, *ORGS))


@functools.cache
def _origins(recipient: str) -> st.SearchStrategy[str | None]:
    others = [org for org in ORGS if org != recipient]
    return st.sampled_from((*others, *others, recipient, None))


@st.composite
def requests(draw: st.DrawFn) -> SharingRequest:
    recipient = draw(_RECIPIENTS)
    return SharingRequest(
        actor=draw(_actors(recipient)),
        actor_role=draw(_ROLES),
        purpose=draw(_REQUEST_PURPOSES),
        action=draw(_ACTIONS),
        category=draw(_REQUEST_CATEGORIES),
        origin=draw(_origins(recipient)),
        recipient=recipient,
        patient=draw(_PATIENTS),
        resource_type=draw(_RESOURCE_TYPES),
        security_labels=draw(_REQUEST_LABELS),
        data_date=draw(_MAYBE_MOMENT),
        justification=draw(_JUSTIFICATIONS),
        about_a_person=draw(_ABOUT_A_PERSON),
    )


_REQUESTS = requests()


@functools.cache
def _statements_by(origin: str | None) -> st.SearchStrategy[tuple[ConsentStatement, ...]]:
    return statements(origin)


@st.composite
def sharings(draw: st.DrawFn) -> tuple[SharingRequest, tuple[ConsentStatement, ...]]:
    """A request, and the person's statements, mostly by the data's origin."""
    request = draw(_REQUESTS)
    return request, draw(_statements_by(request.origin))


# -- (a) no agreement, no sharing ------------------------------------------------------


@SETTINGS
@given(sharings())
def test_without_any_agreement_only_same_organisation_is_permitted(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
) -> None:
    request, consents = sharing
    decision = decide(request, consents, (), NOW)
    if request.origin is not None and request.origin == request.recipient:
        assert decision.permitted
        assert decision.rule is Rule.SAME_ORGANISATION
    else:
        assert not decision.permitted
        assert decision.rule in (Rule.NO_AGREEMENT, Rule.ORIGIN_UNKNOWN, Rule.PATIENT_UNKNOWN)


# -- a person not known is never shared ---------------------------------------------------


@SETTINGS
@given(sharings(), agreements())
def test_data_about_a_person_not_known_never_leaves_its_organisation(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
    deals: tuple[Agreement, ...],
) -> None:
    """Whatever the agreements, statements, purpose or justification: data of a kind that
    is always about a person, whose person was never established, is shared with no other
    organisation (fail closed)."""
    request, consents = sharing
    unknown = dataclasses.replace(request, patient=None, about_a_person=True)
    decision = decide(unknown, consents, deals, NOW)
    if unknown.origin is not None and unknown.origin == unknown.recipient:
        assert decision.permitted
    else:
        assert not decision.permitted


# -- (b) adding a deny never widens ----------------------------------------------------


@SETTINGS
@given(sharings(), agreements(), provisions(depth=3))
def test_a_newest_dissent_never_turns_a_deny_into_a_permit(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
    deals: tuple[Agreement, ...],
    root: Provision,
) -> None:
    request, consents = sharing
    before = decide(request, consents, deals, NOW)
    # Newer than any statement that counts (those are dated, or stored, by NOW), and
    # recorded by the data's origin, so that it governs the data.
    newest = NOW + FUTURE_SKEW
    dissent = ConsentStatement(
        id="c-new",
        status="active",
        recorded=newest,
        last_updated=NOW,
        provision=with_paths(dataclasses.replace(root, type="deny")),
        custodian=request.origin,
    )

    after = decide(request, (*consents, dissent), deals, NOW)

    if not before.permitted:
        assert not after.permitted


def _add_deny(node: Provision, where: list[int], deny: Provision) -> Provision:
    """node with deny appended as a child of the provision `where` leads to."""
    if not where or not node.provisions:
        return dataclasses.replace(node, provisions=(*node.provisions, deny))
    index = where[0] % len(node.provisions)
    children = list(node.provisions)
    children[index] = _add_deny(children[index], where[1:], deny)
    return dataclasses.replace(node, provisions=tuple(children))


@SETTINGS
@given(
    sharings(),
    agreements(),
    st.data(),
    provisions(depth=3),
    st.lists(st.integers(min_value=0, max_value=3), max_size=3),
)
def test_a_nested_deny_never_turns_a_deny_into_a_permit(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
    deals: tuple[Agreement, ...],
    data: st.DataObject,
    deny: Provision,
    where: list[int],
) -> None:
    request, consents = sharing
    readable = [i for i, s in enumerate(consents) if s.provision is not None]
    if not readable:
        return
    chosen = data.draw(st.sampled_from(readable))
    target = consents[chosen]
    assert target.provision is not None
    changed = dataclasses.replace(
        target,
        provision=with_paths(
            _add_deny(target.provision, where, dataclasses.replace(deny, type="deny"))
        ),
    )
    before = decide(request, consents, deals, NOW)

    after = decide(request, (*consents[:chosen], changed, *consents[chosen + 1 :]), deals, NOW)

    if not before.permitted:
        assert not after.permitted


# -- (c) deterministic, whatever the order ---------------------------------------------

# Two active statements that cannot be read: which one the refusal names must not depend
# on the order the store happens to return them in.
_TWO_UNREADABLE = tuple(
    ConsentStatement(id, "active", None, NOW - timedelta(days=1), None, "AZZ", unreadable=True)
    for id in ("c0", "c1")
)
_EVERYTHING = Agreement(
    id="DSA-000",
    version="1",
    parties=frozenset(ORGS),
    purposes=frozenset(AGREEMENT_PURPOSES),
    categories=frozenset(DATA_CATEGORIES),
    valid_from=TODAY - timedelta(days=30),
    valid_to=None,
    status="active",
)
_TREAT_READ = SharingRequest(
    actor="RZZ",
    actor_role="trust-crisis-system",
    purpose=Purpose.TREAT,
    action="read",
    category="referral",
    origin="AZZ",
    recipient="RZZ",
    patient="9434765919",
    resource_type="ServiceRequest",
)


@SETTINGS
@given(sharings(), agreements(), st.randoms(use_true_random=False))
@example((_TREAT_READ, _TWO_UNREADABLE), (_EVERYTHING,), stdlib_random.Random(0))
def test_decide_is_deterministic_and_order_free(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
    deals: tuple[Agreement, ...],
    random: stdlib_random.Random,
) -> None:
    request, consents = sharing
    first = decide(request, consents, deals, NOW)
    shuffled_consents = list(consents)
    shuffled_deals = list(deals)
    random.shuffle(shuffled_consents)
    random.shuffle(shuffled_deals)

    assert decide(request, consents, deals, NOW) == first
    assert decide(request, consents[::-1], deals[::-1], NOW) == first
    assert decide(request, shuffled_consents, shuffled_deals, NOW) == first


# -- (d) a permit rests on an agreement --------------------------------------------------


@SETTINGS
@given(sharings(), agreements())
def test_a_permit_names_an_agreement_unless_within_one_organisation(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
    deals: tuple[Agreement, ...],
) -> None:
    request, consents = sharing
    decision = decide(request, consents, deals, NOW)
    if not decision.permitted:
        assert decision.agreement is None
        assert not decision.obligations
        return
    if decision.rule is Rule.SAME_ORGANISATION:
        assert request.origin == request.recipient
        assert decision.agreement is None
        return
    labels = {deal.label for deal in deals}
    assert decision.agreement in labels
    permits = [r for r in decision.reasons if r.rule is Rule.AGREEMENT_PERMITS]
    assert [r.source for r in permits] == [decision.agreement]
    named = next(deal for deal in deals if deal.label == decision.agreement)
    assert request.origin in named.parties
    assert request.recipient in named.parties
    assert request.purpose.agreement_purpose in named.purposes
    assert request.category in named.categories
    assert named.in_force_rule(TODAY) is None
    assert (Obligation.WITHHOLD_FREE_TEXT in decision.obligations) is named.withhold_free_text
    assert (Obligation.RECORD_BREAK_GLASS in decision.obligations) is (
        request.purpose is Purpose.BTG or decision.rule is Rule.OVERRIDDEN
    )


# -- (e) a statement governs its custodian's records only -----------------------------


@SETTINGS
@given(sharings(), agreements(), st.data())
def test_a_statement_by_one_organisation_never_changes_a_decision_on_anothers_record(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
    deals: tuple[Agreement, ...],
    data: st.DataObject,
) -> None:
    """A statement by organisation X never changes a decision about a record whose
    origin is Y (X != Y), whatever it says, however recent, readable or not."""
    request, consents = sharing
    others = st.sampled_from([org for org in (*ORGS, None) if org != request.origin])
    by_others = data.draw(st.lists(statement("x", others), min_size=1, max_size=3))
    by_others = [dataclasses.replace(s, id=f"x{i}") for i, s in enumerate(by_others)]
    decision = decide(request, consents, deals, NOW)

    assert decide(request, (*consents, *by_others), deals, NOW) == decision
    assert decide(request, (*by_others, *consents), deals, NOW) == decision
    own = [s for s in consents if s.custodian is not None and s.custodian == request.origin]
    assert decide(request, own, deals, NOW) == decision


# -- (f) nothing dated in the future counts -------------------------------------------


@SETTINGS
@given(sharings(), agreements(), st.data(), st.integers(min_value=1, max_value=10_000))
def test_a_statement_dated_in_the_future_never_changes_a_decision(
    sharing: tuple[SharingRequest, tuple[ConsentStatement, ...]],
    deals: tuple[Agreement, ...],
    data: st.DataObject,
    minutes_ahead: int,
) -> None:
    request, consents = sharing
    ahead = NOW + FUTURE_SKEW + timedelta(minutes=minutes_ahead)
    future = data.draw(statement("f0", st.just(request.origin)))
    future = dataclasses.replace(future, status="active", recorded=ahead)

    assert decide(request, (*consents, future), deals, NOW) == decide(request, consents, deals, NOW)


# -- (g) shared_with agrees with cover ---------------------------------------------------


@SETTINGS
@given(agreements(min_size=0), st.sampled_from(ORGS), st.sampled_from(AGREEMENT_PURPOSES))
def test_shared_with_agrees_with_cover(
    deals: tuple[Agreement, ...], recipient: str, purpose: str
) -> None:
    shared = shared_with(deals, recipient, purpose, NOW)  # type: ignore[arg-type]

    assert recipient not in shared
    for origin in ORGS:
        if origin == recipient:
            continue
        listed = shared.get(origin, frozenset())
        for category in DATA_CATEGORIES:
            found = cover(deals, origin, recipient, purpose, category, NOW)  # type: ignore[arg-type]
            assert (found.agreement is not None) is (category in listed), (origin, category)
