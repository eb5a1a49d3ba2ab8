"""The figures of an agency's cases (`case.statistics`), selected by the queue's own filter.

All figures come from one snapshot (a repeatable-read transaction), so they add up: the days,
the states and the sources each sum to the total. Durations are measured from the case's
opening: to the first change a person or API key made (assignment, state change, correction,
referral record), and to its last closing for the cases closed now.
"""

from collections import defaultdict
from datetime import date
from typing import Any

import asyncpg

from pantau_shared.contract.queue import (
    CaseStatistics,
    DayTally,
    Durations,
    StatisticsQuery,
    Tally,
)
from pantau_shared.postgres import Connection

from .case_filter import QUEUE_COLUMNS, conditions, scopes

UNKNOWN = "tidak_diketahui"
REGION_LENGTH = {"province": 2, "regency": 5}


def selection(agency_id: str, query: StatisticsQuery) -> tuple[str, list[Any]]:
    """A CTE `selected` of the cases the filter selects, each visibility branch on its index."""
    where = conditions(agency_id, query)
    branches = [
        f"SELECT {', '.join(QUEUE_COLUMNS)} FROM cases WHERE {scope} AND {where.sql()}"
        for scope in scopes(query.scope)
    ]
    return f"WITH selected AS ({' UNION ALL '.join(branches)})", where.args


async def _tallies(
    conn: Connection, cte: str, args: list[Any], key: str, source: str = "selected"
) -> list[Tally]:
    rows = await conn.fetch(
        f"{cte} SELECT coalesce({key}, '{UNKNOWN}') AS key, count(*) AS count FROM {source}"
        " GROUP BY 1 ORDER BY count DESC, key",
        *args,
    )
    return [Tally(key=row["key"], count=row["count"]) for row in rows]


async def _durations(conn: Connection, cte: str, args: list[Any], moments: str) -> Durations:
    row = await conn.fetchrow(
        f"{cte}, moments AS ({moments}), seconds AS (SELECT extract(epoch FROM at - opened_at)::float8 AS s"
        " FROM moments WHERE at IS NOT NULL)"
        " SELECT count(*) AS count, percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS median,"
        " percentile_cont(0.9) WITHIN GROUP (ORDER BY s) AS p90, avg(s) AS mean FROM seconds",
        *args,
    )
    assert row is not None
    return Durations(count=row["count"], median_s=row["median"], p90_s=row["p90"], mean_s=row["mean"])


async def _days(conn: Connection, cte: str, args: list[Any], zone: str) -> list[DayTally]:
    rows = await conn.fetch(
        f"{cte} SELECT (opened_at AT TIME ZONE {_zone_literal(zone)})::date AS day,"
        # Each case once a day, under its first (highest-scored) category.
        f" coalesce(categories -> 0 ->> 'category', '{UNKNOWN}') AS category, count(*) AS count"
        " FROM selected GROUP BY 1, 2 ORDER BY 1, 2",
        *args,
    )
    days: dict[date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        days[row["day"]][row["category"]] = row["count"]
    return [DayTally(day=day, count=sum(counts.values()), by_category=counts) for day, counts in days.items()]


def _zone_literal(zone: str) -> str:
    # One of three names the contract allows; inlined so the grouping expression is one value.
    if zone not in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"):
        raise ValueError(zone)
    return f"'{zone}'"


class CaseFigures:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def figures(self, agency_id: str, query: StatisticsQuery) -> CaseStatistics:
        cte, args = selection(agency_id, query)
        length = REGION_LENGTH[query.region_level]
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            total = await conn.fetchval(f"{cte} SELECT count(*) FROM selected", *args)
            acknowledged = await _durations(
                conn,
                cte,
                args,
                "SELECT s.opened_at, (SELECT min(h.at) FROM case_history h WHERE h.case_id = s.case_id"
                " AND h.principal IS NOT NULL) AS at FROM selected s",
            )
            closed = await _durations(
                conn,
                cte,
                args,
                "SELECT s.opened_at, (SELECT max(h.at) FROM case_history h WHERE h.case_id = s.case_id"
                " AND h.to_state = 'closed' AND h.change = 'state_changed') AS at FROM selected s"
                " WHERE s.state = 'closed'",
            )
            return CaseStatistics(
                total=total,
                by_state=await _tallies(conn, cte, args, "state"),
                # A case counts once per category it carries.
                by_category=await _tallies(
                    conn, cte, args, "c ->> 'category'", "selected, jsonb_array_elements(categories) c"
                ),
                by_region=await _tallies(conn, cte, args, f"left(region_code, {length})"),
                by_source=await _tallies(conn, cte, args, "source"),
                by_day=await _days(conn, cte, args, query.time_zone),
                time_to_acknowledge=acknowledged,
                time_to_close=closed,
                referred=await conn.fetchval(
                    f"{cte} SELECT count(*) FROM selected WHERE routed_to <> '{{}}'", *args
                ),
                referrals_by_agency=await _tallies(
                    conn, cte, args, "agency", "selected, unnest(routed_to) agency"
                ),
                referrals_by_state=await _tallies(
                    conn,
                    cte,
                    args,
                    "coalesce(r.state, 'pending')",
                    "selected s CROSS JOIN unnest(s.routed_to) agency"
                    " LEFT JOIN referrals r ON r.case_id = s.case_id AND r.agency_id = agency",
                ),
                # The selected cases' takedown requests by status (docs/takedowns.md).
                takedowns=await _tallies(
                    conn, cte, args, "t.status", "selected s JOIN takedowns t ON t.case_id = s.case_id"
                ),
            )
