"""The retention of observed posts: one partition per UTC day, made a few days ahead and
dropped whole once older than the retention period (a DROP TABLE, not a DELETE of millions of
rows). Rows that reached the default partition because their day was not made in time are moved
into it when it is made; expired ones left there are deleted."""

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

log = logging.getLogger(__name__)

PARENT = "observed_posts"
DAY_NAME = re.compile(r"^observed_posts_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


class Partitions:
    def __init__(
        self,
        pool: asyncpg.Pool,
        retention_days: int,
        *,
        ahead_days: int = 3,
        every_s: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._retention = timedelta(days=retention_days)
        self._ahead = ahead_days
        self._every_s = every_s
        self._clock = clock

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.maintain()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("observed-post partitions not maintained, next time: %s", error)
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self._every_s)
            except TimeoutError:
                pass

    async def days(self) -> list[date]:
        rows = await self._pool.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = $1::regclass",
            PARENT,
        )
        found = (DAY_NAME.match(r["relname"]) for r in rows)
        return sorted(datetime.strptime(m.group(1), "%Y%m%d").date() for m in found if m)

    async def maintain(self) -> tuple[list[date], list[date]]:
        """Make today's and the next days' partitions, drop expired ones: (made, dropped)."""
        now = self._clock()
        today = now.astimezone(UTC).date()
        cutoff = now - self._retention
        existing = set(await self.days())
        made = [today + timedelta(days=n) for n in range(self._ahead + 1)]
        made = [day for day in made if day not in existing]
        for day in made:
            await self._make(day)
        dropped = sorted(day for day in existing if _start(day) + timedelta(days=1) <= cutoff)
        async with self._pool.acquire() as conn:
            # One day at a time, each its own short lock on the parent.
            for day in dropped:
                await conn.execute(f'DROP TABLE IF EXISTS "{partition_name(day)}"')
            await conn.execute(f"DELETE FROM {PARENT}_default WHERE observed_at < $1", cutoff)
        if made or dropped:
            log.info("observed-post partitions: made %s, dropped %s", made, dropped)
        return made, dropped

    async def _make(self, day: date) -> None:
        start, end = _start(day), _start(day) + timedelta(days=1)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"CREATE TEMP TABLE observed_moving (LIKE {PARENT}) ON COMMIT DROP")
            await conn.execute(
                f"WITH moved AS (DELETE FROM {PARENT}_default WHERE observed_at >= $1 AND observed_at < $2"
                " RETURNING *) INSERT INTO observed_moving SELECT * FROM moved",
                start,
                end,
            )
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{partition_name(day)}" PARTITION OF {PARENT}'
                f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
            await conn.execute(f"INSERT INTO {PARENT} SELECT * FROM observed_moving")


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)
