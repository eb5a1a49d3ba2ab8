"""What triage does with each received report and each read it answers."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.bus import NotFound, RetryLater, RpcHandler, Subscription
from pantau_shared.contract import (
    CaseOpened,
    CaseState,
    CaseUpdated,
    CaseView,
    CategoryScore,
    Envelope,
    EventData,
    ReportReceived,
    new_id,
)
from pantau_shared.outbox import Outbox

from . import repository
from .classify import TriageClassifier
from .priority import assess

SUMMARY_LENGTH = 280


class TriageHandlers:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, classifier: TriageClassifier) -> None:
        self._pool = pool
        self._outbox = outbox
        self._classifier = classifier

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(durable="triage-reports", stream="REPORTS",
                         subject_suffix=ReportReceived.SUBJECT, handler=self.report_received,
                         events=(ReportReceived,)),
        ]

    def reads(self) -> dict[str, RpcHandler]:
        return {"case.get": self.get_case, "case.for_report": self.case_for_report}

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        report = envelope.data
        assert isinstance(report, ReportReceived)
        categories = self._classifier.classify(report.text or "")
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await self._triage(conn, report, categories)
        except asyncpg.UniqueViolationError as race:
            # Another instance opened the case for this content a moment ago: retry to join it.
            raise RetryLater(str(race)) from race
        self._outbox.committed()

    async def _triage(self, conn: asyncpg.Connection, report: ReportReceived,
                      categories: list[Any]) -> None:
        if await repository.already_attached(conn, report.report_id):
            return
        now = datetime.now(UTC)
        case = await repository.open_case_for(
            conn, report.agency_id, report.canonical_url, report.content_sha256)
        if case is None:
            priority = assess(categories, reporters=1 if report.reporter_id else 0, reports=1)
            opened = CaseOpened(
                case_id=new_id(), agency_id=report.agency_id, opened_at=now,
                first_report_id=report.report_id, state=CaseState.NEW,
                region_code=report.region_code, platform=report.platform,
                canonical_url=report.canonical_url,
                summary=(report.text or report.url or "")[:SUMMARY_LENGTH],
                categories=tuple(categories), priority=priority.score,
                priority_level=priority.level, priority_reasons=priority.reasons,
                report_count=1, reporter_count=1 if report.reporter_id else 0)
            await repository.insert_case(conn, {
                **opened.model_dump(include=set(repository.CASE_COLUMNS)),
                "categories": opened.categories, "updated_at": now,
                "content_sha256": report.content_sha256, "report_count": 0, "reporter_count": 0})
            await repository.attach_report(conn, opened.case_id, report.report_id,
                                           report.reporter_id, now)
            await self._outbox.stage(conn, opened)
            return
        reports, reporters = await repository.attach_report(
            conn, case["case_id"], report.report_id, report.reporter_id, now)
        priority = assess(_scores(case["categories"]), reporters=reporters, reports=reports)
        await repository.set_priority(conn, case["case_id"], priority.score, priority.level,
                                      priority.reasons)
        await self._outbox.stage(conn, CaseUpdated(
            case_id=case["case_id"], agency_id=report.agency_id, updated_at=now,
            change="report_attached", state=case["state"], region_code=case["region_code"],
            categories=tuple(_scores(case["categories"])), priority=priority.score,
            priority_level=priority.level, report_count=reports, reporter_count=reporters,
            report_id=report.report_id))

    async def get_case(self, agency_id: str, request: dict[str, Any]) -> CaseView:
        case = await repository.get_case(self._pool, agency_id, UUID(request["case_id"]))
        if case is None:
            raise NotFound(f"kasus {request['case_id']} tidak ditemukan")
        return CaseView.model_validate(case)

    async def case_for_report(self, agency_id: str, request: dict[str, Any]) -> dict[str, Any]:
        case_id = await repository.case_of_report(self._pool, agency_id,
                                                  UUID(request["report_id"]))
        return {"case_id": str(case_id) if case_id else None}


def _scores(raw: list[dict[str, Any]]) -> list[CategoryScore]:
    return [CategoryScore.model_validate(item) for item in raw]
