"""Monitoring in the intake process: the connectors each agency's credentials allow, the
collector, and the watchlist sync, built from settings. While no agency has a platform
credential or a feed nothing is collected, and coverage still answers (nothing watched)."""

import asyncio
import hashlib
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, Self

import asyncpg
import httpx
from redis.asyncio import Redis

from pantau_shared.bus import Answer, RpcClient, Subscription
from pantau_shared.contract import Platform
from pantau_shared.contract.monitoring import MONITORING_ACCOUNT, MONITORING_COVERAGE
from pantau_shared.outbox import Outbox

from ..settings import IntakeSettings, MonitoredAgency, MonitoringSettings
from . import platform_http
from .budgets import DAY_PACIFIC, FIFTEEN_MINUTES, Budget
from .collector import Collector
from .connectors import Connector
from .coverage import CoverageReader
from .feeds import FeedConnector
from .schedule import Lease
from .watchlist import WatchlistSync
from .x import XConnector
from .youtube import YouTubeConnector


class Monitoring:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        redis: Redis,
        rpc: RpcClient,
        settings: MonitoringSettings,
        agencies: dict[str, MonitoredAgency],
        key_prefix: str,
    ) -> None:
        self.settings = settings
        self._clients: list[httpx.AsyncClient] = []
        self._connectors: dict[tuple[str, Platform], Connector] = {}
        lookback = timedelta(days=settings.lookback_days)
        feeds = self._client(platform_http.client())
        youtube = self._client(platform_http.client(settings.youtube_base_url))
        for agency_id, agency in agencies.items():
            if agency.feeds:
                self._connectors[(agency_id, Platform.WEB)] = FeedConnector(feeds, lookback=lookback)
            if agency.youtube_api_key is not None:
                key = agency.youtube_api_key.get_secret_value()
                budget = Budget(
                    redis, _budget_key(key_prefix, "youtube", key), agency.youtube_daily_units, DAY_PACIFIC
                )
                self._connectors[(agency_id, Platform.YOUTUBE)] = YouTubeConnector(
                    youtube, key, budget, lookback=lookback
                )
            if agency.x_bearer_token is not None:
                token = agency.x_bearer_token.get_secret_value()
                client = self._client(
                    platform_http.client(settings.x_base_url, headers={"Authorization": f"Bearer {token}"})
                )
                budget = Budget(
                    redis,
                    _budget_key(key_prefix, "x", token),
                    agency.x_requests_per_15_minutes,
                    FIFTEEN_MINUTES,
                )
                self._connectors[(agency_id, Platform.X)] = XConnector(client, budget, lookback=lookback)
        self.watchlist = WatchlistSync(pool, rpc, agencies, interval_s=settings.sync_interval_s)
        self.coverage = CoverageReader(pool, settings, agencies, self.watchlist.periods)
        self.collector = Collector(
            pool,
            outbox,
            self.connector,
            interval=self.interval,
            batch=settings.batch,
            hold=timedelta(seconds=settings.lease_s),
        )

    @classmethod
    def build(
        cls,
        pool: asyncpg.Pool,
        outbox: Outbox,
        redis: Redis,
        rpc: RpcClient,
        settings: IntakeSettings,
        key_prefix: str,
    ) -> Self:
        agencies = {a: m for a, m in settings.monitoring_agencies.items() if m.platforms()}
        return cls(pool, outbox, redis, rpc, settings.monitoring, agencies, key_prefix)

    def connector(self, agency_id: str, platform: Platform) -> Connector | None:
        return self._connectors.get((agency_id, platform))

    def interval(self, lease: Lease) -> timedelta:
        # Until triage has named the stage, the campaign's SLO: never the idle "none" by default.
        return self.settings.interval(self.watchlist.periods.get(lease.agency_id, "campaign"), lease.priority)

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        if not self._connectors:
            return []
        return [self.watchlist.run(stopping), self.collector.run(stopping, self.settings.idle_s)]

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(MONITORING_COVERAGE, self.coverage.coverage),
            Answer(MONITORING_ACCOUNT, self.coverage.account),
        ]

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    def _client(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        self._clients.append(client)
        return client


def _budget_key(prefix: str, platform: str, credential: str) -> str:
    # The quota is the credential's: two agencies sharing a key share its budget.
    return f"{prefix}:monitoring:budget:{platform}:{hashlib.sha256(credential.encode()).hexdigest()[:16]}"


class WithMonitoring:
    """Intake's handlers with monitoring beside them: one table of work for the runtime."""

    def __init__(self, intake: Any, monitoring: Monitoring) -> None:
        self._intake = intake
        self._monitoring = monitoring

    def subscriptions(self) -> list[Subscription]:
        subscriptions: list[Subscription] = self._intake.subscriptions()
        return subscriptions

    def answers(self) -> list[Answer[Any, Any]]:
        answers: list[Answer[Any, Any]] = self._intake.answers()
        return [*answers, *self._monitoring.answers()]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        tasks: list[Coroutine[Any, Any, None]] = self._intake.background(stopping)
        return [*tasks, *self._monitoring.background(stopping)]

    async def close(self) -> None:
        await self._intake.close()
        await self._monitoring.aclose()
