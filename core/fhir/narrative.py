"""FHIR R4's rules for narrative XHTML (`text.div`): what another organisation wrote may
be displayed by a Trust's system, so it must not be able to run or load anything there.

R4 (Narrative, the xhtml data type; invariants txt-1 and txt-2) allows one `div` in the
XHTML namespace holding only basic formatting elements and attributes, with some text,
and no scripts, event attributes, forms, frames, objects or external content. Checked
here with the standard library's expat parser, with no document type, entity
declarations or processing instructions (so no entity can expand), and nothing an HTML
reader would parse differently from XML: no comments, no CDATA sections. Links may only
go to the web, mail or a phone number; images only to a contained image or a data URL;
styles may not load anything.

Messages name the rule broken, never the text: an element or attribute is named only when
it is one of the known-forbidden ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from xml.parsers import expat

from core.fhir.issues import Issue, IssueCode, element_path

XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"
_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


# R4's basic formatting elements, as the HL7 validator lists them for txt-1.
ALLOWED_ELEMENTS = _names(
    "p br div h1 h2 h3 h4 h5 h6 a span b em i strong small big tt dfn q var abbr acronym "
    "cite blockquote hr address bdo kbd sub sup ul ol li dl dt dd pre table caption "
    "colgroup col thead tr tfoot tbody th td code samp img map area"
)
_ANY_ELEMENT_ATTRIBUTES = _names(
    "title style class id lang dir accesskey tabindex "
    "span width align valign char charoff abbr axis headers scope rowspan colspan"
)
_ELEMENT_ATTRIBUTES = _names(
    "a.href a.name a.charset a.type a.hreflang a.rel a.rev a.shape a.coords "
    "img.src img.border img.alt img.longdesc img.height img.width img.usemap img.ismap "
    "map.name area.shape area.coords area.href area.nohref area.alt "
    "blockquote.cite q.cite table.summary table.width table.border table.frame table.rules "
    "table.cellspacing table.cellpadding td.nowrap"
)
_XML_ATTRIBUTES = frozenset({f"{_XML_NAMESPACE} lang", f"{_XML_NAMESPACE} space"})

# Named in a refusal, being what an attacker sends (scripts, forms, embeds, documents).
_FORBIDDEN_ELEMENTS = _names(
    "script noscript iframe frame frameset object embed applet param base link meta style "
    "form input button select option textarea label fieldset html head body title svg math "
    "audio video source track canvas template"
)

# Attributes holding a URL, and where each may lead.
_LINKS = frozenset({"href", "cite", "longdesc"})
_LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_IMAGE_DATA = re.compile(r"data:image/(png|gif|jpeg|webp);base64,", re.IGNORECASE)
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
# Browsers ignore ASCII whitespace and controls inside a URL's scheme ("java\tscript:").
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]")
# What lets a style load or run something: url(), @import, IE's expression() and
# behaviours, Mozilla's bindings, and backslash escapes that could spell any of them.
_STYLE_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STYLE_LOADS = ("url(", "image-set(", "@import", "expression", "behavior", "-moz-binding", "\\")

_RULES = "FHIR R4 narrative, invariant txt-1"


class _Broken(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def narrative_issues(resource: Mapping[str, Any], resource_type: str) -> list[Issue]:
    """One issue per narrative in the resource (contained and Bundle entry resources
    included) that breaks R4's rules, at its `text.div`."""
    issues = []
    for where, div in _narratives(resource, ()):
        problem = xhtml_problem(div)
        if problem is not None:
            issues.append(Issue(IssueCode.INVARIANT, problem, element_path(resource_type, where)))
    return issues


def xhtml_problem(div: str) -> str | None:
    """What breaks R4's narrative rules in `div`, or None if it keeps them."""
    checker = _Checker()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.XmlDeclHandler = checker.declaration
    parser.StartDoctypeDeclHandler = checker.doctype
    parser.EntityDeclHandler = checker.entity
    parser.ProcessingInstructionHandler = checker.instruction
    parser.CommentHandler = checker.comment
    parser.StartCdataSectionHandler = checker.cdata
    parser.StartElementHandler = checker.start
    parser.EndElementHandler = checker.end
    parser.CharacterDataHandler = checker.text
    try:
        parser.Parse(div, True)
    except _Broken as broken:
        return broken.problem
    except expat.ExpatError:
        return (
            "text.div is not well-formed XHTML (HTML's named entities, such as &nbsp;, are "
            "not XML: write the character itself or a numeric reference)."
        )
    if not checker.has_content:
        return (
            "text.div has no content: a narrative must hold some text "
            "(FHIR R4 narrative, invariant txt-2)."
        )
    return None


def _narratives(
    node: Any, where: tuple[int | str, ...]
) -> Iterator[tuple[tuple[int | str, ...], str]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _narratives(item, (*where, index))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key == "text" and isinstance(value, Mapping) and isinstance(value.get("div"), str):
                yield (*where, "text", "div"), value["div"]
            else:
                yield from _narratives(value, (*where, key))


class _Checker:
    """Expat's callbacks: each raises _Broken at the first rule broken."""

    def __init__(self) -> None:
        self.depth = 0
        self.has_content = False

    def declaration(self, *_: object) -> None:
        raise _Broken("text.div must start with its <div>, not an XML declaration.")

    def doctype(self, *_: object) -> None:
        raise _Broken("text.div may not declare a document type (no DOCTYPE, no entities).")

    def entity(self, *_: object) -> None:
        raise _Broken("text.div may not declare entities.")

    def instruction(self, *_: object) -> None:
        raise _Broken("text.div may not hold processing instructions.")

    def comment(self, _: str) -> None:
        # An HTML reader ends some comments XML keeps open ("<!-->"): what follows runs.
        raise _Broken("text.div may not hold comments.")

    def cdata(self) -> None:
        # An HTML reader takes "<![CDATA[" as a comment that ends at the first ">".
        raise _Broken("text.div may not hold CDATA sections; escape the text instead.")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(" ")
        if self.depth == 0 and (namespace, local) != (XHTML_NAMESPACE, "div"):
            raise _Broken(
                f'text.div must be one <div xmlns="{XHTML_NAMESPACE}"> element holding the '
                "narrative."
            )
        if namespace != XHTML_NAMESPACE:
            raise _Broken(f"Every element in text.div must be in the XHTML namespace ({_RULES}).")
        _check_element(local)
        for attribute, value in attributes.items():
            _check_attribute(local, attribute, value)
        if local == "img":
            self.has_content = True
        self.depth += 1

    def end(self, _: str) -> None:
        self.depth -= 1

    def text(self, data: str) -> None:
        if data.strip():
            self.has_content = True


def _check_element(local: str) -> None:
    if local in ALLOWED_ELEMENTS:
        return
    if local in _FORBIDDEN_ELEMENTS:
        raise _Broken(
            f"text.div may not hold <{local}>: narrative holds no scripts, styles, forms, "
            f"frames, embedded objects or document elements ({_RULES})."
        )
    raise _Broken(
        "text.div holds an element narrative may not: only basic formatting elements "
        f"(p, div, span, b, i, a, ul, ol, li, table, img and the like) are allowed ({_RULES})."
    )


def _check_attribute(element: str, attribute: str, value: str) -> None:
    if attribute.lower().startswith("on"):
        raise _Broken(f"text.div may not hold event attributes such as onclick ({_RULES}).")
    if " " in attribute:
        if attribute not in _XML_ATTRIBUTES:
            raise _Broken(
                f"text.div may hold no namespaced attribute but xml:lang and xml:space ({_RULES})."
            )
        return
    if attribute not in _ANY_ELEMENT_ATTRIBUTES and f"{element}.{attribute}" not in (
        _ELEMENT_ATTRIBUTES
    ):
        raise _Broken(
            f"text.div holds an attribute <{element}> may not have in narrative ({_RULES})."
        )
    if attribute in _LINKS and not _is_safe_link(value):
        raise _Broken(
            f"A link in text.div ({element} {attribute}) may only lead to a web page "
            "(http, https), an e-mail address, a phone number or a place in the narrative."
        )
    if attribute == "src" and not _is_contained_image(value):
        raise _Broken(
            "An image in text.div must be contained: a reference within the resource (#id) "
            "or a data: URL of a PNG, GIF, JPEG or WebP image (nothing is loaded from elsewhere)."
        )
    if attribute == "usemap" and not value.startswith("#"):
        raise _Broken("An image map in text.div must be one within the narrative (#name).")
    if attribute == "style" and _style_loads(value):
        raise _Broken(
            "A style in text.div may not load or run anything (no url(), @import, "
            "expression() or escapes)."
        )


def _is_safe_link(value: str) -> bool:
    plain = _IGNORED_IN_URL.sub("", value).lower()
    scheme = _SCHEME.match(plain)
    if scheme is None:
        # A colon before any "/", "?" or "#" would still be read as a scheme.
        return ":" not in plain.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return scheme.group(1) in _LINK_SCHEMES


def _is_contained_image(value: str) -> bool:
    plain = _IGNORED_IN_URL.sub("", value)
    return plain.startswith("#") or _IMAGE_DATA.match(plain) is not None


def _style_loads(value: str) -> bool:
    plain = _IGNORED_IN_URL.sub("", _STYLE_COMMENT.sub("", value)).lower()
    return any(marker in plain for marker in _STYLE_LOADS)
