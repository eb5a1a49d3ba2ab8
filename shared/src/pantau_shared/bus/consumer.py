"""Pull consumers: fetch while there is capacity, handle concurrently, settle every message.

A subscription with a batch handler gets each fetched batch whole (one transaction, set-based
statements) and says what became of each message; a batch that fails as a whole is handled again
one message at a time, so a poison message is dead-lettered alone and the rest commit.

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
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from opentelemetry import propagate, trace

from .. import metrics
from ..contract import ContractError, Envelope, EventData, FederationEvent, Subjects, decode
from .deadletter import write_dead_letter
from .errors import Reject, RetryLater
from .topology import Subscription

log = logging.getLogger(__name__)
tracer = trace.get_tracer("pantau.bus")

RawHandler = Callable[[Msg], Awaitable[None]]
RawBatchHandler = Callable[[list[Msg]], Awaitable[None]]


def retry_delay(delivery: int, *, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with jitter, so retries from many workers do not arrive in step."""
    ceiling = min(cap, base * 2 ** max(0, delivery - 1))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def redelivery_delay(error: BaseException, delivery: int) -> float:
    if isinstance(error, RetryLater) and error.delay is not None:
        return error.delay
    return retry_delay(delivery)


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
        # Set when the handler takes whole batches (a runner whose subscription has `batch`).
        self._handle_batch: RawBatchHandler | None = getattr(handle, "handle_batch", None)
        # Batches of at most half the capacity, so under load one batch is fetched and analysed
        # while the one before waits on the database.
        self._batch_limit = max(1, capacity // 2) if self._handle_batch is not None else capacity
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
                while free < self._batch_limit and not self._slots.locked():
                    await self._slots.acquire()
                    free += 1
                try:
                    messages = await subscription.fetch(free, timeout=self._fetch_timeout)
                except (TimeoutError, NatsTimeoutError):
                    messages = []
                for _ in range(free - len(messages)):
                    self._slots.release()
                if self._handle_batch is not None and messages:
                    self._spawn(self._run_batch(messages))
                else:
                    for message in messages:
                        self._spawn(self._run_one(message))
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

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_batch(self, messages: list[Msg]) -> None:
        assert self._handle_batch is not None
        now = time.monotonic()
        for message in messages:
            self._in_flight[id(message)] = (message, now)
        try:
            await self._handle_batch(messages)
        finally:
            for message in messages:
                self._in_flight.pop(id(message), None)
                self._slots.release()

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
        self.handle_batch: RawBatchHandler | None = self._batch if subscription.batch is not None else None

    async def _batch(self, messages: list[Msg]) -> None:
        started, durable = time.perf_counter(), self._subscription.durable
        # A batch of one continues its message's trace (one report, one trace, when the load is
        # light); a larger batch links to each message's trace.
        parent = propagate.extract(messages[0].headers or {}) if len(messages) == 1 else None
        with tracer.start_as_current_span(
            f"process batch {durable}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.batch.message_count": len(messages)},
        ) as span:
            # Only for a span that is recorded: without an exporter none is, and extracting every
            # message's context was a few percent of each service's CPU for nothing.
            if span.is_recording():
                for message in messages:
                    span.add_link(
                        trace.get_current_span(propagate.extract(message.headers or {})).get_span_context()
                    )
            accepted: list[tuple[Msg, Envelope[EventData]]] = []
            for message in messages:
                try:
                    envelope = decode(message.headers, message.data)
                    _check_sender(envelope, message.subject, self._subjects)
                except ContractError as rejected:
                    await self._settle(message, rejected, started)
                    continue
                if self._subscription.events and not isinstance(envelope.data, self._subscription.events):
                    await message.ack()
                    metrics.settled(durable, "ignored", started)
                    continue
                accepted.append((message, envelope))
            if not accepted:
                return
            outcomes = await self._outcomes([e for _, e in accepted], span)
            failed = []
            for (message, _), outcome in zip(accepted, outcomes, strict=True):
                if outcome is None:
                    # An ack only joins the client's write buffer: in turn, without a task each;
                    # the failures, which publish dead letters and wait for them, go together.
                    await message.ack()
                    metrics.settled(durable, "handled", started)
                else:
                    failed.append(self._settle(message, outcome, started))
            await asyncio.gather(*failed)

    async def _outcomes(
        self, envelopes: list[Envelope[EventData]], span: trace.Span
    ) -> Sequence[BaseException | None]:
        handler = self._subscription.batch
        assert handler is not None
        try:
            return await handler(envelopes)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            span.record_exception(error)
            if len(envelopes) == 1:
                return [error]
        # Failed as a whole: one at a time, so only the message at fault pays.
        outcomes: list[BaseException | None] = []
        for envelope in envelopes:
            try:
                outcomes.extend(await handler([envelope]))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                outcomes.append(error)
        return outcomes

    async def _settle(self, message: Msg, outcome: BaseException | None, started: float) -> None:
        durable, deliveries = self._subscription.durable, message.metadata.num_delivered
        if outcome is None:
            await message.ack()
            metrics.settled(durable, "handled", started)
        elif isinstance(outcome, ContractError | Reject):
            await self._dead_letter(message, deliveries, f"rejected: {outcome}")
            await message.term()
            metrics.settled(durable, "dead_lettered", started)
        elif deliveries >= self._subscription.max_deliver:
            reason = f"{type(outcome).__name__}: {outcome}"
            log.error("giving up on %s after %d deliveries: %s", message.subject, deliveries, reason)
            await self._dead_letter(message, deliveries, f"failed: {reason}")
            await message.term()
            metrics.settled(durable, "dead_lettered", started)
        else:
            log.warning(
                "retrying %s (delivery %d): %s: %s",
                message.subject,
                deliveries,
                type(outcome).__name__,
                outcome,
            )
            await message.nak(delay=redelivery_delay(outcome, deliveries))
            metrics.settled(durable, "retried", started)

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
                _check_sender(envelope, message.subject, self._subjects)
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
                    await message.nak(delay=redelivery_delay(error, deliveries))
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


def _check_sender(envelope: Envelope[EventData], subject: str, subjects: Subjects) -> None:
    """An event from another instance travels on its own address, which names its sender: the
    inbound stream sources each partner's sender subjects only, so the sender is who it says."""
    event = envelope.data
    if isinstance(event, FederationEvent) and (
        event.address(subjects) != subject or envelope.agency_id != event.agency_id
    ):
        raise ContractError(f"{event.TYPE} from {event.agency_id} arrived on {subject}")
