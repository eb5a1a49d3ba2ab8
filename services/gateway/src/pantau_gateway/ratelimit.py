"""Request limits in Redis, shared by every gateway instance (fixed one-minute windows): per
API key, and of failed authentications per client address.

Counts asked for at the same moment (concurrent requests) go to Redis as one pipeline: one
round trip, and one pass through the client's machinery, for the lot instead of one per request.
Each request still gets its own count, as if it had incremented the key alone."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis


@dataclass
class _Ask:
    """One request's reads and the window key it increments, and where its answer goes."""

    reads: list[tuple[str, str]]
    counted: str
    answer: "asyncio.Future[list[Any]]"


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str, auth_failure_limit: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._auth_failure_limit = auth_failure_limit
        self._waiting: list[_Ask] = []
        self._sender: asyncio.Task[None] | None = None

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
            [("get", self._name(f"authfail:{address}", now))], self._name(f"ratelimit:{key_id}", now)
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
        (count,) = await self._pipeline([], self._name(what, now))
        if count <= limit:
            return None
        return _until_next_window(now)

    async def _pipeline(self, reads: list[tuple[str, str]], counted: str) -> list[Any]:
        """The `reads` (command, key) and then the incremented count of `counted`, sent with
        whatever else is asked before the next round trip leaves."""
        loop = asyncio.get_running_loop()
        ask = _Ask(reads, counted, loop.create_future())
        self._waiting.append(ask)
        if self._sender is None:
            # A task of its own, started on the loop's next pass: the requests handled in this
            # pass join the first round trip, and a caller that goes away cancels only itself.
            self._sender = loop.create_task(self._send_waiting())
        return await ask.answer

    async def _send_waiting(self) -> None:
        try:
            while self._waiting:
                asked, self._waiting = self._waiting, []
                try:
                    answers = await self._round_trip(asked)
                except Exception as error:
                    for ask in asked:
                        if not ask.answer.done():
                            ask.answer.set_exception(error)
                    continue
                for ask, answer in zip(asked, answers, strict=True):
                    if not ask.answer.done():  # the request went away meanwhile
                        ask.answer.set_result(answer)
        finally:
            self._sender = None

    async def _round_trip(self, asked: list[_Ask]) -> list[list[Any]]:
        """One pipeline for every ask: each distinct read once, each window key incremented by
        the number of asks that count it; the asks get consecutive counts in the order they came,
        exactly what as many INCRs one after the other would have answered."""
        reads = list(dict.fromkeys(read for ask in asked for read in ask.reads))
        counted = Counter(ask.counted for ask in asked)
        async with self._redis.pipeline(transaction=False) as pipe:
            for command, name in reads:
                getattr(pipe, command)(name)
            for name, times in counted.items():
                pipe.incrby(name, times)
                pipe.expire(name, 120)
            results = await pipe.execute()
        read = dict(zip(reads, results, strict=False))
        totals = results[len(reads) :: 2]
        following = {name: total - counted[name] + 1 for name, total in zip(counted, totals, strict=True)}
        answers = []
        for ask in asked:
            answers.append([*(read[r] for r in ask.reads), following[ask.counted]])
            following[ask.counted] += 1
        return answers


def _until_next_window(now: float) -> int:
    return max(1, int(60 - now % 60))
