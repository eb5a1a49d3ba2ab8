"""Triage's handlers with the takedown loop beside them: its answers, and the re-check
scheduler as background work of every replica."""

import asyncio
import ipaddress
from collections.abc import Coroutine
from typing import Any

import asyncpg
from nats.js.api import StreamConfig

from pantau_shared.bus import Answer, Subscription
from pantau_shared.fetching import IPAddress, Resolver, SafeFetcher, system_resolver
from pantau_shared.outbox import Outbox

from .settings import TriageSettings
from .takedowns import TakedownWork
from .takedowns_recheck import Rechecker, Schedule


def takedown_loop(
    pool: asyncpg.Pool, outbox: Outbox, settings: TriageSettings, fetcher: SafeFetcher | None = None
) -> Rechecker:
    """The takedown work and its re-checker as the settings describe them (tests give a
    fetcher whose resolver names their local servers)."""
    return Rechecker(
        pool,
        outbox,
        TakedownWork(pool, outbox),
        fetcher
        or SafeFetcher(settings.takedown_fetch_limits(), _resolver(settings.takedown_fetch_test_hosts)),
        Schedule(
            interval_s=settings.takedown_recheck_s,
            near_deadline_interval_s=settings.takedown_near_deadline_recheck_s,
            near_deadline_window_s=settings.takedown_near_deadline_window_s,
        ),
        batch=settings.takedown_batch,
        concurrency=settings.takedown_concurrency,
        lease_s=settings.takedown_lease_s,
        sweep_s=settings.takedown_sweep_s,
    )


def _resolver(test_hosts: dict[str, str]) -> Resolver:
    if not test_hosts:
        return system_resolver
    pinned = {host.lower(): ipaddress.ip_address(address) for host, address in test_hosts.items()}

    async def resolve(host: str, port: int) -> list[IPAddress]:
        found = pinned.get(host.lower())
        return [found] if found is not None else await system_resolver(host, port)

    return resolve


class WithTakedowns:
    def __init__(self, triage: Any, rechecker: Rechecker) -> None:
        self._triage = triage
        self.rechecker = rechecker

    def subscriptions(self) -> list[Subscription]:
        found: list[Subscription] = self._triage.subscriptions()
        return found

    def answers(self) -> list[Answer[Any, Any]]:
        return [*self._triage.answers(), *self.rechecker.work.answers()]

    def streams(self) -> list[StreamConfig]:
        found: list[StreamConfig] = getattr(self._triage, "streams", list)()
        return found

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        inner: list[Coroutine[Any, Any, None]] = getattr(self._triage, "background", lambda _: [])(stopping)
        return [*inner, self.rechecker.run_until(stopping)]

    async def close(self) -> None:
        await self.rechecker.close()
        closer = getattr(self._triage, "close", None)
        if closer is not None:
            await closer()
