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

from mappings.datasets import EscalationResponse, EscalationSummary, Handover


def json_request_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body `model` describes."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": _standalone(model)}},
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


HANDOVER = json_request_body(
    Handover, "A handover minimum dataset (spec/handover-minimum-dataset.md)."
)
ESCALATION = json_request_body(
    EscalationSummary, "An escalation summary: the handover dataset plus the escalation."
)
ESCALATION_RESPONSE = json_request_body(
    EscalationResponse, "A receiver's response to an escalation."
)
