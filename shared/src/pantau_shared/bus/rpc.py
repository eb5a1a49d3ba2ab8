"""Reads over core NATS request/reply: the gateway asks, the owning service answers.

Requests go to `{root}.rpc.v1.{agency}.{method}`, answered by one instance of a queue group; the
agency in the subject is the caller's, so a service never answers for another tenant's data.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import propagate, trace
from pydantic import BaseModel

from ..contract import Subjects

log = logging.getLogger(__name__)
tracer = trace.get_tracer("pantau.rpc")

RpcHandler = Callable[[str, dict[str, Any]], Awaitable[BaseModel | list[BaseModel] | dict[str, Any]]]


class RpcError(Exception):
    """An answer other than success; `status` follows HTTP so the gateway can pass it on."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail


class NotFound(RpcError):
    def __init__(self, detail: str) -> None:
        super().__init__(404, "Tidak ditemukan", detail)


def _dump(result: BaseModel | list[BaseModel] | dict[str, Any]) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [item.model_dump(mode="json") for item in result]
    return result


async def serve(
    nc: NATS, subjects: Subjects, queue: str, handlers: dict[str, RpcHandler]
) -> list[NatsSubscription]:
    async def answer(method: str, handler: RpcHandler, message: Msg) -> None:
        agency = Subjects.agency_of(message.subject)
        with tracer.start_as_current_span(
            f"rpc {method}", context=propagate.extract(message.headers or {}), kind=trace.SpanKind.SERVER
        ):
            try:
                payload = json.loads(message.data or b"{}")
                body = {"status": 200, "data": _dump(await handler(agency, payload))}
            except RpcError as error:
                body = {"status": error.status, "title": error.title, "detail": error.detail}
            except (ValueError, KeyError, TypeError) as error:
                body = {"status": 400, "title": "Permintaan tidak valid", "detail": str(error)}
            except Exception:
                log.exception("rpc %s failed", method)
                body = {"status": 500, "title": "Kesalahan internal", "detail": ""}
        await message.respond(json.dumps(body).encode())

    subscriptions = []
    for method, handler in handlers.items():

        async def callback(message: Msg, method: str = method, handler: RpcHandler = handler) -> None:
            await answer(method, handler, message)

        subscriptions.append(await nc.subscribe(subjects.rpc_filter(method), queue=queue, cb=callback))
    return subscriptions


class RpcClient:
    def __init__(self, nc: NATS, subjects: Subjects, timeout: float = 2.0) -> None:
        self._nc = nc
        self._subjects = subjects
        self._timeout = timeout

    async def call(self, agency_id: str, method: str, **payload: Any) -> Any:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        try:
            reply = await self._nc.request(
                self._subjects.rpc(agency_id, method),
                json.dumps(payload, default=str).encode(),
                timeout=self._timeout,
                headers=headers,
            )
        except NoRespondersError:
            raise RpcError(503, "Layanan tidak tersedia", f"no service answers {method}") from None
        except NatsTimeoutError:
            raise RpcError(504, "Layanan tidak menjawab", f"{method} timed out") from None
        body = json.loads(reply.data)
        if body.get("status") != 200:
            raise RpcError(body.get("status", 502), body.get("title", ""), body.get("detail", ""))
        return body["data"]
