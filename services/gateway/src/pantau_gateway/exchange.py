"""One ASGI layer for what every answer carries and leaves behind: its `X-Request-ID`, its
audit entry and its metrics.

They were three middlewares (request ids, the audit trail, HTTP metrics), each wrapping `send`
in a closure of its own, so every message of every answer went through three extra calls; at
single-report rates that was a visible share of the gateway's CPU. Here one wrapper does all
three, in the order they did: the entry of a marked request is appended before its answer
leaves (a 503 replaces the answer when the log cannot be written), the answer then gets its
request id, and it is counted by the route it matched and the status that left.
"""

import time

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pantau_shared import metrics
from pantau_shared.contract import new_id

from . import auditing
from .middleware import REQUEST_ID


class Exchange:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The caller's id, or a new one, echoed in the answer and recorded on the request's span.
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = given.decode("latin-1")[:128] or str(new_id())
        scope[REQUEST_ID] = request_id
        trace.get_current_span().set_attribute("pantau.request_id", request_id)
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500
        answered = refused = False

        async def answer(message: Message) -> None:
            nonlocal status, answered, refused
            if refused:
                return
            if message["type"] == "http.response.start":
                answered = True
                mark = auditing.mark_of(scope)
                if mark is not None and not await auditing.append(scope, mark, message["status"]):
                    refused = True
                    start, body = auditing.unavailable()
                    start["headers"].append(id_header)
                    status = 503
                    await send(start)
                    await send(body)
                    return
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append(id_header)
            await send(message)

        try:
            await self.app(scope, receive, answer)
        except Exception:
            # The server answers 500 after this; the attempt is logged all the same.
            mark = auditing.mark_of(scope)
            if mark is not None and not answered:
                await auditing.append(scope, mark, 500)
            raise
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.http_answered(scope["method"], route, status, started)
