"""Request/reply over core NATS: the caller asks, the owning service answers.

Methods and their models are in `pantau_shared.contract.rpc`. Requests go to
`{root}.rpc.v1.{agency}.{method}`, answered by one instance of a queue group; the agency in the
subject is the caller's, so a service never answers for another tenant's data.
"""

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import propagate, trace
from pydantic import ValidationError

from ..contract import Subjects
from ..contract.rpc import ERROR_STATUS, ErrorCode, Method, RequestT, ResponseT, RpcFailure

log = logging.getLogger(__name__)
tracer = trace.get_tracer("pantau.rpc")

TITLES = {
    ErrorCode.NOT_FOUND: "Tidak ditemukan",
    ErrorCode.CONFLICT: "Perubahan tidak diizinkan",
    ErrorCode.INVALID: "Permintaan tidak valid",
    ErrorCode.FORBIDDEN: "Tidak diizinkan",
    ErrorCode.INTERNAL: "Kesalahan internal",
    ErrorCode.UNAVAILABLE: "Layanan tidak tersedia",
    ErrorCode.TIMEOUT: "Layanan tidak menjawab",
}


class RpcError(Exception):
    """A typed answer other than success; the gateway maps each code to one problem type."""

    def __init__(self, code: ErrorCode, detail: str = "", allowed: Sequence[str] = ()) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.allowed = list(allowed)

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]

    @property
    def title(self) -> str:
        return TITLES[self.code]

    def failure(self) -> RpcFailure:
        return RpcFailure(code=self.code, detail=self.detail, allowed=self.allowed)

    @classmethod
    def of(cls, failure: RpcFailure) -> "RpcError":
        return cls(failure.code, failure.detail, failure.allowed)


class NotFound(RpcError):
    """Also the answer for another agency's record, so ids cannot be probed."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, detail)


class Conflict(RpcError):
    def __init__(self, detail: str, allowed: Sequence[str] = ()) -> None:
        super().__init__(ErrorCode.CONFLICT, detail, allowed)


class Invalid(RpcError):
    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.INVALID, detail)


class Forbidden(RpcError):
    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.FORBIDDEN, detail)


@dataclass(frozen=True)
class Answer(Generic[RequestT, ResponseT]):
    """One row of a service's table of methods it answers: the method and its handler."""

    method: Method[RequestT, ResponseT]
    handler: Callable[[str, RequestT], Awaitable[ResponseT]]

    async def reply(self, agency_id: str, data: bytes) -> bytes:
        try:
            try:
                request = self.method.request.model_validate_json(data or b"{}")
            except ValidationError as error:
                raise Invalid(str(error)) from error
            result = await self.handler(agency_id, request)
            return b'{"data": ' + result.model_dump_json().encode() + b"}"
        except RpcError as error:
            failure = error.failure()
        except Exception:
            log.exception("rpc %s failed", self.method.name)
            failure = RpcFailure(code=ErrorCode.INTERNAL)
        return b'{"error": ' + failure.model_dump_json().encode() + b"}"


async def serve(
    nc: NATS, subjects: Subjects, queue: str, answers: Sequence[Answer[Any, Any]]
) -> list[NatsSubscription]:
    async def answer(row: Answer[Any, Any], message: Msg) -> None:
        agency = Subjects.agency_of(message.subject)
        with tracer.start_as_current_span(
            f"rpc {row.method.name}",
            context=propagate.extract(message.headers or {}),
            kind=trace.SpanKind.SERVER,
        ):
            body = await row.reply(agency, message.data)
        await message.respond(body)

    subscriptions = []
    for row in answers:

        async def callback(message: Msg, row: Answer[Any, Any] = row) -> None:
            await answer(row, message)

        subject = subjects.rpc_filter(row.method.name)
        subscriptions.append(await nc.subscribe(subject, queue=queue, cb=callback))
    return subscriptions


class RpcClient:
    def __init__(self, nc: NATS, subjects: Subjects, timeout: float = 2.0) -> None:
        self._nc = nc
        self._subjects = subjects
        self._timeout = timeout

    async def call(self, agency_id: str, method: Method[RequestT, ResponseT], request: RequestT) -> ResponseT:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        try:
            reply = await self._nc.request(
                self._subjects.rpc(agency_id, method.name),
                request.model_dump_json().encode(),
                timeout=self._timeout,
                headers=headers,
            )
        except NoRespondersError:
            raise RpcError(ErrorCode.UNAVAILABLE, f"no service answers {method.name}") from None
        except NatsTimeoutError:
            raise RpcError(ErrorCode.TIMEOUT, f"{method.name} timed out") from None
        body = json.loads(reply.data)
        if "error" in body:
            raise RpcError.of(RpcFailure.model_validate(body["error"]))
        return method.response.model_validate(body["data"])
