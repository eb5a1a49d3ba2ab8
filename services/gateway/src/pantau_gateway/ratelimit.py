"""Per-key request limits in Redis, shared by every gateway instance (fixed one-minute windows)."""

import time

from redis.asyncio import Redis


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key_id: str, limit: int) -> int | None:
        """Count a request; None when allowed, else the seconds until the window resets."""
        now = time.time()
        window = int(now // 60)
        name = f"{self._prefix}:ratelimit:{key_id}:{window}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(name)
            pipe.expire(name, 120)
            count, _ = await pipe.execute()
        if count <= limit:
            return None
        return max(1, int(60 - now % 60))
