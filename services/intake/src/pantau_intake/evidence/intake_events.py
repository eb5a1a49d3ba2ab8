"""What the evidence worker takes from the bus: the jobs of each stored report and observed
post, the WhatsApp and email attachments already kept, and which reports make up which case.

Each handler only writes rows (idempotently) and wakes the worker: the fetching happens in the
worker, after these rows are committed, never while a message is being handled. A fetched batch
is written set-based: the jobs of all its reports in one statement, all its case links in one;
only a report with attachments intake kept (custody to log) is handled on its own."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from pantau_shared.contract import CaseOpened, CaseUpdated, Envelope, EventData, PostObserved, ReportReceived
from pantau_shared.contract.ids import stable_id
from pantau_shared.objectstore import ObjectStore

from . import jobs, repository
from .jobs import NewJob
from .links import report_urls
from .preserver import Preserver
from .repository import NewItem

_HEX = re.compile(r"^[0-9a-f]{64}$")


class EvidenceIntake:
    def __init__(
        self, pool: asyncpg.Pool, store: ObjectStore, preserver: Preserver, max_urls: int = 10
    ) -> None:
        self._pool = pool
        self._store = store
        self._preserver = preserver
        self._max_urls = max_urls

    def _jobs(
        self, agency_id: str, report_id: UUID, observation_id: UUID | None, url: str | None, text: str | None
    ) -> list[NewJob]:
        return [
            NewJob(agency_id, report_id, observation_id, link)
            for link in report_urls(url, text, self._max_urls)
        ]

    async def _enqueue(self, new: list[NewJob]) -> None:
        if not new:
            return
        async with self._pool.acquire() as conn:
            await jobs.enqueue_many(conn, new)
        self._preserver.wake.set()

    async def reports_received(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = [None] * len(envelopes)
        new: list[NewJob] = []
        for index, envelope in enumerate(envelopes):
            report = envelope.data
            assert isinstance(report, ReportReceived)
            if report.attachments:
                try:
                    await self.report_received(envelope)
                except Exception as error:
                    outcomes[index] = error
                continue
            new.extend(self._jobs(report.agency_id, report.report_id, None, report.url, report.text))
        await self._enqueue(new)
        return outcomes

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        report = envelope.data
        assert isinstance(report, ReportReceived)
        new = self._jobs(report.agency_id, report.report_id, None, report.url, report.text)
        attachments = [
            NewItem(
                agency_id=report.agency_id,
                report_id=report.report_id,
                observation_id=None,
                job_id=None,
                url=None,
                kind="attachment",
                status="preserved",
                sha256=a.sha256,
                size=a.size,
                media_type=a.mime_type,
                fetched_at=report.received_at,
                reason=a.filename,
            )
            for a in report.attachments
            # Only files whose bytes intake kept (WhatsApp media, email attachments).
            if a.sha256 and _HEX.match(a.sha256) and await self._store.exists(a.sha256)
        ]
        if not attachments:
            await self._enqueue(new)
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await jobs.enqueue_many(conn, new)
            await self._preserver.record_items(conn, attachments, datetime.now(UTC))
        self._preserver.wake.set()

    async def posts_observed(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        new: list[NewJob] = []
        for envelope in envelopes:
            post = envelope.data
            assert isinstance(post, PostObserved)
            report_id = stable_id("monitoring.report", str(post.observation_id))
            new.extend(self._jobs(post.agency_id, report_id, post.observation_id, post.url, post.text))
        await self._enqueue(new)
        return [None] * len(envelopes)

    async def post_observed(self, envelope: Envelope[EventData]) -> None:
        await self.posts_observed([envelope])

    async def cases_changed(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        """Most case events (routing, state, priority) name no new report: they cost nothing."""
        links: list[tuple[UUID, str, UUID]] = []
        for envelope in envelopes:
            event = envelope.data
            if isinstance(event, CaseOpened):
                links.append((event.case_id, event.agency_id, event.first_report_id))
            elif isinstance(event, CaseUpdated) and event.change == "report_attached" and event.report_id:
                links.append((event.case_id, event.agency_id, event.report_id))
        if links:
            async with self._pool.acquire() as conn:
                await repository.attach_to_cases(conn, links)
        return [None] * len(envelopes)

    async def case_changed(self, envelope: Envelope[EventData]) -> None:
        await self.cases_changed([envelope])
