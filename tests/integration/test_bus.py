"""The messaging spine against a real NATS and PostgreSQL: outbox, consumers, dead letters."""

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID

import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from pantau_shared.bus import (
    EventHandlerRunner,
    PullLoop,
    Reject,
    RetryLater,
    Subscription,
    provision,
)
from pantau_shared.bus.deadletter import relay_advisory
from pantau_shared.contract import Channel, Envelope, EventData, ReportSubmitted, new_id
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect
from tests.waiting import eventually


def report(agency: str, text: str = "Amplop 100 ribu untuk pemilih") -> ReportSubmitted:
    return ReportSubmitted(
        report_id=new_id(), agency_id=agency, channel=Channel.API, submitted_at=datetime.now(UTC), text=text
    )


async def read_subject(infra: Infrastructure, stream: str, subject: str) -> list:
    """Every message on `subject` in `stream`, through a throwaway consumer."""
    sub = await infra.js.pull_subscribe(
        subject,
        stream=infra.subjects.stream(stream),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
    )
    messages = []
    try:
        while True:
            batch = await sub.fetch(100, timeout=0.5)
            messages.extend(batch)
            for message in batch:
                await message.ack()
    except (TimeoutError, nats.errors.TimeoutError):
        pass
    await sub.unsubscribe()
    return messages


@pytest.fixture
async def infra(platform: PlatformSettings):
    infra = await connect(platform, "intake")
    await provision(infra.js, infra.subjects, [])
    yield infra
    await infra.close()


async def test_outbox_publishes_only_committed_events_once(infra: Infrastructure, agency: str) -> None:
    kept, rolled_back = report(agency), report(agency)
    async with infra.pool.acquire() as conn:
        async with conn.transaction():
            await infra.outbox.stage(conn, kept)
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await infra.outbox.stage(conn, rolled_back)
                raise RuntimeError("handler failed after staging")
    assert await infra.outbox.publish_pending(infra.pool, infra.js) >= 1

    # A relay that crashed after publishing, before deleting, publishes again: same Nats-Msg-Id.
    async with infra.pool.acquire() as conn, conn.transaction():
        envelope = await infra.outbox.stage(conn, kept)
    await infra.outbox.publish_pending(infra.pool, infra.js)
    replay = envelope.headers()
    ack = await infra.js.publish(infra.subjects.event(agency, kept.SUBJECT), envelope.body(), headers=replay)
    assert ack.duplicate

    messages = await read_subject(infra, "REPORTS", infra.subjects.event(agency, ReportSubmitted.SUBJECT))
    ids = Counter(json.loads(m.data)["report_id"] for m in messages)
    assert ids[str(kept.report_id)] == 2  # staged twice on purpose: two distinct events
    assert str(rolled_back.report_id) not in ids
    assert await infra.pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_the_relay_publishes_in_the_order_events_were_staged(
    infra: Infrastructure, agency: str
) -> None:
    first, second, third = report(agency, "satu"), report(agency, "dua"), report(agency, "tiga")
    async with infra.pool.acquire() as conn:
        async with conn.transaction():
            await infra.outbox.stage_many(conn, [first, second])
        async with conn.transaction():
            await infra.outbox.stage(conn, third)
        # A new version of the first row's tuple, stored after the others: a scan of the table
        # now meets the rows in another order than they were staged.
        await conn.execute(
            "UPDATE outbox SET created_at = created_at WHERE id = (SELECT min(id) FROM outbox)"
        )
    await infra.outbox.publish_pending(infra.pool, infra.js)

    messages = await read_subject(infra, "REPORTS", infra.subjects.event(agency, ReportSubmitted.SUBJECT))
    assert [json.loads(m.data)["text"] for m in messages] == ["satu", "dua", "tiga"]


async def run_consumer(infra: Infrastructure, subscription: Subscription, until) -> None:
    await provision(infra.js, infra.subjects, [subscription])
    stopping = asyncio.Event()
    loop = PullLoop(
        infra.js,
        infra.subjects.stream(subscription.stream),
        subscription.durable,
        EventHandlerRunner(infra.js, infra.subjects, subscription),
        capacity=8,
        fetch_timeout=0.5,
    )
    task = asyncio.create_task(loop.run(stopping))
    try:
        return await until()
    finally:
        stopping.set()
        await task
        await infra.js.delete_consumer(infra.subjects.stream(subscription.stream), subscription.durable)


async def publish(infra: Infrastructure, data: EventData) -> None:
    envelope = Envelope(data=data, source="/test", agency_id=data.agency_id)  # type: ignore[attr-defined]
    await infra.js.publish(
        infra.subjects.event(envelope.agency_id, data.SUBJECT), envelope.body(), headers=envelope.headers()
    )


async def dead_letters(infra: Infrastructure, durable: str) -> list:
    return await read_subject(
        infra, "DEADLETTER", infra.subjects.dead_letter(infra.subjects.stream("REPORTS"), durable)
    )


async def test_rejected_and_malformed_messages_are_dead_lettered_and_others_still_handled(
    infra: Infrastructure, agency: str
) -> None:
    handled: list[UUID] = []
    durable = f"test-reject-{agency}"

    async def handler(envelope: Envelope[EventData]) -> None:
        assert isinstance(envelope.data, ReportSubmitted)
        if envelope.data.text == "tolak":
            raise Reject("the text asks to be rejected")
        handled.append(envelope.data.report_id)

    good, bad = report(agency), report(agency, text="tolak")
    await publish(infra, bad)
    await infra.js.publish(
        infra.subjects.event(agency, ReportSubmitted.SUBJECT),
        b"{broken",
        headers={"ce-specversion": "1.0", "ce-type": "report.submitted.v1"},
    )
    await publish(infra, good)
    subscription = Subscription(
        durable=durable, stream="REPORTS", subject_suffix="report.submitted", handler=handler, agency=agency
    )
    await run_consumer(
        infra,
        subscription,
        lambda: eventually(lambda: _at_least(dead_letters(infra, durable), 2), what="two dead letters"),
    )

    assert handled == [good.report_id]
    letters = await dead_letters(infra, durable)
    reasons = sorted(m.headers["Pantau-Dead-Reason"] for m in letters)
    assert reasons[0].startswith("rejected: missing header ce-id")
    assert reasons[1] == "rejected: the text asks to be rejected"
    # The original is kept byte for byte, with where it came from.
    original = next(m for m in letters if m.headers["Pantau-Dead-Reason"].endswith("rejected"))
    assert json.loads(original.data)["report_id"] == str(bad.report_id)
    assert original.headers["Pantau-Dead-Subject"] == infra.subjects.event(agency, ReportSubmitted.SUBJECT)
    assert original.headers["ce-type"] == "report.submitted.v1"


async def _at_least(pending, n: int):
    found = await pending
    return found if len(found) >= n else None


async def test_transient_failures_are_retried_then_succeed(infra: Infrastructure, agency: str) -> None:
    attempts: Counter[UUID] = Counter()
    done: list[UUID] = []

    async def flaky(envelope: Envelope[EventData]) -> None:
        key = envelope.data.report_id  # type: ignore[attr-defined]
        attempts[key] += 1
        if attempts[key] < 3:
            raise RetryLater("database briefly unavailable")
        done.append(key)

    data = report(agency)
    await publish(infra, data)
    subscription = Subscription(
        durable=f"test-retry-{agency}",
        stream="REPORTS",
        subject_suffix="report.submitted",
        handler=flaky,
        agency=agency,
    )
    await run_consumer(
        infra, subscription, lambda: eventually(lambda: _ready(done), what="handled after retries")
    )
    assert attempts[data.report_id] == 3
    assert done == [data.report_id]


async def _ready(values: list) -> list | None:
    return values or None


async def test_messages_failing_every_delivery_are_dead_lettered_with_the_error(
    infra: Infrastructure, agency: str
) -> None:
    durable = f"test-exhaust-{agency}"

    async def broken(envelope: Envelope[EventData]) -> None:
        raise ValueError("classifier crashed on this text")

    await publish(infra, report(agency))
    subscription = Subscription(
        durable=durable,
        stream="REPORTS",
        subject_suffix="report.submitted",
        handler=broken,
        max_deliver=2,
        backoff=(5,),
        agency=agency,
    )
    letters = await run_consumer(
        infra,
        subscription,
        lambda: eventually(lambda: _at_least(dead_letters(infra, durable), 1), what="dead letter"),
    )
    assert letters[0].headers["Pantau-Dead-Reason"] == ("failed: ValueError: classifier crashed on this text")
    assert letters[0].headers["Pantau-Dead-Deliveries"] == "2"


async def test_advisory_relay_dead_letters_a_message_whose_worker_died(
    infra: Infrastructure, agency: str
) -> None:
    # What the server announces when a message ran out of deliveries without any settle.
    data = report(agency)
    await publish(infra, data)
    stream = infra.subjects.stream("REPORTS")
    info = await infra.js.stream_info(stream)
    advisory = {
        "type": "io.nats.jetstream.advisory.v1.max_deliver",
        "stream": stream,
        "consumer": f"crashed-{agency}",
        "stream_seq": info.state.last_seq,
        "deliveries": 8,
    }
    await relay_advisory(infra.js, infra.subjects, json.dumps(advisory).encode())
    letters = await read_subject(infra, "DEADLETTER", infra.subjects.dead_letter(stream, f"crashed-{agency}"))
    assert len(letters) == 1
    assert letters[0].headers["Pantau-Dead-Reason"] == "not acknowledged after 8 deliveries"
    assert json.loads(letters[0].data)["report_id"] == str(data.report_id)


async def test_instances_sharing_a_durable_consumer_split_the_work(
    infra: Infrastructure, agency: str
) -> None:
    seen: dict[str, list[UUID]] = {"a": [], "b": []}

    def handler_for(instance: str):
        async def handle(envelope: Envelope[EventData]) -> None:
            seen[instance].append(envelope.data.report_id)  # type: ignore[attr-defined]
            await asyncio.sleep(0)

        return handle

    durable = f"test-shared-{agency}"
    subscriptions = {
        name: Subscription(
            durable=durable,
            stream="REPORTS",
            subject_suffix="report.submitted",
            handler=handler_for(name),
            agency=agency,
        )
        for name in seen
    }
    await provision(infra.js, infra.subjects, [subscriptions["a"]])
    sent = [report(agency, text=f"laporan {i}") for i in range(60)]
    for data in sent:
        await publish(infra, data)
    stopping = asyncio.Event()
    stream = infra.subjects.stream("REPORTS")
    loops = [
        PullLoop(
            infra.js,
            stream,
            durable,
            EventHandlerRunner(infra.js, infra.subjects, sub),
            capacity=4,
            fetch_timeout=0.5,
        )
        for sub in subscriptions.values()
    ]
    tasks = [asyncio.create_task(loop.run(stopping)) for loop in loops]
    try:
        await eventually(
            lambda: _ready([1] if len(seen["a"]) + len(seen["b"]) >= 60 else []), what="all handled"
        )
    finally:
        stopping.set()
        await asyncio.gather(*tasks)
        await infra.js.delete_consumer(stream, durable)
    handled = seen["a"] + seen["b"]
    assert sorted(handled) == sorted(d.report_id for d in sent)  # each exactly once
    assert seen["a"] and seen["b"]  # both instances took a share


async def test_draining_finishes_work_in_flight_before_stopping(infra: Infrastructure, agency: str) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[UUID] = []

    async def slow(envelope: Envelope[EventData]) -> None:
        started.set()
        await release.wait()
        finished.append(envelope.data.report_id)  # type: ignore[attr-defined]

    durable = f"test-drain-{agency}"
    subscription = Subscription(
        durable=durable, stream="REPORTS", subject_suffix="report.submitted", handler=slow, agency=agency
    )
    await provision(infra.js, infra.subjects, [subscription])
    data = report(agency)
    await publish(infra, data)
    stream = infra.subjects.stream("REPORTS")
    stopping = asyncio.Event()
    loop = PullLoop(
        infra.js,
        stream,
        durable,
        EventHandlerRunner(infra.js, infra.subjects, subscription),
        capacity=4,
        fetch_timeout=0.5,
    )
    task = asyncio.create_task(loop.run(stopping))
    await asyncio.wait_for(started.wait(), 10)
    stopping.set()
    await task  # fetching has stopped; the handler is still running
    assert finished == []
    asyncio.get_running_loop().call_later(0.1, release.set)
    await loop.drain(timeout=5)
    assert finished == [data.report_id]

    # Acknowledged while draining: nothing is left for the next instance. (The server applies
    # acks asynchronously, so the consumer's counters settle a moment later.)
    async def settled() -> bool:
        info = await infra.js.consumer_info(stream, durable)
        return (info.num_ack_pending, info.num_pending, info.num_redelivered) == (0, 0, 0)

    await eventually(settled, timeout=5, what="acknowledged")
    await infra.js.delete_consumer(stream, durable)


async def test_a_handler_slower_than_ack_wait_keeps_its_message(infra: Infrastructure, agency: str) -> None:
    calls: list[UUID] = []
    ack_wait = Subscription.backoff[0]

    async def slow(envelope: Envelope[EventData]) -> None:
        calls.append(envelope.data.report_id)  # type: ignore[attr-defined]
        await asyncio.sleep(ack_wait * 1.5)

    subscription = Subscription(
        durable=f"test-slow-{agency}",
        stream="REPORTS",
        subject_suffix="report.submitted",
        handler=slow,
        agency=agency,
    )
    await provision(infra.js, infra.subjects, [subscription])
    await publish(infra, report(agency))
    stream = infra.subjects.stream("REPORTS")
    stopping = asyncio.Event()
    loop = PullLoop(
        infra.js,
        stream,
        subscription.durable,
        EventHandlerRunner(infra.js, infra.subjects, subscription),
        capacity=4,
        fetch_timeout=0.5,
    )
    task = asyncio.create_task(loop.run(stopping))

    async def acknowledged() -> bool:
        info = await infra.js.consumer_info(stream, subscription.durable)
        return info.num_ack_pending == 0 and info.delivered.consumer_seq == 1

    try:
        await eventually(acknowledged, timeout=ack_wait * 4, what="slow message acknowledged")
    finally:
        stopping.set()
        await task
        await infra.js.delete_consumer(stream, subscription.durable)
    assert len(calls) == 1  # the in-progress acks kept it from being redelivered


async def test_a_dead_instances_messages_are_taken_over_within_seconds(
    infra: Infrastructure, agency: str
) -> None:
    handled: list[float] = []

    async def handle(envelope: Envelope[EventData]) -> None:
        handled.append(asyncio.get_running_loop().time())

    subscription = Subscription(
        durable=f"test-takeover-{agency}",
        stream="REPORTS",
        subject_suffix="report.submitted",
        handler=handle,
        agency=agency,
    )
    await provision(infra.js, infra.subjects, [subscription])
    await publish(infra, report(agency))
    stream = infra.subjects.stream("REPORTS")
    # The first instance takes the message and dies: no ack, no nak, no heartbeat.
    dead = await infra.js.pull_subscribe_bind(subscription.durable, stream)
    (taken,) = await dead.fetch(1, timeout=5)
    died_at = asyncio.get_running_loop().time()
    stopping = asyncio.Event()
    loop = PullLoop(
        infra.js,
        stream,
        subscription.durable,
        EventHandlerRunner(infra.js, infra.subjects, subscription),
        capacity=4,
        fetch_timeout=0.5,
    )
    task = asyncio.create_task(loop.run(stopping))
    try:
        await eventually(lambda: _ready(handled), timeout=10, what="taken over")
    finally:
        stopping.set()
        await task
        await dead.unsubscribe()
        await infra.js.delete_consumer(stream, subscription.durable)
    assert taken.metadata.num_delivered == 1
    assert handled[0] - died_at <= 5.0


def batch_subscription(durable: str, agency: str, handle_batch, **options) -> Subscription:
    async def handle_one(envelope):
        raise AssertionError("the batch handler takes every message")

    return Subscription(
        durable=durable,
        stream="REPORTS",
        subject_suffix="report.submitted",
        handler=handle_one,
        batch=handle_batch,
        agency=agency,
        **options,
    )


async def test_a_batch_handler_gets_the_fetched_batch_and_a_poison_message_fails_alone(
    infra: Infrastructure, agency: str
) -> None:
    batches: list[int] = []
    handled: list[str] = []

    async def handle_batch(envelopes):
        batches.append(len(envelopes))
        texts = [e.data.text for e in envelopes]
        if "racun" in texts:
            # As one set-based statement fails when one of its rows does.
            raise ValueError("a row the database refuses")
        handled.extend(texts)
        return [Reject("ditolak") if t == "tolak" else None for t in texts]

    durable = f"test-batch-{agency}"
    subscription = batch_subscription(durable, agency, handle_batch, max_deliver=2, backoff=(4,))
    texts = [f"laporan {i}" for i in range(10)] + ["racun", "tolak"]
    for text in texts:
        await publish(infra, report(agency, text=text))
    await run_consumer(
        infra,
        subscription,
        lambda: eventually(lambda: _at_least(dead_letters(infra, durable), 2), what="two dead letters"),
    )
    assert max(batches) > 1  # handed whole batches, not one message at a time
    assert sorted(set(handled)) == sorted(set(texts) - {"racun"})
    reasons = sorted(m.headers["Pantau-Dead-Reason"] for m in await dead_letters(infra, durable))
    assert reasons == ["failed: ValueError: a row the database refuses", "rejected: ditolak"]


async def test_a_batchs_span_links_to_the_trace_of_each_of_its_messages(
    infra: Infrastructure, agency: str
) -> None:
    from opentelemetry import propagate, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)  # the tests' SDK tracer, recording every span
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    traces: set[int] = set()
    for i in range(4):
        envelope = Envelope(data=report(agency, f"laporan {i}"), source="/test", agency_id=agency)
        with trace.get_tracer("test").start_as_current_span("submit") as submit:
            headers = envelope.headers()
            propagate.inject(headers)
            traces.add(submit.get_span_context().trace_id)
        await infra.js.publish(
            infra.subjects.event(agency, ReportSubmitted.SUBJECT), envelope.body(), headers=headers
        )
    handled: list[int] = []

    async def handle_batch(envelopes):
        handled.extend(range(len(envelopes)))
        return [None] * len(envelopes)

    durable = f"test-links-{agency}"
    subscription = batch_subscription(durable, agency, handle_batch)

    async def all_handled() -> bool | None:
        return len(handled) == 4 or None

    await run_consumer(infra, subscription, lambda: eventually(all_handled, what="four messages handled"))
    batches = [s for s in spans.get_finished_spans() if s.name == f"process batch {durable}"]
    linked = {link.context.trace_id for s in batches for link in s.links}
    continued = {s.context.trace_id for s in batches if len(s.links) == 1}
    assert linked == traces and continued <= traces
