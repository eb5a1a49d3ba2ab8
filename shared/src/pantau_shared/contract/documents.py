"""JSON Schema per event and an AsyncAPI 3 document, generated from the models.

`python -m pantau_shared.contract write DIR` refreshes the committed copies; a test fails when the
committed copies drift from the models, so every contract change shows up as a reviewable diff.
"""

import json
from pathlib import Path
from typing import Any

from .events import EVENT_TYPES
from .subjects import CONTRACT_MAJOR

CE_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject"],
    "properties": {
        "ce-specversion": {"const": "1.0"},
        "ce-id": {"type": "string", "format": "uuid", "description": "Also sent as Nats-Msg-Id"},
        "ce-source": {"type": "string", "description": "Producing service, e.g. /pantau/intake"},
        "ce-type": {"type": "string"},
        "ce-time": {"type": "string", "format": "date-time"},
        "ce-subject": {"type": "string", "description": "Id of the report, case or delivery"},
        "ce-agency": {"type": "string", "description": "Agency the event belongs to"},
        "content-type": {"const": "application/json"},
        "Nats-Msg-Id": {"type": "string"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
    },
}


def event_schemas() -> dict[str, dict[str, Any]]:
    return {event_type: model.model_json_schema() for event_type, model in EVENT_TYPES.items()}


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, model in EVENT_TYPES.items():
        name = event_type.replace(".", "_")
        messages[name] = {
            "name": event_type,
            "title": event_type,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"schemas/{event_type}.json"},
        }
        channels[name] = {
            "address": f"{{root}}.{CONTRACT_MAJOR}.{{agency}}.{model.SUBJECT}",
            "parameters": {
                "root": {"description": "Deployment root, `pantau` by default"},
                "agency": {"description": "Agency id, e.g. bawaslu-3375"},
            },
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Pantau event contract",
            "version": f"{CONTRACT_MAJOR}",
            "description": "CloudEvents 1.0 over NATS JetStream in binary content mode.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": {"CloudEventHeaders": CE_HEADERS_SCHEMA}},
    }


def render() -> dict[str, str]:
    """Relative path -> file text, for writing or for comparing with the committed copies."""
    files = {
        f"schemas/{event_type}.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for event_type, schema in event_schemas().items()
    }
    files["asyncapi.json"] = json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path) -> None:
    for relative, text in render().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
