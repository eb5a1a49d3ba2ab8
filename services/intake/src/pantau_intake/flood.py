"""Flood protection on public channels: one sender's reports are counted per day (Redis, shared
by every intake instance); past the limit they are still stored and triaged, but flagged, so a
number sending hundreds of messages cannot bury the reports of everyone else."""

from datetime import UTC, datetime
from uuid import UUID

from redis.asyncio import Redis


class FloodGuard:
    def __init__(self, redis: Redis, prefix: str, daily_limit: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._limit = daily_limit

    async def count(self, sender_id: str, report_id: UUID) -> int:
        """This sender's reports today, this one included; a redelivered report counts once."""
        day = datetime.now(UTC).strftime("%Y%m%d")
        key = f"{self._prefix}:sender:{sender_id}:{day}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, str(report_id))
            pipe.expire(key, 2 * 86_400)
            pipe.scard(key)
            _, _, count = await pipe.execute()
        return int(count)

    async def counts(self, reports: list[tuple[str, UUID]]) -> list[int]:
        """`count` for many (sender, report) pairs in one round trip."""
        day = datetime.now(UTC).strftime("%Y%m%d")
        async with self._redis.pipeline(transaction=False) as pipe:
            for sender_id, report_id in reports:
                key = f"{self._prefix}:sender:{sender_id}:{day}"
                pipe.sadd(key, str(report_id))
                pipe.expire(key, 2 * 86_400)
                pipe.scard(key)
            results = await pipe.execute()
        return [int(count) for count in results[2::3]]

    def over(self, count: int) -> bool:
        return count > self._limit
