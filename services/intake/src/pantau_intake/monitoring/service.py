"""Monitoring in the intake process: the connectors each agency's credentials allow, the
collector, and the watchlist sync, built from settings. While no agency has a platform
credential or a feed nothing is collected, and coverage still answers (nothing watched)."""

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self

import asyncpg
from redis.asyncio import Redis

from pantau_shared.bus import Answer, RpcClient, Subscription
from pantau_shared.contract import Platform
from pantau_shared.contract.monitoring import MONITORING_ACCOUNT, MONITORING_COVERAGE
from pantau_shared.outbox import Outbox

from ..settings import IntakeSettings, MonitoredAgency, MonitoringSettings
from .collector import Collector
from .connectors import Connector
from .coverage import CoverageReader
from .credentials import Credentials
from .schedule import Lease
from .watchlist import WatchlistSync

if TYPE_CHECKING:
    from ..evidence.intake_events import EvidenceIntake


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
        evidence: "EvidenceIntake | None" = None,
    ) -> None:
        self.settings = settings
        self.credentials = Credentials(settings, redis, key_prefix)
        self._connectors = {
            (agency_id, platform): connector
            for agency_id, agency in agencies.items()
            for platform, connector in self.credentials.connectors(agency).items()
        }
        self.watchlist = WatchlistSync(pool, rpc, agencies, interval_s=settings.sync_interval_s)
        self.coverage = CoverageReader(pool, settings, agencies, self.watchlist.periods)
        self.collector = Collector(
            pool,
            outbox,
            self.connector,
            interval=self.interval,
            batch=settings.batch,
            hold=timedelta(seconds=settings.lease_s),
            evidence=evidence,
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
        evidence: "EvidenceIntake | None" = None,
    ) -> Self:
        agencies = {a: m for a, m in settings.monitoring_agencies.items() if m.platforms()}
        return cls(pool, outbox, redis, rpc, settings.monitoring, agencies, key_prefix, evidence)

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
        await self.credentials.aclose()


class WithMonitoring:
    """Intake's handlers with monitoring (and evidence) beside them: one table of work for the
    runtime."""

    def __init__(self, intake: Any, monitoring: Monitoring, evidence: Any = None) -> None:
        self._intake = intake
        self._monitoring = monitoring
        self._evidence = evidence

    def subscriptions(self) -> list[Subscription]:
        subscriptions: list[Subscription] = self._intake.subscriptions()
        extra: list[Subscription] = self._evidence.subscriptions() if self._evidence is not None else []
        return [*subscriptions, *extra]

    def answers(self) -> list[Answer[Any, Any]]:
        answers: list[Answer[Any, Any]] = self._intake.answers()
        extra: list[Answer[Any, Any]] = self._evidence.answers() if self._evidence is not None else []
        return [*answers, *self._monitoring.answers(), *extra]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        tasks: list[Coroutine[Any, Any, None]] = self._intake.background(stopping)
        extra: list[Coroutine[Any, Any, None]] = (
            self._evidence.background(stopping) if self._evidence is not None else []
        )
        return [*tasks, *self._monitoring.background(stopping), *extra]

    async def close(self) -> None:
        await self._intake.close()
        await self._monitoring.aclose()
        if self._evidence is not None:
            await self._evidence.aclose()
