"""The streams of the platform and the durable consumers each service declares, as data.

Provisioning is idempotent: run at every start-up and by `pantau-<service> provision`, so a fresh
server and an upgraded one converge on the same declarations.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError

from ..contract import Envelope, EventData, Subjects

log = logging.getLogger(__name__)

DAY = 86_400.0

# Logical stream name -> (subject suffix captured under every agency, retention in days).
EVENT_STREAMS: dict[str, tuple[str, float]] = {
    "REPORTS": ("report.>", 30),
    "CASES": ("case.>", 90),
    "NOTIFICATIONS": ("notification.>", 30),
    # Observed posts are kept in intake's schema (with their own retention); the stream only
    # carries them to triage.
    "POSTS": ("post.>", 30),
    # What intake preserved of each report's links (the items themselves stay in intake).
    "EVIDENCE": ("evidence.>", 90),
}
DEAD_LETTER_STREAM = "DEADLETTER"
ADVISORY_STREAM = "ADVISORIES"
ADVISORY_KINDS = ("MAX_DELIVERIES", "MSG_TERMINATED")

Handler = Callable[[Envelope[EventData]], Awaitable[None]]
# Takes a fetched batch; returns, per envelope in order, None when handled or the exception
# that says why not (`Reject` dead-letters it, anything else retries it).
BatchHandler = Callable[[Sequence[Envelope[EventData]]], Awaitable[Sequence[BaseException | None]]]


@dataclass(frozen=True)
class Subscription:
    """A durable pull consumer shared by every instance of the service that declares it."""

    durable: str
    stream: str
    subject_suffix: str
    handler: Handler
    max_deliver: int = 8
    # Redelivery schedule after an ack timeout, per delivery; a nak sets its own delay. The first
    # is the ack wait: short, since running handlers send in-progress acks every third of it, so
    # the messages of an instance that died are taken over within seconds (2 s: with 4 s the
    # kill test's takeover was +4.0-4.1 s against its 5 s bound on a slower machine).
    backoff: tuple[float, ...] = (2, 4, 8, 30, 120, 300, 600)
    max_ack_pending: int = 2_000
    events: tuple[type[EventData], ...] = field(default=())
    # When set, used instead of `handler` for every fetched batch.
    batch: BatchHandler | None = None
    # An agency that runs its own instances consumes only its own subjects.
    agency: str = "*"
    # A stream outside the event subjects (the federation's inbound stream) names its own filter.
    filter_subject: str | None = None

    def config(self, subjects: Subjects) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.backoff[0],
            backoff=list(self.backoff),
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
            filter_subject=self.filter_subject or subjects.event_filter(self.subject_suffix, self.agency),
        )


@dataclass(frozen=True)
class RetiredDurable:
    """A durable consumer no service declares any more. Deleted at every declaration (idempotent),
    so an upgraded deployment does not keep it on the stream gathering messages nobody reads (a
    KEDA trigger left on it would scale on them)."""

    stream: str
    durable: str


RETIRED_DURABLES: tuple[RetiredDurable, ...] = (
    # Intake writes a report's and an observed post's evidence jobs in the statement that stores
    # it, instead of reading each back from the bus.
    RetiredDurable("REPORTS", "intake-evidence-reports"),
    RetiredDurable("POSTS", "intake-evidence-posts"),
)


async def remove_retired(
    js: JetStreamContext,
    subjects: Subjects,
    declared: Sequence[Subscription],
    retired: Sequence[RetiredDurable] = RETIRED_DURABLES,
) -> None:
    live = {(s.stream, s.durable) for s in declared}
    for old in retired:
        if (old.stream, old.durable) in live:
            raise ValueError(f"durable {old.durable} on {old.stream} is declared and retired at once")
        try:
            await js.delete_consumer(subjects.stream(old.stream), old.durable)
        except NotFoundError:
            continue
        log.info("retired consumer %s on %s deleted", old.durable, subjects.stream(old.stream))


def stream_configs(subjects: Subjects) -> list[StreamConfig]:
    configs = [
        StreamConfig(
            name=subjects.stream(name),
            subjects=[subjects.event_filter(suffix)],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=days * DAY,
            duplicate_window=120.0,
        )
        for name, (suffix, days) in EVENT_STREAMS.items()
    ]
    configs.append(
        StreamConfig(
            name=subjects.stream(DEAD_LETTER_STREAM),
            subjects=[f"{subjects.root}.dlq.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=180 * DAY,
            duplicate_window=600.0,
        )
    )
    # The server announces exhausted and terminated messages on advisory subjects; capturing them
    # in a stream means an advisory raised while no relay runs is still handled later.
    configs.append(
        StreamConfig(
            name=subjects.stream(ADVISORY_STREAM),
            subjects=[
                f"$JS.EVENT.ADVISORY.CONSUMER.{kind}.{subjects.stream(name)}.*"
                for kind in ADVISORY_KINDS
                for name in EVENT_STREAMS
            ],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=14 * DAY,
        )
    )
    return configs


async def provision(
    js: JetStreamContext,
    subjects: Subjects,
    subscriptions: Sequence[Subscription],
    streams: Sequence[StreamConfig] = (),
) -> None:
    """`streams`: a service's own streams besides the platform's (the federation's)."""
    for config in [*stream_configs(subjects), *streams]:
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
    for subscription in subscriptions:
        stream = subjects.stream(subscription.stream)
        await ensure_consumer(js, stream, subscription.config(subjects))
    await remove_retired(js, subjects, subscriptions)


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    try:
        await js.add_consumer(stream, config)
    except BadRequestError as error:
        # An older declaration with a field the server cannot change in place: keep the running
        # consumer (and its delivery state) and say so, rather than deleting acknowledged state.
        try:
            await js.consumer_info(stream, config.durable_name or "")
        except NotFoundError:
            raise error from None
        log.warning(
            "consumer %s on %s kept with its old configuration: %s",
            config.durable_name,
            stream,
            error.description,
        )
