"""Transactional outbox: events are written in the same transaction as the state they describe,
then published after the commit. A crash between the two leaves rows the relay publishes later;
a crash after publishing but before deleting re-publishes with the same `Nats-Msg-Id`, which
JetStream drops as a duplicate.
"""

import asyncio
import json
import logging
from collections.abc import Sequence
from operator import itemgetter

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from nats.js import JetStreamContext
from opentelemetry import propagate

from . import metrics
from .bus.publisher import publish_group
from .contract import Envelope, EventData, Subjects

log = logging.getLogger(__name__)

OUTBOX_DDL = """
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    subject text NOT NULL,
    headers jsonb NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


def insert_staged(first: int) -> str:
    """Rows from the arrays `Outbox.columns` returns, parameters `$first` to `$first + 2`, in their
    order: the ids, and so the order the relay publishes them in, follow it."""
    subject, headers, body = (f"${first + i}" for i in range(3))
    return (
        "INSERT INTO outbox (subject, headers, body) SELECT subject, headers, body"
        f" FROM unnest({subject}::text[], {headers}::jsonb[], {body}::bytea[])"
        " WITH ORDINALITY AS e(subject, headers, body, n) ORDER BY n"
    )


class Outbox:
    def __init__(self, subjects: Subjects, source: str) -> None:
        self._subjects = subjects
        self.source = source
        self._staged = asyncio.Event()

    async def stage(
        self, conn: asyncpg.Connection | PoolConnectionProxy, data: EventData
    ) -> Envelope[EventData]:
        """Add an event to the caller's open transaction."""
        envelope, row = self.row(data)
        await conn.execute("INSERT INTO outbox (subject, headers, body) VALUES ($1, $2::jsonb, $3)", *row)
        return envelope

    async def stage_many(
        self, conn: asyncpg.Connection | PoolConnectionProxy, events: Sequence[EventData]
    ) -> None:
        """Add many events to the caller's open transaction in one statement."""
        if events:
            await conn.execute(insert_staged(1), *self.columns(events))

    def columns(self, events: Sequence[EventData]) -> tuple[list[str], list[str], list[bytes]]:
        """The events' rows as the three arrays `insert_staged` takes, for a statement that writes
        a batch's state and its events at once."""
        subjects, headers, bodies = [], [], []
        for data in events:
            subject, header, body = self.row(data)[1]
            subjects.append(subject)
            headers.append(header)
            bodies.append(body)
        return subjects, headers, bodies

    def row(self, data: EventData) -> tuple[Envelope[EventData], tuple[str, str, bytes]]:
        """The outbox row for an event, for a statement that writes state and event at once."""
        envelope: Envelope[EventData] = Envelope(data=data, source=self.source, agency_id=data.agency_id)  # type: ignore[attr-defined]
        headers = envelope.headers()
        propagate.inject(headers)
        return envelope, (
            data.address(self._subjects),
            json.dumps(headers),
            envelope.body(),
        )

    def committed(self) -> None:
        """Wake the relay; call after the transaction that staged events has committed."""
        self._staged.set()

    async def relay(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        stopping: asyncio.Event,
        *,
        batch: int = 500,
        sweep_interval: float = 1.0,
    ) -> None:
        """Publish staged events until `stopping`, then everything left, so nothing committed
        waits for the next start. The runtime sets `stopping` only once the handlers that stage
        events have finished."""
        while not stopping.is_set():
            try:
                while await self.publish_pending(pool, js, batch=batch) == batch:
                    pass
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("outbox relay will retry: %s", error)
            # The interval only matters for rows left by another process that crashed; rows this
            # process stages wake the relay at once.
            try:
                await asyncio.wait_for(self._staged.wait(), timeout=sweep_interval)
            except TimeoutError:
                pass
            self._staged.clear()
        while await self.publish_pending(pool, js, batch=batch) == batch:
            pass

    async def publish_pending(
        self, pool: asyncpg.Pool, js: JetStreamContext, *, batch: int = 500, timeout: float = 5.0
    ) -> int:
        # Delete and publish in one transaction: if a publish fails, the rollback restores the
        # rows; SKIP LOCKED lets several relays (one per instance) share the table. `= ANY(ARRAY(
        # ...))` rather than `IN (...)`: the planner then looks the locked ids up by the primary
        # key instead of hashing them against a scan of the whole table, backlog and all.
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM outbox ORDER BY id LIMIT $1"
                " FOR UPDATE SKIP LOCKED)) RETURNING id, subject, headers, body",
                batch,
            )
            if rows:
                # RETURNING promises no order; a case's events go out in the order they were staged.
                rows.sort(key=itemgetter("id"))
                await _publish_all(js, rows, timeout)
                metrics.OUTBOX_PUBLISHED.inc(len(rows))
            return len(rows)


async def _publish_all(js: JetStreamContext, rows: list[asyncpg.Record], timeout: float) -> None:
    """The rows as one group (`publish_group`). Any failure raises, so the caller's transaction
    keeps the rows for the next pass; what was stored meanwhile is sent again with the same
    `Nats-Msg-Id` and dropped as a duplicate."""
    acks, pending = await publish_group(
        js, ((row["subject"], row["body"], json.loads(row["headers"])) for row in rows), timeout
    )
    if pending:
        raise TimeoutError(f"{len(pending)} of {len(rows)} events not acked by the stream within {timeout} s")
    refused = [error for error in (ack.exception() for ack in acks) if error is not None]
    if refused:
        raise refused[0]
