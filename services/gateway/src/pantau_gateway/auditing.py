"""What goes into the audit log from HTTP, and how an admin reads it.

A route's declaration marks a request for the audit log (`roles.authorize`: every change, every
read of reporter contacts, refusals of either; `roles.public(..., audited_as=...)`: changes
through signed links). `exchange.Exchange` then appends the entry when the route has answered
and *before* the answer leaves: a client that saw a success knows it is in the log, and when the
log cannot be written the answer is replaced by a 503 (so contacts are never shown unlogged).
"""

import json
import logging
from dataclasses import dataclass, field

from fastapi import Request
from starlette.types import Message, Scope

from . import audit
from .middleware import REQUEST_ID
from .problems import MEDIA_TYPE, TITLES, problem_body

log = logging.getLogger(__name__)


@dataclass
class Marked:
    """A request to be logged: who, from where, and what the route adds (e.g. a command id)."""

    agency_id: str
    principal: str
    address: str
    detail: dict[str, audit.JSON] = field(default_factory=dict)


def mark(request: Request, agency_id: str, principal: str) -> Marked:
    address = request.client.host if request.client else "unknown"
    marked = Marked(agency_id, principal, address)
    request.state.audit = marked
    return marked


def _action(scope: Scope) -> str:
    route = scope.get("route")
    return f"{scope['method']} {getattr(route, 'path_format', scope['path'])}"


def mark_of(scope: Scope) -> Marked | None:
    """The request's mark, once its route has set one."""
    found: Marked | None = scope.get("state", {}).get("audit")
    return found


async def append(scope: Scope, marked: Marked, status: int) -> bool:
    """Appends the marked request's entry for an answer of `status`: whether it is written; a
    failure is logged here."""
    detail: dict[str, audit.JSON] = {"path": dict(scope.get("path_params", {})), **marked.detail}
    if REQUEST_ID in scope:
        detail["request_id"] = scope[REQUEST_ID]
    event = audit.Event(marked.agency_id, marked.principal, _action(scope), status, marked.address, detail)
    try:
        await scope["state"]["pantau"].audit.append(event)
    except Exception:
        log.exception("audit log not written for a %s answer", status)
        return False
    return True


def unavailable() -> tuple[Message, Message]:
    """The 503 that replaces an answer whose entry could not be written."""
    body = json.dumps(
        problem_body(503, TITLES[503], "catatan audit tidak dapat ditulis; permintaan tidak diselesaikan")
    ).encode()
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    return (
        {"type": "http.response.start", "status": 503, "headers": [*headers, (b"retry-after", b"1")]},
        {"type": "http.response.body", "body": body},
    )
