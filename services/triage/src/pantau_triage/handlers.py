"""What triage does with each received report; the queries and commands it answers are in `casework`."""

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.batching import MicroBatcher
from pantau_shared.bus import Answer, RetryLater, Subscription
from pantau_shared.contract import (
    CaseOpened,
    CaseState,
    CaseUpdated,
    ClaimRef,
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
from .election_rules import Assessment, ElectionRules
from .matching import SIMILARITY_THRESHOLD, Fingerprint, similarity
from .priority import assess, unverified_sender
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
        self._analyse = MicroBatcher(Analyser(classifier, claims).analyse)
        self.casework = CaseWork(pool, outbox, claims)
        self.revisions = ReportRevisions(pool)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="triage-reports",
                stream="REPORTS",
                subject_suffix=ReportReceived.SUBJECT,
                handler=self.report_received,
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
        return self.casework.answers()

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        report = envelope.data
        assert isinstance(report, ReportReceived)
        if report.fragments_only:
            # Answers, stickers or voice notes alone: kept by intake as evidence, not a case.
            log.info("report %s holds only fragments: no case", report.report_id)
            return
        await self._claims.refresh(self._pool)
        found = await self._analyse(report.text or "")
        found = found.with_claims(await self._claims.visible(self._pool, report.agency_id, found.claims))
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await self._triage(conn, report, found)
                await self.revisions.attached(conn, report.report_id)
        except asyncpg.UniqueViolationError as race:
            # Another instance opened the case for this content a moment ago: retry to join it.
            raise RetryLater(str(race)) from race
        self._outbox.committed()

    async def _triage(self, conn: Connection, report: ReportReceived, found: Analysis) -> None:
        if await repository.already_attached(conn, report.report_id):
            return
        print_ = found.fingerprint
        now = datetime.now(UTC)
        case = await repository.open_case_for(
            conn, report.agency_id, report.canonical_url, report.content_sha256
        )
        if case is None and print_ is not None and report.canonical_url is None:
            case = await self._near_duplicate(conn, report.agency_id, print_)
        if case is None:
            assessment = await self._rules.assess(conn, report, found.categories, found.campaign_cues)
            await self._open(conn, report, assessment, found.claims, print_, now)
            return
        reports, reporters = await repository.attach_report(
            conn, case.case_id, report.report_id, _independent(report), now, counted=_counted(report)
        )
        priority = assess(
            case.categories,
            reporters=reporters,
            reports=reports,
            reach=max(case.reach or 0, report.reach or 0) or None,
            factors=case.priority_factors,
        )
        await repository.set_priority(conn, case.case_id, priority.score, priority.level, priority.reasons)
        await self._outbox.stage(
            conn,
            CaseUpdated(
                case_id=case.case_id,
                agency_id=case.agency_id,
                updated_at=now,
                change="report_attached",
                state=case.state,
                region_code=case.region_code,
                categories=case.categories,
                priority=priority.score,
                priority_level=priority.level,
                report_count=reports,
                reporter_count=reporters,
                report_id=report.report_id,
                routed_to=case.routed_to,
            ),
        )

    async def _near_duplicate(
        self, conn: Connection, agency_id: str, print_: Fingerprint
    ) -> repository.Case | None:
        best: tuple[float, UUID] | None = None
        for row in await repository.near_duplicate_candidates(conn, agency_id, print_.band_keys):
            score = similarity(print_, Fingerprint.from_bytes("", row["signature"]))
            if score >= SIMILARITY_THRESHOLD and (best is None or score > best[0]):
                best = (score, row["case_id"])
        return await repository.lock_case(conn, best[1]) if best else None

    async def _open(
        self,
        conn: Connection,
        report: ReportReceived,
        assessment: Assessment,
        claims: list[ClaimRef],
        print_: Fingerprint | None,
        now: datetime,
    ) -> None:
        categories = assessment.categories
        priority = assess(
            categories,
            reporters=int(_counted(report)),
            reports=1,
            flooded_sender=report.sender_reports_today if report.sender_flagged else None,
            unverified=unverified_sender(report),
            reach=report.reach,
            factors=assessment.factors,
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
            claims=tuple(claims),
        )
        stored = repository.Case.model_validate(
            {
                **opened.model_dump(include=set(repository.CASE_COLUMNS)),
                "updated_at": now,
                "content_sha256": report.content_sha256,
                # Counted when the first report is attached, just below.
                "report_count": 0,
                "reporter_count": 0,
                "resolution": None,
                "priority_factors": assessment.factors,
                "reach": report.reach,
            }
        )
        await repository.insert_case(conn, stored, report.text)
        if print_ is not None:
            await repository.insert_fingerprint(
                conn, opened.case_id, report.agency_id, print_.band_keys, print_.to_bytes()
            )
        await repository.attach_report(
            conn, opened.case_id, report.report_id, _independent(report), now, counted=_counted(report)
        )
        await repository.record_history(
            conn, opened.case_id, at=now, change="opened", actor=None, from_state=None, to_state=CaseState.NEW
        )
        await self._outbox.stage(conn, opened)


def _independent(report: ReportReceived) -> str | None:
    """The reporter, unless flagged as a flood: a flood is not independent confirmation."""
    return None if report.sender_flagged else report.reporter_id


def _counted(report: ReportReceived) -> bool:
    """Whether the report adds a reporter: a flood does not, and a report without a reporter
    (an agency's API report, where the agency knows the person) is one person, not none."""
    return not report.sender_flagged
