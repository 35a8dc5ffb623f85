"""The request bodies of the routes that read their body raw, declared for the OpenAPI
document (a client generator or a schema fuzzer needs them).

The dataset routes parse the bytes themselves (size and shape limits, the stored raw
body, field-named errors), so FastAPI never sees a body parameter and documented none.
These declarations are documentation only: validation and its messages stay where
they are. Each schema is the dataset model's own JSON Schema with its definitions
inlined, so that it stands alone inside the document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.handover.dataset import EscalationResponse, EscalationSummary, Handover


def json_request_body(
    model: type[BaseModel], description: str, example: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body `model` describes."""
    media_type: dict[str, Any] = {"schema": _standalone(model)}
    if example is not None:
        media_type["example"] = example
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": media_type},
        }
    }


def _standalone(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    definitions: dict[str, Any] = schema.pop("$defs", {})
    inlined: dict[str, Any] = _inline(schema, definitions)
    return inlined


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


# Datasets the demo configuration accepts (a test NHS number, the demo's organisations,
# what the crisis checklist requires): a generator starts from them, and a fuzzer
# reaches the success path (a respond-by in the future, so it is not marked overdue).
_CRISIS = {
    "external_id": "EXAMPLE-1",
    "pathway": "crisis",
    "patient": {"nhs_number": "9434765919", "nhs_number_status": "01"},
    "sender": {"ods": "AZZ"},
    "receiver": {"ods": "RZZ", "service": "crisis-resolution-home-treatment"},
    "current_presentation": "Example presentation.",
    "key_risks": [{"type": "self-harm", "level": "high"}],
    "request": {"summary": "Example request.", "type": "crisis-response"},
    "time_sensitivity": {"priority": "very-urgent", "respond_by": "2099-01-01T12:00:00Z"},
    "sharing": {"basis": "direct-care-implied", "consent_obtained": True},
}

HANDOVER = json_request_body(
    Handover,
    "A handover minimum dataset (spec/handover-minimum-dataset.md).",
    {"dataset": "handover", **_CRISIS},
)
ESCALATION = json_request_body(
    EscalationSummary,
    "An escalation summary: the handover dataset plus the escalation.",
    {
        "dataset": "escalation",
        **_CRISIS,
        "external_id": "EXAMPLE-2",
        "escalation": {
            "level": "manager",
            "information_shared": "Example handover.",
            "next_action": "Example next action.",
        },
    },
)
ESCALATION_RESPONSE = json_request_body(
    EscalationResponse, "A receiver's response to an escalation."
)
