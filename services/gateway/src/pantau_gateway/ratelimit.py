"""Request limits in Redis, shared by every gateway instance (fixed one-minute windows): per
API key, and of failed authentications per client address."""

import time
from typing import Any

from redis.asyncio import Redis


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str, auth_failure_limit: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._auth_failure_limit = auth_failure_limit

    async def hit(self, key_id: str, limit: int) -> int | None:
        """Count a request; None when allowed, else the seconds until the window resets."""
        return await self._count(f"ratelimit:{key_id}", limit)

    async def hit_verified(self, key_id: str, limit: int, address: str) -> tuple[int | None, int | None]:
        """For a key verified from the cache: the seconds `address` is blocked for failed keys
        (`auth_blocked`) and the seconds until the key's window resets when over its limit
        (`hit`), in one round trip. The request is counted against the key even when the
        address turns out blocked (it had a valid key)."""
        now = time.time()
        failures, count = await self._pipeline(
            now, [("get", self._name(f"authfail:{address}", now))], self._name(f"ratelimit:{key_id}", now)
        )
        blocked = (
            None if failures is None or int(failures) < self._auth_failure_limit else _until_next_window(now)
        )
        return blocked, None if count <= limit else _until_next_window(now)

    async def failed_auth(self, address: str, surface: str = "authfail") -> int | None:
        """Count a failed authentication; None while under the limit, else the seconds to wait.
        API keys and console sign-ins (`surface="signinfail"`) are counted apart, so a person
        mistyping a password never locks out the machines behind the same address."""
        return await self._count(f"{surface}:{address}", self._auth_failure_limit)

    async def auth_blocked(self, address: str, surface: str = "authfail") -> int | None:
        """Seconds until the address may try a key (or sign in) again, None when it may now."""
        now = time.time()
        count = await self._redis.get(self._name(f"{surface}:{address}", now))
        if count is None or int(count) < self._auth_failure_limit:
            return None
        return _until_next_window(now)

    @property
    def auth_failure_limit(self) -> int:
        return self._auth_failure_limit

    def _name(self, what: str, now: float) -> str:
        return f"{self._prefix}:{what}:{int(now // 60)}"

    async def _count(self, what: str, limit: int) -> int | None:
        now = time.time()
        (count,) = await self._pipeline(now, [], self._name(what, now))
        if count <= limit:
            return None
        return _until_next_window(now)

    async def _pipeline(self, now: float, reads: list[tuple[str, str]], counted: str) -> list[Any]:
        """The `reads` (command, key) and then the incremented count of `counted`, one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for command, name in reads:
                getattr(pipe, command)(name)
            pipe.incr(counted)
            pipe.expire(counted, 120)
            *read, count, _ = await pipe.execute()
        return [*read, count]


def _until_next_window(now: float) -> int:
    return max(1, int(60 - now % 60))
