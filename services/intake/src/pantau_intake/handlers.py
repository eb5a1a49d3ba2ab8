"""What intake does with each message it consumes and each query it answers."""

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg

from pantau_shared.bus import Answer, NotFound, Reject, Subscription
from pantau_shared.contract import Envelope, EventData, ReportReceived, ReportSubmitted
from pantau_shared.contract.rpc import (
    REPORT_GET,
    REPORTER_CONTACT,
    ReporterContact,
    ReporterQuery,
    ReportQuery,
)
from pantau_shared.outbox import Outbox

from . import normalise, repository
from .flood import FloodGuard
from .mail_intake import MailIntake
from .media import MediaEvidence


class IntakeHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        reporter_pepper: bytes,
        flood: FloodGuard,
        mail: "MailIntake | None" = None,
        media: MediaEvidence | None = None,
    ) -> None:
        self._mail = mail
        self._media = media or MediaEvidence(None)
        self._pool = pool
        self._outbox = outbox
        self._pepper = reporter_pepper
        self._flood = flood

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="intake-submissions",
                stream="REPORTS",
                subject_suffix=ReportSubmitted.SUBJECT,
                handler=self.report_submitted,
                events=(ReportSubmitted,),
            ),
        ]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        return self._mail.tasks(stopping) if self._mail is not None else []

    async def close(self) -> None:
        await self._media.aclose()

    def answers(self) -> list[Answer[Any, Any]]:
        return [Answer(REPORT_GET, self.get_report), Answer(REPORTER_CONTACT, self.reporter_contact)]

    async def report_submitted(self, envelope: Envelope[EventData]) -> None:
        report = envelope.data
        assert isinstance(report, ReportSubmitted)
        if report.agency_id != envelope.agency_id:
            raise Reject("agency in the data differs from the agency in the envelope")
        if report.attachments:
            # Fetched before any write, so a failed download leaves nothing half stored.
            report = report.model_copy(update={"attachments": await self._media.hashed(report.attachments)})
        contacts = normalise.contact_keys(report.reporter)
        async with self._pool.acquire() as conn:
            reporter_id = None
            if contacts and report.reporter is not None:
                # Contacts are kept even if storing the report then fails: a redelivery finds
                # the same pseudonym, so nothing is duplicated.
                reporter_id = await repository.reporter_for(
                    conn, contacts, normalise.pseudonym(self._pepper, contacts[0]), report.reporter
                )
            record = normalise.received(report, received_at=datetime.now(UTC), reporter_id=reporter_id)
            if reporter_id is not None:
                count = await self._flood.count(reporter_id, report.report_id)
                record = record.model_copy(
                    update={"sender_reports_today": count, "sender_flagged": self._flood.over(count)}
                )
            await repository.insert_report(conn, record, self._outbox.row(record)[1])
        self._outbox.committed()

    async def get_report(self, agency_id: str, request: ReportQuery) -> ReportReceived:
        report = await repository.get_report(self._pool, agency_id, request.report_id)
        if report is None:
            raise NotFound(f"laporan {request.report_id} tidak ditemukan")
        return report

    async def reporter_contact(self, agency_id: str, request: ReporterQuery) -> ReporterContact:
        """Where to tell a reporter what became of their report, if they asked to be told.

        Contacts are personal data (UU 27/2022): they are handed out one reporter at a time,
        only to an agency the reporter wrote to, and only when the reporter opted in."""
        rows = await repository.reporter_contacts(self._pool, agency_id, request.reporter_id)
        if not rows:
            raise NotFound(f"pelapor {request.reporter_id} tidak ditemukan")
        wants = any(row["wants_updates"] for row in rows)
        contacts = (
            {row["contact_key"].split(":", 1)[0]: row["contact_key"].split(":", 1)[1] for row in rows}
            if wants
            else {}
        )
        return ReporterContact(
            wants_updates=wants,
            email=contacts.get("mailto"),
            phone=contacts.get("tel"),
            name=next((r["name"] for r in rows if r["name"]), None) if wants else None,
        )
