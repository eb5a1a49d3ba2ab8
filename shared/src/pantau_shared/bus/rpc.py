"""Request/reply over core NATS: the caller asks, the owning service answers.

Methods and their models are in `pantau_shared.contract.rpc`. Requests go to
`{root}.rpc.v1.{agency}.{method}`, answered by one instance of a queue group; the agency in the
subject is the caller's, so a service never answers for another tenant's data.
"""

import asyncio
import json
import logging
import random
import time
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


@dataclass(frozen=True)
class RetryPolicy:
    """How long a caller keeps asking when nobody answers in time.

    A restarting service has no responders for a moment and a dropped reply looks like a
    timeout: both are retried, with a doubling, jittered pause, until `deadline_s` has passed
    since the first attempt. Queries are safe to ask again; commands too, since a retried
    command carries its `command_id` and the owner applies it once.
    """

    attempt_timeout_s: float = 2.0
    deadline_s: float = 5.0
    first_pause_s: float = 0.05
    max_pause_s: float = 0.5

    def pause(self, attempt: int) -> float:
        ceiling = min(self.max_pause_s, self.first_pause_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


class RpcClient:
    def __init__(self, nc: NATS, subjects: Subjects, retry: RetryPolicy | None = None) -> None:
        self._nc = nc
        self._subjects = subjects
        self._retry = retry or RetryPolicy()

    async def call(self, agency_id: str, method: Method[RequestT, ResponseT], request: RequestT) -> ResponseT:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        subject = self._subjects.rpc(agency_id, method.name)
        payload = request.model_dump_json().encode()
        policy = self._retry
        deadline = time.monotonic() + policy.deadline_s
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                reply = await self._nc.request(
                    subject,
                    payload,
                    timeout=max(0.01, min(policy.attempt_timeout_s, remaining)),
                    headers=headers,
                )
                break
            except NoRespondersError:
                failure = RpcError(ErrorCode.UNAVAILABLE, f"no service answers {method.name}")
            except NatsTimeoutError:
                failure = RpcError(ErrorCode.TIMEOUT, f"{method.name} timed out")
            pause = policy.pause(attempt)
            attempt += 1
            if time.monotonic() + pause >= deadline:
                raise failure
            log.info("rpc %s: %s, asking again (attempt %d)", method.name, failure.code, attempt + 1)
            await asyncio.sleep(pause)
        body = json.loads(reply.data)
        if "error" in body:
            raise RpcError.of(RpcFailure.model_validate(body["error"]))
        return method.response.model_validate(body["data"])
