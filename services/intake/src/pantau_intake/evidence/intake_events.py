"""What evidence keeps of each report and observed post as intake stores it, and which reports
make up which case.

A stored report's (or post's) links become jobs, and the attachments whose bytes intake kept
become items with their custody entries, **in the statement or transaction that stores it**: no
consumer reads every report back from the bus to do it, and a report stored always has its jobs.
The fetching happens in the worker, after these rows are committed, never while a message is
being handled. Case events are consumed (`intake-evidence-cases`) and written set-based: all the
case links a batch names in one statement."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from pantau_shared.contract import (
    Attachment,
    CaseOpened,
    CaseUpdated,
    Envelope,
    EventData,
    PostObserved,
    ReportReceived,
)
from pantau_shared.contract.ids import stable_id
from pantau_shared.objectstore import ObjectStore
from pantau_shared.postgres import Connection

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

    def of_report(self, report: ReportReceived) -> list[NewJob]:
        """The jobs of a report's links (none for a report without links)."""
        return self._jobs(report.agency_id, report.report_id, None, report.url, report.text)

    async def kept(self, attachments: Sequence[Attachment]) -> frozenset[str]:
        """Which of these attachments' bytes intake kept (WhatsApp media, email attachments):
        their SHA-256s. A hash only claimed (by the provider, or a client) is not one. Asks the
        object store, so call it before opening a transaction."""
        return frozenset(
            [
                a.sha256
                for a in attachments
                if a.sha256 and _HEX.match(a.sha256) and await self._store.exists(a.sha256)
            ]
        )

    async def report_stored(
        self, conn: Connection, report: ReportReceived, kept: frozenset[str] = frozenset()
    ) -> None:
        """In the transaction that stores the report: its links' jobs, and its attachments in
        `kept` as preserved items with their custody entries; idempotent. `wake` once committed."""
        await jobs.enqueue_many(conn, self.of_report(report))
        items = [
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
            if a.sha256 in kept
        ]
        if items:
            await self._preserver.record_items(conn, items, datetime.now(UTC))

    async def posts_stored(self, conn: Connection, posts: Sequence[PostObserved]) -> None:
        """In the transaction that stores observed posts: their links' jobs (one statement), each
        under the report triage makes of its post."""
        new = [
            job
            for post in posts
            for job in self._jobs(
                post.agency_id,
                stable_id("monitoring.report", str(post.observation_id)),
                post.observation_id,
                post.url,
                post.text,
            )
        ]
        await jobs.enqueue_many(conn, new)

    def wake(self) -> None:
        """New jobs are committed: the worker takes them now rather than at its next look."""
        self._preserver.wake.set()

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
