"""Keeping the schedule equal to triage's registries: every few minutes, for each agency this
deployment collects for, page through `monitoring.watchlist` over NATS request/reply and apply
the whole list in one transaction (`schedule.sync`).

Pulled by intake rather than pushed by triage: a list read again and again converges after any
outage (triage down, intake down, an import while nobody listened) without an event log to
replay, and the answer also carries the calendar stage of the agency's regions, which sets the
SLO interval. Intake keeps only the platforms it has a credential for.
"""

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import asyncpg

from pantau_shared.bus import RpcClient, RpcError
from pantau_shared.contract import Platform
from pantau_shared.contract.monitoring import MONITORING_WATCHLIST, Period, Watchlist, WatchlistQuery

from ..settings import MonitoredAgency
from . import schedule
from .schedule import Listed

log = logging.getLogger(__name__)


class WatchlistSync:
    def __init__(
        self,
        pool: asyncpg.Pool,
        rpc: RpcClient,
        agencies: Mapping[str, MonitoredAgency],
        *,
        interval_s: float,
        page_size: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._rpc = rpc
        self._agencies = agencies
        self._interval_s = interval_s
        self._page_size = page_size
        self._clock = clock
        # The calendar stage of each agency's regions, as triage last said.
        self.periods: dict[str, Period] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            for agency_id in self._agencies:
                try:
                    await self.sync(agency_id)
                except (RpcError, OSError, asyncpg.PostgresError) as error:
                    log.warning("watchlist of %s not synced, next time: %s", agency_id, error)
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self._interval_s)
            except TimeoutError:
                pass

    async def sync(self, agency_id: str) -> tuple[int, int]:
        """Read the agency's whole list, then apply it; returns (added, unlisted)."""
        agency = self._agencies[agency_id]
        platforms = set(agency.platforms())
        listed = [Listed(Platform.WEB, feed, "feed") for feed in agency.feeds]
        page = Watchlist(entries=[], next_platform="", next_handle="")
        while page.next_platform is not None and page.next_handle is not None:
            query = WatchlistQuery(
                regions=agency.regions,
                after_platform=page.next_platform,
                after_handle=page.next_handle,
                limit=self._page_size,
            )
            page = await self._rpc.call(agency_id, MONITORING_WATCHLIST, query)
            listed.extend(
                Listed(e.platform, e.handle, e.kind, e.region_code, e.priority)
                for e in page.entries
                if e.platform.value in platforms
            )
            self.periods[agency_id] = page.period
        async with self._pool.acquire() as conn, conn.transaction():
            added, unlisted = await schedule.sync(conn, agency_id, listed, self._clock())
        if added or unlisted:
            log.info(
                "watchlist of %s: %d accounts, %d new, %d unlisted", agency_id, len(listed), added, unlisted
            )
        return added, unlisted
