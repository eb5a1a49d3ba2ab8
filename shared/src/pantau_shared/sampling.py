"""Periodic samples of the queues a process works from, for the gauges in `metrics.py`:
its durable consumers' pending and ack-pending counts (JetStream consumer info, the numbers
KEDA scales on), its outbox backlog and the size of the dead-letter stream."""

import asyncio
import logging
from collections.abc import Sequence

import asyncpg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from . import metrics
from .bus.topology import DEAD_LETTER_STREAM
from .contract import Subjects

log = logging.getLogger(__name__)


class QueueSampler:
    def __init__(
        self,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        subjects: Subjects,
        consumers: Sequence[tuple[str, str]],
        interval_s: float,
    ) -> None:
        """`consumers` are (logical stream, durable) pairs."""
        self._js = js
        self._pool = pool
        self._subjects = subjects
        self._consumers = consumers
        self._interval = interval_s

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.sample()
            except (OSError, TimeoutError, NatsError, asyncpg.PostgresError) as error:
                log.warning("queue metrics not sampled: %s", error)
            try:
                await asyncio.wait_for(stopping.wait(), self._interval)
            except TimeoutError:
                pass

    async def sample(self) -> None:
        for stream, durable in self._consumers:
            info = await self._js.consumer_info(self._subjects.stream(stream), durable)
            metrics.CONSUMER_PENDING.labels(stream, durable).set(info.num_pending or 0)
            metrics.CONSUMER_ACK_PENDING.labels(stream, durable).set(info.num_ack_pending or 0)
            metrics.CONSUMER_REDELIVERED.labels(stream, durable).set(info.num_redelivered or 0)
        dead = await self._js.stream_info(self._subjects.stream(DEAD_LETTER_STREAM))
        metrics.STREAM_MESSAGES.labels(DEAD_LETTER_STREAM).set(dead.state.messages)
        backlog = await self._pool.fetchrow(
            "SELECT count(*) AS events,"
            " coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest FROM outbox"
        )
        assert backlog is not None
        metrics.OUTBOX_BACKLOG.set(backlog["events"])
        metrics.OUTBOX_OLDEST_AGE.set(backlog["oldest"])
