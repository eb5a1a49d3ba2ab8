"""What triage does with each received report, and the reads and commands it answers."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from pantau_shared.batching import MicroBatcher
from pantau_shared.bus import NotFound, RetryLater, RpcHandler, Subscription
from pantau_shared.contract import (
    CaseHistoryEntry,
    CaseOpened,
    CaseState,
    CaseUpdated,
    CaseView,
    Category,
    CategoryScore,
    ClaimRef,
    Envelope,
    EventData,
    ReportReceived,
    Resolution,
    new_id,
)
from pantau_shared.outbox import Outbox

from . import repository, workflow
from .analysis import Analyser, Analysis
from .claims_registry import ClaimRegistry, import_claims
from .classify import TriageClassifier
from .election_rules import Assessment, ElectionRules
from .matching import SIMILARITY_THRESHOLD, Fingerprint, similarity
from .priority import assess
from .routing import Router

SUMMARY_LENGTH = 280


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: UUID
    to: CaseState
    actor: str = Field(min_length=1, max_length=200)
    resolution: Resolution | None = None
    note: str | None = Field(default=None, max_length=2_000)


class Reclassification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: UUID
    categories: list[Category]
    actor: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2_000)


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=10, max_length=5_000)
    verdict: str = Field(min_length=1, max_length=100)
    source_url: str = Field(min_length=8, max_length=2_000)
    checked_on: str | None = None


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

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="triage-reports",
                stream="REPORTS",
                subject_suffix=ReportReceived.SUBJECT,
                handler=self.report_received,
                events=(ReportReceived,),
            ),
        ]

    def reads(self) -> dict[str, RpcHandler]:
        return {
            "case.get": self.get_case,
            "case.for_report": self.case_for_report,
            "case.history": self.get_history,
            "case.transition": self.transition,
            "case.reclassify": self.reclassify,
            "claims.import": self.add_claims,
            "case.reporters": self.case_reporters,
        }

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        report = envelope.data
        assert isinstance(report, ReportReceived)
        await self._claims.refresh(self._pool)
        found = await self._analyse(report.text or "")
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await self._triage(conn, report, found)
        except asyncpg.UniqueViolationError as race:
            # Another instance opened the case for this content a moment ago: retry to join it.
            raise RetryLater(str(race)) from race
        self._outbox.committed()

    async def _triage(self, conn: asyncpg.Connection, report: ReportReceived, found: Analysis) -> None:
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
            conn, case["case_id"], report.report_id, _independent(report), now
        )
        scores = [CategoryScore.model_validate(c) for c in case["categories"]]
        priority = assess(
            scores,
            reporters=reporters,
            reports=reports,
            reach=max(case["reach"] or 0, report.reach or 0) or None,
            factors=[tuple(f) for f in case["priority_factors"]],
        )
        await repository.set_priority(conn, case["case_id"], priority.score, priority.level, priority.reasons)
        await self._outbox.stage(
            conn,
            CaseUpdated(
                case_id=case["case_id"],
                agency_id=case["agency_id"],
                updated_at=now,
                change="report_attached",
                state=case["state"],
                region_code=case["region_code"],
                categories=tuple(scores),
                priority=priority.score,
                priority_level=priority.level,
                report_count=reports,
                reporter_count=reporters,
                report_id=report.report_id,
                routed_to=tuple(case["routed_to"]),
            ),
        )

    async def _near_duplicate(
        self, conn: asyncpg.Connection, agency_id: str, print_: Fingerprint
    ) -> dict[str, Any] | None:
        best: tuple[float, UUID] | None = None
        for row in await repository.near_duplicate_candidates(conn, agency_id, print_.band_keys):
            score = similarity(print_, Fingerprint.from_bytes("", row["signature"]))
            if score >= SIMILARITY_THRESHOLD and (best is None or score > best[0]):
                best = (score, row["case_id"])
        return await repository.lock_case(conn, best[1]) if best else None

    async def _open(
        self,
        conn: asyncpg.Connection,
        report: ReportReceived,
        assessment: Assessment,
        claims: list[ClaimRef],
        print_: Fingerprint | None,
        now: datetime,
    ) -> None:
        categories = assessment.categories
        priority = assess(
            categories,
            reporters=1 if _independent(report) else 0,
            reports=1,
            flooded_sender=report.sender_reports_today if report.sender_flagged else None,
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
            summary=(report.text or report.url or "")[:SUMMARY_LENGTH],
            categories=tuple(categories),
            priority=priority.score,
            priority_level=priority.level,
            priority_reasons=priority.reasons,
            report_count=1,
            reporter_count=1 if _independent(report) else 0,
            routed_to=self._router.route(report.agency_id, report.region_code, categories),
            claims=tuple(claims),
        )
        await repository.insert_case(
            conn,
            {
                **opened.model_dump(include=set(repository.CASE_COLUMNS)),
                "categories": opened.categories,
                "claims": opened.claims,
                "updated_at": now,
                "content_sha256": report.content_sha256,
                "report_count": 0,
                "reporter_count": 0,
                "resolution": None,
                "priority_factors": assessment.factors,
                "reach": report.reach,
            },
            report.text,
        )
        if print_ is not None:
            await repository.insert_fingerprint(
                conn, opened.case_id, report.agency_id, print_.band_keys, print_.to_bytes()
            )
        await repository.attach_report(conn, opened.case_id, report.report_id, _independent(report), now)
        await repository.record_history(
            conn, opened.case_id, at=now, change="opened", actor=None, from_state=None, to_state=CaseState.NEW
        )
        await self._outbox.stage(conn, opened)

    async def transition(self, agency_id: str, request: dict[str, Any]) -> CaseView:
        command = Transition.model_validate(request)
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            case = await self._owned_case(conn, agency_id, command.case_id)
            current = CaseState(case["state"])
            workflow.check(current, command.to, command.resolution)
            resolution = command.resolution.value if command.resolution else None
            await repository.set_state(conn, command.case_id, command.to, resolution, now)
            await repository.record_history(
                conn,
                command.case_id,
                at=now,
                change="state_changed",
                actor=command.actor,
                from_state=current,
                to_state=command.to,
                resolution=resolution,
                note=command.note,
            )
            await self._outbox.stage(
                conn,
                self._updated(
                    case,
                    now,
                    "state_changed",
                    state=command.to,
                    actor=command.actor,
                    previous_state=current,
                    resolution=command.resolution,
                    note=command.note,
                ),
            )
            view = await repository.get_case(conn, agency_id, command.case_id)
        self._outbox.committed()
        return CaseView.model_validate(view)

    async def reclassify(self, agency_id: str, request: dict[str, Any]) -> CaseView:
        command = Reclassification.model_validate(request)
        now = datetime.now(UTC)
        corrected = [
            CategoryScore(category=c, score=1.0, reason=f"Dikoreksi oleh {command.actor}")
            for c in dict.fromkeys(command.categories)
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            case = await self._owned_case(conn, agency_id, command.case_id)
            await repository.record_correction(
                conn,
                command.case_id,
                case["categories"],
                [c.category.value for c in corrected],
                command.actor,
                command.note,
            )
            await repository.set_categories(conn, command.case_id, corrected, now)
            priority = assess(
                corrected,
                reporters=case["reporter_count"],
                reports=case["report_count"],
                reach=case["reach"],
                factors=[tuple(f) for f in case["priority_factors"]],
            )
            await repository.set_priority(
                conn, command.case_id, priority.score, priority.level, priority.reasons
            )
            await repository.record_history(
                conn,
                command.case_id,
                at=now,
                change="reclassified",
                actor=command.actor,
                from_state=case["state"],
                to_state=case["state"],
                note=command.note,
            )
            case = {**case, "priority": priority.score, "priority_level": priority.level}
            await self._outbox.stage(
                conn,
                self._updated(
                    case,
                    now,
                    "reclassified",
                    state=CaseState(case["state"]),
                    actor=command.actor,
                    categories=tuple(corrected),
                    note=command.note,
                ),
            )
            view = await repository.get_case(conn, agency_id, command.case_id)
        self._outbox.committed()
        return CaseView.model_validate(view)

    async def _owned_case(self, conn: asyncpg.Connection, agency_id: str, case_id: UUID) -> dict[str, Any]:
        case = await repository.lock_case(conn, case_id)
        if case is None or (agency_id != case["agency_id"] and agency_id not in case["routed_to"]):
            raise NotFound(f"kasus {case_id} tidak ditemukan")
        return case

    @staticmethod
    def _updated(
        case: dict[str, Any], now: datetime, change: str, *, state: CaseState, **fields: Any
    ) -> CaseUpdated:
        fields.setdefault("categories", tuple(CategoryScore.model_validate(c) for c in case["categories"]))
        return CaseUpdated(
            case_id=case["case_id"],
            agency_id=case["agency_id"],
            updated_at=now,
            change=change,
            state=state,
            region_code=case["region_code"],
            priority=case["priority"],
            priority_level=case["priority_level"],
            report_count=case["report_count"],
            reporter_count=case["reporter_count"],
            routed_to=tuple(case["routed_to"]),
            **fields,
        )

    async def get_case(self, agency_id: str, request: dict[str, Any]) -> CaseView:
        case = await repository.get_case(self._pool, agency_id, UUID(request["case_id"]))
        if case is None:
            raise NotFound(f"kasus {request['case_id']} tidak ditemukan")
        return CaseView.model_validate(case)

    async def get_history(self, agency_id: str, request: dict[str, Any]) -> list[CaseHistoryEntry]:
        await self.get_case(agency_id, request)
        rows = await repository.history(self._pool, agency_id, UUID(request["case_id"]))
        return [CaseHistoryEntry.model_validate(dict(row)) for row in rows]

    async def case_for_report(self, agency_id: str, request: dict[str, Any]) -> dict[str, Any]:
        case_id = await repository.case_of_report(self._pool, agency_id, UUID(request["report_id"]))
        return {"case_id": str(case_id) if case_id else None}

    async def case_reporters(self, agency_id: str, request: dict[str, Any]) -> dict[str, Any]:
        await self.get_case(agency_id, request)
        return {"reporter_ids": await repository.reporters_of(self._pool, UUID(request["case_id"]))}

    async def add_claims(self, agency_id: str, request: dict[str, Any]) -> dict[str, Any]:
        claims = [ClaimIn.model_validate(c).model_dump() for c in request["claims"]]
        imported = await import_claims(self._pool, claims, added_by=agency_id)
        await self._claims.refresh(self._pool, force=True)
        return {"imported": imported}


def _independent(report: ReportReceived) -> str | None:
    """The reporter, unless flagged as a flood: a flood is not independent confirmation."""
    return None if report.sender_flagged else report.reporter_id
