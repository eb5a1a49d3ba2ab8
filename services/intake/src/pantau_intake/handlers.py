"""What intake does with each message it consumes and each query it answers."""

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.bus import Answer, NotFound, Reject, RetryLater, Subscription
from pantau_shared.contract import (
    Envelope,
    EventData,
    MessageRevoked,
    ReportReceived,
    ReportSubmitted,
    StoredReport,
    stable_id,
)
from pantau_shared.contract.queue import REPORT_LIST
from pantau_shared.contract.rpc import (
    REPORT_GET,
    REPORTER_CONTACT,
    ReporterContact,
    ReporterQuery,
    ReportQuery,
)
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection
from pantau_shared.sealing import DEV_PRIVATE_KEY, Keyring, UnsealError, open_report

from . import normalise, repository
from .conversations import Conversations
from .evidence.intake_events import EvidenceIntake
from .evidence.jobs import NewJob
from .flood import FloodGuard
from .listing import ReportListing
from .mail_intake import MailIntake
from .media import MediaEvidence
from .revisions import Revisions

log = logging.getLogger(__name__)


class IntakeHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        reporter_pepper: bytes,
        flood: FloodGuard,
        mail: "MailIntake | None" = None,
        media: MediaEvidence | None = None,
        conversations: Conversations | None = None,
        *,
        keyring: Keyring | None = None,
        evidence: EvidenceIntake | None = None,
    ) -> None:
        # Writes each report's evidence (its links' jobs, the files intake kept) in the statement
        # or transaction that stores it; None when evidence is off.
        self._evidence = evidence
        # Opens the reporters' contacts sealed on the bus (development's key unless given).
        self._keyring = keyring or Keyring([DEV_PRIVATE_KEY])
        self._conversations = conversations
        self._mail = mail
        self._media = media or MediaEvidence(None)
        self._pool = pool
        self._outbox = outbox
        self._pepper = reporter_pepper
        self._flood = flood
        self._revisions = Revisions(pool, outbox)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="intake-submissions",
                stream="REPORTS",
                subject_suffix=ReportSubmitted.SUBJECT,
                handler=self.report_submitted,
                batch=self.reports_submitted,
                events=(ReportSubmitted,),
            ),
            Subscription(
                durable="intake-revocations",
                stream="REPORTS",
                subject_suffix=MessageRevoked.SUBJECT,
                handler=self._revisions.revoked,
                events=(MessageRevoked,),
            ),
        ]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        tasks = self._mail.tasks(stopping) if self._mail is not None else []
        if self._conversations is not None:
            tasks.append(self._conversations.run(stopping))
        return tasks

    async def close(self) -> None:
        await self._media.aclose()

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(REPORT_GET, self.get_report),
            Answer(REPORTER_CONTACT, self.reporter_contact),
            Answer(REPORT_LIST, ReportListing(self._pool).list_reports),
        ]

    async def reports_submitted(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        """A fetched batch. New plain reports, the bulk of any burst, are stored set-based: one
        lookup, one contacts upsert, one Redis round trip, one statement for the reports and
        their events. The rest (seen before, edits, refusals, media to fetch, an agency that
        does not match) take the careful path one at a time."""
        reports: list[ReportSubmitted | None] = []
        outcomes: list[BaseException | None] = [None] * len(envelopes)
        for index, envelope in enumerate(envelopes):
            try:
                reports.append(self._opened(envelope))
            except Reject as refused:
                reports.append(None)
                outcomes[index] = refused
        async with self._pool.acquire() as conn:
            known = await repository.known_ids(conn, [r.report_id for r in reports if r is not None])
        plain: dict[int, ReportSubmitted] = {}
        for index, (envelope, report) in enumerate(zip(envelopes, reports, strict=True)):
            if report is None:
                continue
            simple = (
                report.agency_id == envelope.agency_id
                and report.revises is None
                and not report.attachments
                and not (self._conversations is not None and report.message_kind)
            )
            if simple and report.report_id not in known:
                known.add(report.report_id)  # twice in one batch: the second goes the careful way
                plain[index] = report
        stored = await self._store_many(list(plain.values())) if plain else set()
        for index, (envelope, report) in enumerate(zip(envelopes, reports, strict=True)):
            if report is None or (index in plain and report.report_id in stored):
                continue
            # Raced with another instance, or unusual: sorted out the careful way.
            try:
                await self.report_submitted(envelope)
            except Exception as error:
                outcomes[index] = error
        return outcomes

    async def _store_many(self, reports: list[ReportSubmitted]) -> set[UUID]:
        received_at = datetime.now(UTC)
        # (index, contact keys, reporter) of the reports that came with a reporter.
        reporters = [
            (i, keys, report.reporter)
            for i, report in enumerate(reports)
            if report.reporter is not None and (keys := normalise.contact_keys(report.reporter))
        ]
        flood: dict[int, tuple[str, int]] = {}
        async with self._pool.acquire() as conn:
            if reporters:
                # Kept even if storing the reports then fails, as for one report.
                chosen = await repository.reporters_for_many(
                    conn,
                    [
                        (keys, normalise.pseudonym(self._pepper, keys[0]), reporter)
                        for _, keys, reporter in reporters
                    ],
                )
                counts = await self._flood.counts(
                    [
                        (reporter_id, reports[i].report_id)
                        for (i, _, _), reporter_id in zip(reporters, chosen, strict=True)
                    ]
                )
                flood = {
                    i: (reporter_id, count)
                    for (i, _, _), reporter_id, count in zip(reporters, chosen, counts, strict=True)
                }
            records: list[tuple[ReportReceived, str, tuple[str, str, bytes]]] = []
            new_jobs: list[NewJob] = []
            for i, report in enumerate(reports):
                reporter_id, count = flood.get(i, (None, 0))
                record = normalise.received(report, received_at=received_at, reporter_id=reporter_id)
                if reporter_id is not None:
                    record = record.model_copy(
                        update={"sender_reports_today": count, "sender_flagged": self._flood.over(count)}
                    )
                records.append((record, report.content_digest(), self._outbox.row(record.on_bus())[1]))
                if self._evidence is not None:
                    new_jobs.extend(self._evidence.of_report(record))
            stored = await repository.insert_reports(conn, records, new_jobs)
        if stored:
            self._outbox.committed()
            if new_jobs and self._evidence is not None:
                self._evidence.wake()
        return stored

    def _opened(self, envelope: Envelope[EventData]) -> ReportSubmitted:
        """The submission with the reporter's contacts opened, or a Reject naming why not (the
        dead letter keeps the message sealed, to replay once the key is back)."""
        report = envelope.data
        assert isinstance(report, ReportSubmitted)
        try:
            return open_report(report, self._keyring)
        except UnsealError as error:
            raise Reject(str(error)) from error

    async def report_submitted(self, envelope: Envelope[EventData]) -> None:
        report = self._opened(envelope)
        mismatch = None
        if report.agency_id != envelope.agency_id:
            mismatch = "agency in the data differs from the agency in the envelope"
        digest = report.content_digest()
        async with self._pool.acquire() as conn:
            seen = await repository.seen(conn, report.report_id, digest)
            if seen.refused is not None:
                # A late replay (past the stream's dedup window) of a dead-lettered message.
                log.info("report %s was refused before (%s): replay ignored", report.report_id, seen.refused)
                return
            if seen.stored and seen.digest in (None, digest):
                log.debug("report %s is stored already: duplicate ignored", report.report_id)
                return
            if seen.stored:
                report = self._variant(report, digest)
            if report.revises is not None and await self._revise(conn, report):
                return
            if mismatch:
                await repository.record_refusal(conn, report.report_id, digest, mismatch)
                raise Reject(mismatch)
        await self._store(report, digest)

    @staticmethod
    def _variant(report: ReportSubmitted, digest: str) -> ReportSubmitted:
        """Another message under a channel id already stored (a reused Message-ID): a report
        of its own, with an id derived from both, so its redeliveries still find it."""
        variant = stable_id("report.variant", f"{report.report_id}:{digest}")
        log.warning(
            "channel id %s of report %s came again with other content: stored as report %s",
            report.external_id,
            report.report_id,
            variant,
        )
        return report.model_copy(update={"report_id": variant})

    async def _revise(self, conn: Connection, report: ReportSubmitted) -> bool:
        """An edited message: kept as a revision of the report holding the original."""
        kept = await self._revisions.edited(
            conn,
            report.agency_id,
            report.external_id or str(report.report_id),
            report.revises or "",
            report.submitted_at,
            report.text,
        )
        if not kept:
            log.info("edit %s of unknown message %s: kept as a report", report.external_id, report.revises)
        return kept

    async def _store(self, report: ReportSubmitted, digest: str) -> None:
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
            if self._conversations is not None and reporter_id is not None and report.message_kind:
                try:
                    await self._conversations.add(conn, report, digest, reporter_id)
                except asyncpg.UniqueViolationError as race:
                    # The sender's previous message opened a conversation a moment ago: join it.
                    raise RetryLater(str(race)) from race
                return
            for _ in range(2):
                record = normalise.received(report, received_at=datetime.now(UTC), reporter_id=reporter_id)
                if reporter_id is not None:
                    count = await self._flood.count(reporter_id, report.report_id)
                    record = record.model_copy(
                        update={"sender_reports_today": count, "sender_flagged": self._flood.over(count)}
                    )
                if await self._insert(conn, record, digest):
                    break
                # Stored meanwhile by another instance: the same content, or a reused channel id.
                seen = await repository.seen(conn, report.report_id, digest)
                if seen.digest in (None, digest):
                    return
                report = self._variant(report, digest)
        self._outbox.committed()
        if self._evidence is not None:
            self._evidence.wake()

    async def _insert(self, conn: Connection, record: ReportReceived, digest: str) -> bool:
        """Store the report with its event and its evidence, all or nothing; False when its id
        was stored before."""
        event = self._outbox.row(record.on_bus())[1]
        if self._evidence is None:
            return await repository.insert_report(conn, record, digest, event)
        # Asked of the object store before the transaction opens.
        kept = await self._evidence.kept(record.attachments) if record.attachments else frozenset[str]()
        async with conn.transaction():
            stored = await repository.insert_report(conn, record, digest, event)
            if stored:
                await self._evidence.report_stored(conn, record, kept)
        return stored

    async def get_report(self, agency_id: str, request: ReportQuery) -> StoredReport:
        report = await repository.get_report(self._pool, agency_id, request.report_id)
        if report is None:
            raise NotFound(f"laporan {request.report_id} tidak ditemukan")
        return report

    async def reporter_contact(self, agency_id: str, request: ReporterQuery) -> ReporterContact:
        """Where to tell a reporter what became of their report, if they asked to be told.

        Contacts are personal data (UU 27/2022): they are handed out one reporter at a time,
        only to an agency the reporter wrote to, and only when the reporter opted in."""
        contact = await repository.reporter_contact(self._pool, agency_id, request.reporter_id)
        if contact is None:
            raise NotFound(f"pelapor {request.reporter_id} tidak ditemukan")
        return contact
