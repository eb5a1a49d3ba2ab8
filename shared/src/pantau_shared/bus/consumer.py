"""Pull consumers: fetch while there is capacity, handle concurrently, settle every message.

Settling rules (at-least-once; handlers are idempotent):
- success: ack;
- `Reject` or a message that breaks the contract: dead-letter with the reason, then term;
- `RetryLater` or any other error: nak with an exponential, jittered delay, except on the last
  allowed delivery, where it is dead-lettered with the error as its reason.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from opentelemetry import propagate, trace

from .. import metrics
from ..contract import ContractError, Subjects, decode
from .deadletter import write_dead_letter
from .errors import Reject
from .topology import Subscription

log = logging.getLogger(__name__)
tracer = trace.get_tracer("pantau.bus")

RawHandler = Callable[[Msg], Awaitable[None]]


def retry_delay(delivery: int, *, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with jitter, so retries from many workers do not arrive in step."""
    ceiling = min(cap, base * 2 ** max(0, delivery - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class PullLoop:
    """Keeps up to `capacity` messages of one durable consumer in flight."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        durable: str,
        handle: RawHandler,
        *,
        capacity: int,
        fetch_timeout: float = 2.0,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._handle = handle
        self._capacity = capacity
        self._slots = asyncio.Semaphore(capacity)
        self._fetch_timeout = fetch_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        # Message -> when it arrived; long handlers tell the server they are still working, so
        # ack_wait can be short and a dead instance's messages are redelivered within seconds.
        self._in_flight: dict[int, tuple[Msg, float]] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        subscription = await self._js.pull_subscribe_bind(self._durable, self._stream)
        ack_wait = (await subscription.consumer_info()).config.ack_wait or 30.0
        heartbeat = asyncio.create_task(self._keep_alive(ack_wait / 3))
        try:
            while not stopping.is_set():
                await self._slots.acquire()
                free = 1
                while free < self._capacity and not self._slots.locked():
                    await self._slots.acquire()
                    free += 1
                try:
                    messages = await subscription.fetch(free, timeout=self._fetch_timeout)
                except (TimeoutError, NatsTimeoutError):
                    messages = []
                for _ in range(free - len(messages)):
                    self._slots.release()
                for message in messages:
                    task = asyncio.create_task(self._run_one(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            await subscription.unsubscribe()
            if not self._tasks:
                heartbeat.cancel()
            else:
                # Draining work still needs its heartbeats; they stop with the last task.
                asyncio.gather(*self._tasks, return_exceptions=True).add_done_callback(
                    lambda _: heartbeat.cancel()
                )

    async def _keep_alive(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            older = time.monotonic() - interval
            for message in [m for m, since in self._in_flight.values() if since <= older]:
                with contextlib.suppress(Exception):  # settled meanwhile, or the connection is down
                    await message.in_progress()

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight messages; what is still running after `timeout` is cancelled and
        will be redelivered by the server."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()

    async def _run_one(self, message: Msg) -> None:
        self._in_flight[id(message)] = (message, time.monotonic())
        try:
            await self._handle(message)
        finally:
            self._in_flight.pop(id(message), None)
            self._slots.release()


class EventHandlerRunner:
    """Decodes envelopes, continues the producer's trace, calls the handler, settles."""

    def __init__(self, js: JetStreamContext, subjects: Subjects, subscription: Subscription) -> None:
        self._js = js
        self._subjects = subjects
        self._subscription = subscription
        self._stream = subjects.stream(subscription.stream)

    async def __call__(self, message: Msg) -> None:
        started, durable = time.perf_counter(), self._subscription.durable
        meta = message.metadata
        deliveries = meta.num_delivered
        context = propagate.extract(message.headers or {})
        with tracer.start_as_current_span(
            "process " + ".".join(message.subject.rsplit(".", 2)[-2:]),
            context=context,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": message.subject,
                "messaging.consumer.group.name": self._subscription.durable,
                "messaging.message.delivery_count": deliveries,
            },
        ) as span:
            try:
                envelope = decode(message.headers, message.data)
                if self._subscription.events and not isinstance(envelope.data, self._subscription.events):
                    await message.ack()  # a type this consumer does not act on
                    metrics.settled(durable, "ignored", started)
                    return
                await self._subscription.handler(envelope)
            except (ContractError, Reject) as rejected:
                span.record_exception(rejected)
                await self._dead_letter(message, deliveries, f"rejected: {rejected}")
                await message.term()
                metrics.settled(durable, "dead_lettered", started)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                span.record_exception(error)
                reason = f"{type(error).__name__}: {error}"
                if deliveries >= self._subscription.max_deliver:
                    log.error("giving up on %s after %d deliveries: %s", message.subject, deliveries, reason)
                    await self._dead_letter(message, deliveries, f"failed: {reason}")
                    await message.term()
                    metrics.settled(durable, "dead_lettered", started)
                else:
                    log.warning(
                        "retrying %s (delivery %d): %s",
                        message.subject,
                        deliveries,
                        reason,
                        exc_info=not isinstance(error, ConnectionError),
                    )
                    await message.nak(delay=retry_delay(deliveries))
                    metrics.settled(durable, "retried", started)
                return
            await message.ack()
            metrics.settled(durable, "handled", started)

    async def _dead_letter(self, message: Msg, deliveries: int, reason: str) -> None:
        await write_dead_letter(
            self._js,
            self._subjects,
            data=message.data,
            headers=message.headers,
            subject=message.subject,
            stream=self._stream,
            sequence=message.metadata.sequence.stream,
            consumer=self._subscription.durable,
            deliveries=deliveries,
            reason=reason,
        )
