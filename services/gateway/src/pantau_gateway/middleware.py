"""Pure ASGI middleware: the server span when nothing exports spans and the body size limit.
(With an exporter the server span is FastAPI's own, configured in `app.py`; request ids, the
audit trail and metrics are `exchange.Exchange`.)"""

import json
from collections.abc import Callable

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import MEDIA_TYPE, TITLES, problem_body

# Where the request's id waits in the ASGI scope for those inside (the audit log).
REQUEST_ID = "pantau.request_id"


class ServerSpan:
    """The request's span when no exporter is set: the caller's trace continued (traceparent,
    tracestate, baggage), or a new one, current while the request is served, so log lines and
    what is published carry its trace id. FastAPI's server span does the same with the SDK's
    sampler but builds the attributes, reads the Host header and walks the middleware stack for
    every request; unrecorded, none of that is seen, and it was about a tenth of a single
    POST's CPU. `exclude` as FastAPI's: no span for the probes."""

    def __init__(self, app: ASGIApp, exclude: Callable[[Scope], bool]) -> None:
        self.app = app
        self._exclude = exclude
        self._fields = {name.encode() for name in propagate.get_global_textmap().fields}
        self._tracer = trace.get_tracer("pantau.gateway")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exclude(scope):
            await self.app(scope, receive, send)
            return
        carrier: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            if name in self._fields:
                carrier.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        if "baggage" in carrier:  # as FastAPI reads it: the baggage propagator takes one value
            carrier["baggage"] = [",".join(carrier["baggage"])]
        parent = propagate.extract(carrier)
        span = self._tracer.start_span(scope["method"], context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)
            span.end()


class BodySizeLimit:
    """Refuses bodies over `limit` bytes with 413 before the application reads them.

    A declared Content-Length is checked at once (the server enforces it). A chunked body has
    no length, so it is read here, up to the limit, and handed on whole: refusing it from inside
    the application would surface as FastAPI's 400 "error parsing the body"."""

    def __init__(self, app: ASGIApp, limit: int, bulk_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        # Bulk endpoints (paths ending in ":batch") take bigger bodies.
        self.bulk_limit = bulk_limit or limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.bulk_limit if str(scope.get("path", "")).endswith(":batch") else self.limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                await self._refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the application see the disconnect.
                await self.app(scope, replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > limit:
                await self._refuse(send, limit)
                return
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, replay([whole], receive), send)

    async def _refuse(self, send: Send, limit: int) -> None:
        detail = f"isi permintaan lebih dari {limit} byte"
        body = json.dumps(problem_body(413, TITLES[413], detail)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    # What is left of the body is not read, so the connection cannot be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def replay(messages: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replayed
