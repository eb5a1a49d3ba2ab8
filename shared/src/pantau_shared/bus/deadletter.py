"""Dead letters: the original message, kept with the reason it could not be handled.

Two feeds write the same record. A consumer that rejects a message, or fails it on its last
delivery, writes it at once with the handler's own reason. The server's MAX_DELIVERIES and
MSG_TERMINATED advisories, captured in a stream, are relayed too, so a message whose last delivery
timed out (a crashed or hung worker) is never lost silently. Both use the same `Nats-Msg-Id`, so
JetStream keeps one record per message and consumer.
"""

import json
import logging

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from .. import metrics
from ..contract import Subjects
from .topology import ADVISORY_STREAM

log = logging.getLogger(__name__)

RELAY_DURABLE = "deadletter-relay"


def record_headers(
    original: dict[str, str] | None,
    *,
    subject: str,
    stream: str,
    sequence: int,
    consumer: str,
    deliveries: int,
    reason: str,
) -> dict[str, str]:
    # Server-set headers (the id, a sourced message's origin) would be refused on the way back in.
    headers = {k: v for k, v in (original or {}).items() if not k.startswith("Nats-")}
    headers.update(
        {
            "Pantau-Dead-Reason": reason[:2_000],
            "Pantau-Dead-Subject": subject,
            "Pantau-Dead-Stream": stream,
            "Pantau-Dead-Sequence": str(sequence),
            "Pantau-Dead-Consumer": consumer,
            "Pantau-Dead-Deliveries": str(deliveries),
            "Nats-Msg-Id": f"dead:{stream}:{sequence}:{consumer}",
        }
    )
    return headers


async def write_dead_letter(
    js: JetStreamContext,
    subjects: Subjects,
    *,
    data: bytes,
    headers: dict[str, str] | None,
    subject: str,
    stream: str,
    sequence: int,
    consumer: str,
    deliveries: int,
    reason: str,
) -> None:
    ack = await js.publish(
        subjects.dead_letter(stream, consumer),
        data,
        headers=record_headers(
            headers,
            subject=subject,
            stream=stream,
            sequence=sequence,
            consumer=consumer,
            deliveries=deliveries,
            reason=reason,
        ),
    )
    if not ack.duplicate:  # the advisory relay re-writes records a consumer already wrote
        metrics.DEAD_LETTERS.labels(stream, consumer).inc()
        # Every dead letter leaves a log line: operators learn of it without reading the stream.
        log.warning("dead-lettered %s (stream %s #%d, %s): %s", subject, stream, sequence, consumer, reason)


def relay_config() -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=RELAY_DURABLE,
        name=RELAY_DURABLE,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30,
        max_deliver=20,
    )


async def relay_advisory(js: JetStreamContext, subjects: Subjects, advisory: bytes) -> None:
    """Turn one advisory into a dead-letter record holding the original message."""
    event = json.loads(advisory)
    stream, consumer, sequence = event["stream"], event["consumer"], int(event["stream_seq"])
    if event.get("type", "").endswith("terminated"):
        reason = event.get("reason") or "terminated by the consumer"
    else:
        reason = f"not acknowledged after {event.get('deliveries', '?')} deliveries"
    try:
        original = await js.get_msg(stream, sequence)
    except NotFoundError:
        log.error("dead letter %s/%d already aged out of its stream", stream, sequence)
        return
    await write_dead_letter(
        js,
        subjects,
        data=original.data or b"",
        headers=original.headers,
        subject=original.subject or "",
        stream=stream,
        sequence=sequence,
        consumer=consumer,
        deliveries=int(event.get("deliveries", 0)),
        reason=reason,
    )


def advisory_stream(subjects: Subjects) -> str:
    return subjects.stream(ADVISORY_STREAM)
