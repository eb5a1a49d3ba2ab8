"""Coverage of the watched accounts, read from the schedule: per agency the share of active
accounts whose last successful check is within the SLO, per platform the states, the accounts
that miss the SLO first, and a forecast of what each platform's credentials allow."""

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg

from pantau_shared.bus import NotFound
from pantau_shared.contract import Platform
from pantau_shared.contract.monitoring import (
    AccountCoverage,
    AccountDetail,
    AccountQuery,
    Coverage,
    CoverageQuery,
    Period,
    PlatformCoverage,
    QuotaForecast,
)
from pantau_shared.wording import platform_label

from ..settings import MonitoredAgency, MonitoringSettings

DAY_S = 86_400.0

COUNTS = (
    "SELECT platform, count(*) AS accounts,"
    " count(*) FILTER (WHERE state IN ('active', 'failing')) AS active,"
    " count(*) FILTER (WHERE state IN ('active', 'failing') AND last_success_at >= $2) AS within_slo,"
    " count(*) FILTER (WHERE state = 'gone') AS gone,"
    " count(*) FILTER (WHERE state = 'private') AS private,"
    " count(*) FILTER (WHERE state = 'failing') AS failing,"
    " count(*) FILTER (WHERE state = 'unlisted') AS unlisted,"
    " count(*) FILTER (WHERE {renamed}) AS renamed,"
    " count(*) FILTER (WHERE state IN ('active', 'failing') AND priority) AS priority"
    " FROM watched_accounts WHERE agency_id = $1 AND ($3::text IS NULL OR platform = $3) GROUP BY platform"
)
# The platform gives another name than the registry's: not for feeds (their title) nor for
# YouTube channels the registry names by id.
RENAMED = "kind <> 'feed' AND handle IS NOT NULL AND handle <> account_id AND account_id NOT LIKE 'channel:%'"
LIST = (
    "SELECT *, ({renamed}) AS renamed FROM watched_accounts"
    " WHERE agency_id = $1 AND ($3::text IS NULL OR platform = $3) AND state <> 'unlisted'"
    " ORDER BY (state IN ('active', 'failing') AND coalesce(last_success_at < $2, true)) DESC,"
    "  last_success_at ASC NULLS FIRST, platform, account_id LIMIT $4"
)
# What one check costs at the least, and in what.
UNITS_PER_CHECK: dict[Platform, tuple[float, str]] = {
    Platform.YOUTUBE: (1.0, "unit"),  # playlistItems.list; +1 for videos.list when it finds new videos
    Platform.X: (1.0, "permintaan"),  # GET /2/users/:id/tweets, one page
    Platform.TIKTOK: (1.0, "permintaan"),  # one video query per account
    Platform.FACEBOOK: (1.0, "panggilan"),  # GET /{page}/posts
    Platform.INSTAGRAM: (1.0, "panggilan"),  # business discovery
}


class CoverageReader:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: MonitoringSettings,
        agencies: Mapping[str, MonitoredAgency],
        periods: Mapping[str, Period],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._agencies = agencies
        self._periods = periods
        self._clock = clock

    def _slo(self, agency_id: str) -> tuple[Period, timedelta]:
        period = self._periods.get(agency_id, "campaign")
        return period, self._settings.interval(period)

    async def coverage(self, agency_id: str, query: CoverageQuery) -> Coverage:
        now = self._clock()
        period, slo = self._slo(agency_id)
        since = now - slo
        platform = query.platform.value if query.platform else None
        counts = await self._pool.fetch(COUNTS.format(renamed=RENAMED), agency_id, since, platform)
        rows = await self._pool.fetch(LIST.format(renamed=RENAMED), agency_id, since, platform, query.limit)
        platforms = [
            PlatformCoverage(
                platform=Platform(r["platform"]),
                **{
                    k: r[k]
                    for k in ("accounts", "active", "within_slo", "gone", "private", "failing", "unlisted")
                },
                renamed=r["renamed"],
            )
            for r in counts
        ]
        active, within = sum(p.active for p in platforms), sum(p.within_slo for p in platforms)
        agency = self._agencies.get(agency_id)
        forecasts = [
            forecast(
                Platform(r["platform"]),
                r["active"],
                r["priority"],
                slo,
                self._settings.priority_factor,
                agency,
            )
            for r in counts
            if Platform(r["platform"]) in UNITS_PER_CHECK and agency is not None
        ]
        return Coverage(
            agency_id=agency_id,
            at=now,
            period=period,
            slo_s=slo.total_seconds(),
            accounts=sum(p.accounts - p.unlisted for p in platforms),
            active=active,
            within_slo=within,
            share_within_slo=within / active if active else 1.0,
            platforms=platforms,
            forecasts=forecasts,
            listed=[_account(r, since) for r in rows],
        )

    async def account(self, agency_id: str, query: AccountQuery) -> AccountDetail:
        _, slo = self._slo(agency_id)
        row = await self._pool.fetchrow(
            f"SELECT *, ({RENAMED}) AS renamed FROM watched_accounts"
            " WHERE agency_id = $1 AND platform = $2 AND account_id = $3",
            agency_id,
            query.platform.value,
            query.account_id,
        )
        if row is None:
            raise NotFound("akun ini tidak dipantau")
        return AccountDetail(account=_account(row, self._clock() - slo), slo_s=slo.total_seconds())


def _account(row: asyncpg.Record, since: datetime) -> AccountCoverage:
    active = row["state"] in ("active", "failing")
    last = row["last_success_at"]
    within = active and last is not None and last >= since
    overdue = 0.0 if within or not active else (since - (last or row["added_at"])).total_seconds()
    return AccountCoverage(
        platform=Platform(row["platform"]),
        account_id=row["account_id"],
        handle=row["handle"],
        kind=row["kind"],
        region_code=row["region_code"],
        state=row["state"],
        renamed=row["renamed"],
        priority=row["priority"],
        last_checked_at=row["last_checked_at"],
        last_success_at=last,
        due_at=row["due_at"],
        within_slo=within,
        overdue_s=max(0.0, overdue),
        posts_observed=row["posts_observed"],
        failures=row["failures"],
        last_error=row["last_error"],
    )


def available_per_day(platform: Platform, agency: MonitoredAgency) -> float:
    if platform is Platform.YOUTUBE:
        return float(agency.youtube_daily_units)
    if platform is Platform.X:
        return agency.x_requests_per_15_minutes * DAY_S / 900
    if platform is Platform.TIKTOK:
        return float(agency.tiktok_daily_requests)
    if platform in (Platform.FACEBOOK, Platform.INSTAGRAM):
        # One token's hourly calls, shared by its Pages and Instagram accounts.
        return agency.graph_calls_per_hour * 24.0
    return math.inf


def forecast(
    platform: Platform,
    accounts: int,
    priority: int,
    slo: timedelta,
    priority_factor: float,
    agency: MonitoredAgency,
) -> QuotaForecast:
    """Can the credential check `accounts` every `slo` (priority ones `priority_factor` times as
    often)? If not: how many it covers, the interval it allows, how many credentials it needs."""
    units, unit = UNITS_PER_CHECK[platform]
    available = available_per_day(platform, agency)
    interval = slo.total_seconds()
    # Account-checks a day, the priority accounts counted as `priority_factor` accounts.
    weight = accounts + priority * (priority_factor - 1)
    needed = weight * units * DAY_S / interval
    enough = needed <= available
    per_account = units * DAY_S / interval
    coverable = accounts if enough else int(available / per_account)
    shortest = weight * units * DAY_S / available if weight else None
    credentials = max(1, math.ceil(needed / available)) if needed else 1
    label = platform_label(platform.value)
    if enough:
        summary = (
            f"Kuota {label} {_n(available)} {unit}/hari cukup untuk {_n(accounts)} akun tiap "
            f"{_hours(interval)} (perlu {_n(needed)} {unit}/hari)."
        )
    else:
        summary = (
            f"Kuota {label} {_n(available)} {unit}/hari tidak cukup untuk {_n(accounts)} akun tiap "
            f"{_hours(interval)} (perlu {_n(needed)} {unit}/hari): perlu {credentials} kredensial "
            f"seukuran ini, atau satu akun hanya bisa diperiksa tiap {_hours(shortest or 0)}."
        )
    return QuotaForecast(
        platform=platform,
        accounts=accounts,
        interval_s=interval,
        units_per_check=units,
        units_per_day_needed=needed,
        units_per_day_available=available,
        enough=enough,
        coverable_accounts=coverable,
        shortest_interval_s=shortest,
        credentials_needed=credentials,
        summary=summary,
    )


def _n(value: float) -> str:
    """Indonesian thousands separators: 52.400."""
    return f"{round(value):,}".replace(",", ".")


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{round(seconds / 60)} menit"
    hours = seconds / 3600
    if hours == int(hours):
        return f"{int(hours)} jam"
    return f"{hours:.1f}".replace(".", ",") + " jam"
