"""What each platform credential may still spend, shared by every intake instance (Redis).

A platform's quota belongs to the credential (a YouTube API key's 10,000 units a day, TikTok's
1,000 research requests a day, X's requests per 15 minutes), not to an intake process: the
counter for the current window is one Redis key per credential that every instance increments.
When the platform itself says stop (HTTP 429, `quotaExceeded`), the credential is blocked until
the time it names, so no instance spends calls that would fail the same way.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from .connectors import RateLimited

# YouTube's daily quota resets at midnight Pacific time.
PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True, slots=True)
class Window:
    """A quota window: `length` long, aligned to midnight of `zone` (a day, 15 minutes)."""

    length: timedelta
    zone: ZoneInfo | None = None

    def bounds(self, at: datetime) -> tuple[datetime, datetime]:
        local = at.astimezone(self.zone or UTC)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight + self.length * ((local - midnight) // self.length)
        return start, start + self.length


DAY_PACIFIC = Window(timedelta(days=1), PACIFIC)
DAY_UTC = Window(timedelta(days=1))
FIFTEEN_MINUTES = Window(timedelta(minutes=15))
HOUR = Window(timedelta(hours=1))


class Budget:
    """`limit` units per window for one credential; `spend` raises RateLimited when they are
    gone or while the platform has blocked the credential."""

    def __init__(
        self,
        redis: Redis,
        key: str,
        limit: int,
        window: Window,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redis = redis
        self._key = key
        self.limit = limit
        self.window = window
        self._clock = clock

    async def spend(self, units: int) -> None:
        now = self._clock()
        blocked = await self._redis.get(self._key + ":blocked")
        if blocked is not None:
            until = datetime.fromtimestamp(float(blocked), UTC)
            if until > now:
                raise RateLimited((until - now).total_seconds())
        start, end = self.window.bounds(now)
        counter = f"{self._key}:{int(start.timestamp())}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(counter, units)
            pipe.expire(counter, end - now + timedelta(hours=1))
            spent, _ = await pipe.execute()
        if int(spent) > self.limit:
            # Given back, so a cheaper call (1 unit after a 100-unit one) may still fit.
            await self._redis.decrby(counter, units)
            raise RateLimited((end - now).total_seconds())

    async def spent(self) -> int:
        start, _ = self.window.bounds(self._clock())
        value = await self._redis.get(f"{self._key}:{int(start.timestamp())}")
        return int(value or 0)

    async def block(self, seconds: float) -> None:
        """The platform said wait `seconds`: every instance waits with this credential."""
        until = self._clock() + timedelta(seconds=seconds)
        await self._redis.set(self._key + ":blocked", str(until.timestamp()), px=max(1, int(seconds * 1000)))
