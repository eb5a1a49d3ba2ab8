"""`monitoring.watchlist`: the registered accounts and watched officials of an agency's regions,
for intake's collectors, with the calendar stage those regions are in now."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from pantau_shared.contract import Platform
from pantau_shared.contract.monitoring import Period, Watchlist, WatchlistEntry, WatchlistQuery

from .elections import Calendar

# The stage that asks most of the collectors wins when elections overlap.
_URGENCY: dict[Period, int] = {
    "voting_day": 5,
    "quiet": 4,
    "campaign": 3,
    "before_campaign": 2,
    "after": 1,
    "none": 0,
}

# A region covers itself and every region below it (33 covers 33.75). An account listed as a
# participant and as an official is read once, as the participant.
LIST = (
    "SELECT DISTINCT ON (platform, handle) platform, handle, kind, region_code FROM ("
    " SELECT platform, handle, 'participant' AS kind, region_code, 0 AS rank FROM registered_accounts"
    " UNION ALL SELECT platform, handle, 'official', region_code, 1 FROM watched_officials) a"
    " WHERE (platform, handle) > ($1, $2)"
    "   AND EXISTS (SELECT 1 FROM unnest($3::text[]) r(code) WHERE a.region_code = r.code"
    "               OR a.region_code LIKE r.code || '.%')"
    " ORDER BY platform, handle, rank LIMIT $4"
)


class Watchlists:
    def __init__(
        self,
        pool: asyncpg.Pool,
        calendar: Calendar,
        # Which of a page's (platform, handle) had findings lately.
        priority: Callable[[str, list[tuple[str, str]]], Awaitable[set[tuple[str, str]]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._calendar = calendar
        self._priority = priority
        self._clock = clock

    async def watchlist(self, agency_id: str, query: WatchlistQuery) -> Watchlist:
        rows = await self._pool.fetch(
            LIST, query.after_platform, query.after_handle, list(query.regions), query.limit
        )
        keys = [(r["platform"], r["handle"]) for r in rows]
        urgent = await self._priority(agency_id, keys)
        entries = [
            WatchlistEntry(
                platform=Platform(r["platform"]),
                handle=r["handle"],
                kind=r["kind"],
                region_code=r["region_code"],
                priority=(r["platform"], r["handle"]) in urgent,
            )
            for r in rows
        ]
        last = rows[-1] if len(rows) == query.limit else None
        return Watchlist(
            entries=entries,
            next_platform=last["platform"] if last else None,
            next_handle=last["handle"] if last else None,
            period=self.period(query.regions),
        )

    def period(self, regions: list[str]) -> Period:
        now = self._clock()
        stages: list[Period] = [s.stage for region in regions for s in self._calendar.stage(region, now)]
        return max(stages, key=_URGENCY.__getitem__, default="none")
