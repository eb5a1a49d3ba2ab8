"""What triage does with received reports, a fetched batch at a time; the queries and commands it
answers are in `casework`, and which case each report joins is decided in `joining`."""

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from pantau_shared.bus import Answer, Reject, RetryLater, Subscription
from pantau_shared.contract import (
    CaseOpened,
    CaseState,
    Channel,
    Envelope,
    EventData,
    ReportReceived,
    ReportRevised,
    new_id,
)
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection
from pantau_shared.wording import excerpt

from . import repository
from .analysis import Analyser, Analysis
from .casework import CaseWork
from .claims_registry import ClaimRegistry
from .classify import TriageClassifier
from .election_rules import Assessment, Author, ElectionRules
from .joining import CaseBook
from .matching import SIMILARITY_THRESHOLD, Fingerprint, similarity
from .priority import assess, sender_factors
from .queue import CaseQueue
from .revisions import ReportRevisions
from .routing import Router

log = logging.getLogger(__name__)

SUMMARY_LENGTH = 280


class TriageHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        classifier: TriageClassifier,
        router: Router,
        claims: ClaimRegistry,
        rules: ElectionRules,
    ) -> None:
        self._rules = rules
        self._pool = pool
        self._outbox = outbox
        self._router = router
        self._claims = claims
        self._analyser = Analyser(classifier, claims)
        self.casework = CaseWork(pool, outbox, claims)
        self.revisions = ReportRevisions(pool)
        self.queue = CaseQueue(pool, self.casework)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="triage-reports",
                stream="REPORTS",
                subject_suffix=ReportReceived.SUBJECT,
                handler=self.report_received,
                batch=self.reports_received,
                events=(ReportReceived,),
            ),
            Subscription(
                durable="triage-revisions",
                stream="REPORTS",
                subject_suffix=ReportRevised.SUBJECT,
                handler=self.revisions.report_revised,
                events=(ReportRevised,),
            ),
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return [*self.casework.answers(), *self.queue.answers()]

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        (outcome,) = await self.reports_received([envelope])
        if outcome is not None:
            raise outcome

    async def reports_received(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        """A fetched batch: its reads and writes a few set-based statements whatever its size.
        A batch that fails as a whole is raised, and the consumer hands its reports in again one
        at a time, so only the report at fault fails."""
        reports: list[ReportReceived] = []
        for envelope in envelopes:
            assert isinstance(envelope.data, ReportReceived)
            if envelope.data.fragments_only:
                # Answers, stickers or voice notes alone: kept by intake as evidence, not a case.
                log.info("report %s holds only fragments: no case", envelope.data.report_id)
            else:
                reports.append(envelope.data)
        if not reports:
            return [None] * len(envelopes)
        await self._claims.refresh(self._pool)
        analyses = await self._visible(reports, self._analyser.analyse([r.text or "" for r in reports]))
        try:
            async with self._pool.acquire() as conn:
                await self._triage(conn, reports, analyses)
        except asyncpg.UniqueViolationError as race:
            if len(reports) > 1:
                raise
            # Another instance opened the case for this content a moment ago: retry to join it.
            return [RetryLater(str(race)) if e.data is reports[0] else None for e in envelopes]
        except asyncpg.DataError as bad:
            if len(reports) > 1:
                raise
            # Content PostgreSQL cannot store (a NUL character, say): no retry will change that.
            return [
                Reject(f"{type(bad).__name__}: {bad}") if e.data is reports[0] else None for e in envelopes
            ]
        self._outbox.committed()
        return [None] * len(envelopes)

    async def _visible(self, reports: list[ReportReceived], analyses: list[Analysis]) -> list[Analysis]:
        """Each analysis with only the claims its agency may use (read only for a match, rare)."""
        return [
            found.with_claims(await self._claims.visible(self._pool, report.agency_id, found.claims))
            if found.claims
            else found
            for report, found in zip(reports, analyses, strict=True)
        ]

    async def _triage(
        self, conn: Connection, reports: list[ReportReceived], analyses: list[Analysis]
    ) -> None:
        """The batch's reads in one statement, outside any transaction (nothing they return is
        locked, as before: a case opened meanwhile by another instance is the unique index's
        race); its writes in one statement, in a transaction only when the batch joins stored
        cases, which that transaction locks first. A batch that opens cases only is two round
        trips."""
        now = datetime.now(UTC)
        printed = [
            (r, f.fingerprint)
            for r, f in zip(reports, analyses, strict=True)
            if f.fingerprint is not None and r.canonical_url is None
        ]
        keys = [
            (r.agency_id, r.canonical_url, r.content_sha256)
            for r in reports
            if r.canonical_url or r.content_sha256
        ]
        reads = await repository.read_batch(
            conn,
            [r.report_id for r in reports],
            keys,
            [(r.agency_id, print_.band_keys) for r, print_ in printed],
        )
        seen = set(reads.attached)
        todo: list[tuple[ReportReceived, Analysis]] = []
        for report, found in zip(reports, analyses, strict=True):
            if report.report_id not in seen:  # a redelivery, or twice in this batch
                seen.add(report.report_id)
                todo.append((report, found))
        revised: list[UUID] = []
        if todo:
            best = _most_similar(printed, reads.candidates)
            # Asked of the registries for every report at once, before any lock is taken; used
            # by those that open a case.
            authors = await self._rules.authors(conn, [r for r, _ in todo])
            ids = sorted({*reads.same, *(case_id for _, case_id in best.values())})
            async with conn.transaction() if ids else contextlib.nullcontext():
                book = await self._book(conn, now, ids, todo)
                for (report, found), author in zip(todo, authors, strict=True):
                    self._match(book, report, found, author, best.get(report.report_id), now)
                revised = await repository.write_batch(
                    conn, book.opened(), book.attachments, book.updated(), self._outbox.columns(book.events)
                )
        # Changes their reporters made while the reports were in no case go into the case's
        # history now; after a crash between the write's commit and this, the redelivered report
        # is attached already and `unrecorded`.
        unrecorded = [*revised, *reads.unrecorded]
        if unrecorded:
            async with conn.transaction():
                for report_id in unrecorded:
                    await self.revisions.attached(conn, report_id)

    async def _book(
        self, conn: Connection, now: datetime, ids: list[UUID], todo: list[tuple[ReportReceived, Analysis]]
    ) -> CaseBook:
        """The stored cases the batch may join, locked in case-id order (the order every instance
        uses, so two batches cannot deadlock), with the batch's reporters already on them."""
        if not ids:
            return CaseBook.of(now, [], [])
        locked = await repository.lock_cases(conn, ids)
        reporters = sorted({r.reporter_id for r, _ in todo if r.reporter_id and not r.sender_flagged})
        known = await repository.reporters_on(conn, ids, reporters) if reporters else []
        return CaseBook.of(now, locked, known)

    def _match(
        self,
        book: CaseBook,
        report: ReportReceived,
        found: Analysis,
        author: Author,
        stored_best: tuple[float, UUID] | None,
        now: datetime,
    ) -> None:
        """The same link, else the same text, else the most similar near-duplicate; else a new case."""
        case = book.same_content(report)
        if case is None and found.fingerprint is not None and report.canonical_url is None:
            case = book.near_duplicate(report.agency_id, found.fingerprint, stored_best)
        if case is None:
            assessment = self._rules.assess(report, found.categories, found.campaign_cues, author)
            self._open(book, report, assessment, found, now)
        else:
            book.attach(case, report)

    def _open(
        self, book: CaseBook, report: ReportReceived, assessment: Assessment, found: Analysis, now: datetime
    ) -> None:
        categories = assessment.categories
        # Kept with the case's factors, so a recomputed priority keeps the sender's penalty.
        factors = (*assessment.factors, *sender_factors(report))
        priority = assess(
            categories,
            reporters=int(_counted(report)),
            reports=1,
            flooded_sender=report.sender_reports_today if report.sender_flagged else None,
            reach=report.reach,
            factors=factors,
        )
        opened = CaseOpened(
            case_id=new_id(),
            agency_id=report.agency_id,
            opened_at=now,
            first_report_id=report.report_id,
            state=CaseState.NEW,
            region_code=report.region_code,
            platform=report.platform,
            canonical_url=report.canonical_url,
            summary=excerpt(report.text or report.url, SUMMARY_LENGTH),
            categories=tuple(categories),
            priority=priority.score,
            priority_level=priority.level,
            priority_reasons=priority.reasons,
            report_count=1,
            reporter_count=int(_counted(report)),
            routed_to=self._router.route(report.agency_id, report.region_code, categories),
            claims=tuple(found.claims),
            channel=report.channel,
        )
        stored = repository.Case.model_validate(
            {
                **opened.model_dump(include=set(repository.CASE_COLUMNS)),
                "updated_at": now,
                "content_sha256": report.content_sha256,
                # Counted when the first report is attached, by the book.
                "report_count": 0,
                "reporter_count": 0,
                "resolution": None,
                "priority_factors": factors,
                "reach": report.reach,
            }
        )
        book.open(
            opened,
            repository.NewCase(stored, report.text, found.fingerprint, _source(report)),
            found.fingerprint,
            report,
        )


def _most_similar(
    printed: list[tuple[ReportReceived, Fingerprint]], candidates: list[list[repository.Candidate]]
) -> dict[UUID, tuple[float, UUID]]:
    """Per report without a link, its most similar stored case at or above the threshold."""
    best: dict[UUID, tuple[float, UUID]] = {}
    for (report, print_), found in zip(printed, candidates, strict=True):
        for candidate in found:
            score = similarity(print_, Fingerprint.from_bytes("", candidate.signature))
            if score >= SIMILARITY_THRESHOLD and score > best.get(report.report_id, (0.0,))[0]:
                best[report.report_id] = (score, candidate.case_id)
    return best


def _source(report: ReportReceived) -> Literal["report", "monitoring"]:
    return "monitoring" if report.channel is Channel.MONITORING else "report"


def _counted(report: ReportReceived) -> bool:
    """Whether the report adds a reporter: a flood does not, and a report without a reporter
    (an agency's API report, where the agency knows the person) is one person, not none."""
    return not report.sender_flagged
