"""`POST /v1/reports` answered without FastAPI's per-request machinery, for the requests it would
accept.

Single reports come at election-day rates, and routing, dependency resolution and body and
response handling were about half the gateway's CPU for each. This middleware, the innermost
of ours, serves a plainly well-formed submission with an API key itself: the same checks
(`roles.authorize` with the route's requirement, `ReportIn` on the parsed JSON, as FastAPI
validates it), the same publish and answer (`handlers.accept`), and an exception goes through
the app's own handlers. Everything else (a session or bearer token, a body the model refuses, a
repeated or over-long header) goes on, body and all, to the route, so every refusal is the
route's own. Deciding is free of side effects: nothing is counted or published before a request
is known to be taken here.
"""

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from opentelemetry import trace
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import handlers
from .middleware import replay
from .roles import authorize

PATH = "/v1/reports"
# As many characters as the route's `Header(max_length=200)` allows.
IDEMPOTENCY_KEY_MAX = 200

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class DirectReports:
    def __init__(self, app: ASGIApp, exception_handlers: Mapping[Any, Handler]) -> None:
        self.app = app
        # The app's dict itself: handlers installed after the middleware are seen too.
        self._exception_handlers = exception_handlers
        self._route = _documented_route()
        self._scopes = SecurityScopes(scopes=list(handlers.SUBMITTER.scopes or ()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        given = _plain_headers(scope["headers"])
        if given is None:
            await self.app(scope, receive, send)
            return
        body, receive = await _whole_body(receive)
        report = _report(body)
        if report is None:
            await self.app(scope, receive, send)
            return
        key, idempotency_key = given
        # What routing would have left for those outside (metrics, the audit trail, the span).
        scope["route"] = self._route
        scope["path_params"] = {}
        span = trace.get_current_span()
        span.set_attribute("http.route", PATH)
        span.update_name(f"POST {PATH}")
        request = Request(scope, receive)
        try:
            caller = await authorize(request, self._scopes, key, None)
            response = await handlers.accept(request.state.pantau, caller.agency_id, report, idempotency_key)
        except Exception as error:
            handler = self._handler_for(error)
            if handler is None:
                raise
            handled = handler(request, error)
            response = await handled if inspect.isawaitable(handled) else handled
        await response(scope, receive, send)

    def _handler_for(self, error: Exception) -> Handler | None:
        # Starlette's own lookup: the nearest class in the exception's MRO with a handler. An
        # `Exception` handler is the server-error middleware's (it answers, then re-raises).
        for kind in type(error).__mro__:
            if kind is Exception:
                break
            if kind in self._exception_handlers:
                return self._exception_handlers[kind]
        return None


def _documented_route() -> APIRoute:
    for route in handlers.router.routes:
        if isinstance(route, APIRoute) and route.path == PATH and "POST" in (route.methods or ()):
            return route
    raise LookupError(f"no POST {PATH} route in handlers.router")


def _plain_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str, str | None] | None:
    """(API key, Idempotency-Key) when the request has exactly one non-empty X-API-Key, one JSON
    content type and at most one Idempotency-Key the route would accept; else None."""
    keys: list[bytes] = []
    idempotency: list[bytes] = []
    content_types: list[bytes] = []
    for name, value in headers:
        if name == b"x-api-key":
            keys.append(value)
        elif name == b"idempotency-key":
            idempotency.append(value)
        elif name == b"content-type":
            content_types.append(value)
    if len(keys) != 1 or not keys[0] or len(idempotency) > 1 or len(content_types) != 1:
        return None
    if content_types[0].split(b";", 1)[0].strip().lower() != b"application/json":
        return None
    idempotency_key = idempotency[0].decode("latin-1") if idempotency else None
    if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        return None
    return keys[0].decode("latin-1"), idempotency_key


async def _whole_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The body (None when the client went away first) and a receive that hands it on again."""
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return None, replay([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _report(body: bytes | None) -> handlers.ReportIn | None:
    """The report as the route would read it (`json.loads`, then the model on the result), or
    None for anything the route would refuse or treat otherwise."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            return None
        return handlers.ReportIn.model_validate(parsed)
    except Exception:  # the route refuses it, in its own words
        return None
