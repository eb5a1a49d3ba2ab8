"""Name lookups for the evidence fetcher, each name asked of the system once per few seconds.

A burst of reports links the same few hosts (facebook.com, tiktok.com, x.com): every fetch asked
getaddrinfo again, in a thread, and when a name does not resolve (the network or its DNS down),
every job and every retry of it asked again. An answer, or a failure, is now kept `ttl_s` (5 s),
shorter than the first retry's backoff (10 s), so each retry of a job asks anew; lookups of one
name at the same moment share one question. The fetcher still vets every address it connects to.
"""

import asyncio
import time
from collections.abc import Callable

from pantau_shared.fetching import FetchFailed, IPAddress, Resolver, system_resolver


class CachedResolver:
    def __init__(
        self,
        resolve: Resolver = system_resolver,
        *,
        ttl_s: float = 5.0,
        most: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self._ttl_s = ttl_s
        self._most = most
        self._clock = clock
        self._answers: dict[tuple[str, int], tuple[float, asyncio.Future[list[IPAddress]]]] = {}

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        key, now = (host.lower(), port), self._clock()
        held = self._answers.get(key)
        if held is None or held[0] <= now:
            if len(self._answers) >= self._most:
                self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
            held = (now + self._ttl_s, asyncio.ensure_future(self._resolve(host, port)))
            # Its outcome is read even when every caller gave up waiting (no "never retrieved").
            held[1].add_done_callback(lambda done: done.cancelled() or done.exception())
            self._answers[key] = held
        asking = held[1]
        try:
            # Shielded: one caller cancelled (its fetch timed out) does not cancel the others'.
            return list(await asyncio.shield(asking))
        except FetchFailed as failed:
            raise FetchFailed(str(failed)) from None  # a new one each time: tracebacks do not pile up
        except Exception:
            # Not an answer about the name (a bug, the loop closing): not kept.
            if self._answers.get(key, (0.0, None))[1] is asking:
                del self._answers[key]
            raise
