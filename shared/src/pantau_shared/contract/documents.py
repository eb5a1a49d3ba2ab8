"""JSON Schema per event and per request/reply method, and an AsyncAPI 3 document, from the models.

`python -m pantau_shared.contract write DIR` refreshes the committed copies; a test fails when the
committed copies drift from the models, so every contract change shows up as a reviewable diff.
"""

import json
from pathlib import Path
from typing import Any

from .events import EVENT_TYPES
from .federation import FederationEvent
from .file_formats import FILE_FORMATS
from .rpc import METHODS, RpcFailure
from .subjects import CONTRACT_MAJOR

PARAMETERS = {
    "root": {"description": "Deployment root, `pantau` by default"},
    "agency": {"description": "Agency id, e.g. bawaslu-3375"},
}

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


def method_schemas() -> dict[str, dict[str, Any]]:
    """`{method}.request` and `{method}.response` for each method, and the reply's error half."""
    schemas = {"failure": RpcFailure.model_json_schema(mode="serialization")}
    for name, method in METHODS.items():
        schemas[f"{name}.request"] = method.request.model_json_schema()
        schemas[f"{name}.response"] = method.response.model_json_schema(mode="serialization")
    return schemas


def _request_reply(
    channels: dict[str, Any], messages: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for name, method in METHODS.items():
        key = name.replace(".", "_")
        messages[f"{key}_request"] = {
            "name": f"{name} request",
            "contentType": "application/json",
            "payload": {"$ref": f"schemas/rpc/{name}.request.json"},
        }
        schemas[f"{key}_reply"] = {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": {"$ref": f"schemas/rpc/{name}.response.json"}},
                },
                {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"$ref": "schemas/rpc/failure.json"}},
                },
            ]
        }
        messages[f"{key}_reply"] = {
            "name": f"{name} reply",
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{key}_reply"},
        }
        channels[f"rpc_{key}"] = {
            "address": f"{{root}}.rpc.{CONTRACT_MAJOR}.{{agency}}.{name}",
            "parameters": PARAMETERS,
            "messages": {f"{key}_request": {"$ref": f"#/components/messages/{key}_request"}},
        }
        # The reply goes to the requester's inbox, which NATS chooses per request.
        channels[f"rpc_{key}_reply"] = {
            "address": None,
            "messages": {f"{key}_reply": {"$ref": f"#/components/messages/{key}_reply"}},
        }
        operations[key] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/rpc_{key}"},
            "summary": method.summary,
            "description": f"A {method.kind.value}, answered by {method.service}.",
            "tags": [{"name": method.kind.value}, {"name": method.service}],
            "messages": [{"$ref": f"#/channels/rpc_{key}/messages/{key}_request"}],
            "reply": {
                "channel": {"$ref": f"#/channels/rpc_{key}_reply"},
                "messages": [{"$ref": f"#/channels/rpc_{key}_reply/messages/{key}_reply"}],
            },
        }
    return operations


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEventHeaders": CE_HEADERS_SCHEMA}
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
        address, parameters = f"{{root}}.{CONTRACT_MAJOR}.{{agency}}.{model.SUBJECT}", PARAMETERS
        if issubclass(model, FederationEvent):
            # Between instances: addressed to the receiving agency first, then the sender.
            address = f"{{root}}.fed.{CONTRACT_MAJOR}.{{to_agency}}.{{agency}}.{model.SUBJECT}"
            parameters = {**PARAMETERS, "to_agency": {"description": "Receiving agency, on another instance"}}
        channels[name] = {
            "address": address,
            "parameters": parameters,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
    operations = _request_reply(channels, messages, schemas)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Pantau event contract",
            "version": f"{CONTRACT_MAJOR}",
            "description": "Events: CloudEvents 1.0 over NATS JetStream in binary content mode. "
            "Queries and commands: JSON request/reply over core NATS.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> dict[str, str]:
    """Relative path -> file text, for writing or for comparing with the committed copies."""
    files = {
        f"schemas/{event_type}.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for event_type, schema in event_schemas().items()
    }
    files.update(
        (f"schemas/rpc/{name}.json", json.dumps(schema, indent=2, sort_keys=True) + "\n")
        for name, schema in method_schemas().items()
    )
    files.update(
        (f"schemas/files/{name}.json", json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
        for name, model in FILE_FORMATS.items()
    )
    files["asyncapi.json"] = json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path) -> None:
    for relative, text in render().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
