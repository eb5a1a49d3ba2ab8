"""What the evidence worker takes from the bus: the jobs of each stored report and observed
post, the WhatsApp and email attachments already kept, and which reports make up which case.

Each handler only writes rows (idempotently) and wakes the worker: the fetching happens in the
worker, after these rows are committed, never while a message is being handled."""

import re
from datetime import UTC, datetime

import asyncpg

from pantau_shared.contract import CaseOpened, CaseUpdated, Envelope, EventData, PostObserved, ReportReceived
from pantau_shared.contract.ids import stable_id
from pantau_shared.objectstore import ObjectStore

from . import jobs, repository
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

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        report = envelope.data
        assert isinstance(report, ReportReceived)
        urls = report_urls(report.url, report.text, self._max_urls)
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
        async with self._pool.acquire() as conn, conn.transaction():
            await jobs.enqueue(conn, report.agency_id, report.report_id, None, urls)
            await self._preserver.record_items(conn, attachments, datetime.now(UTC))
        self._preserver.wake.set()

    async def post_observed(self, envelope: Envelope[EventData]) -> None:
        post = envelope.data
        assert isinstance(post, PostObserved)
        urls = report_urls(post.url, post.text, self._max_urls)
        report_id = stable_id("monitoring.report", str(post.observation_id))
        async with self._pool.acquire() as conn:
            await jobs.enqueue(conn, post.agency_id, report_id, post.observation_id, urls)
        self._preserver.wake.set()

    async def case_changed(self, envelope: Envelope[EventData]) -> None:
        event = envelope.data
        if isinstance(event, CaseOpened):
            report_id = event.first_report_id
        elif isinstance(event, CaseUpdated) and event.change == "report_attached" and event.report_id:
            report_id = event.report_id
        else:
            return
        async with self._pool.acquire() as conn:
            await repository.attach_to_case(conn, event.case_id, event.agency_id, report_id)
