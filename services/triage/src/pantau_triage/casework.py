"""Queries and commands triage answers over request/reply: cases, workflow, corrections, claims.

Only the agency that owns a case changes it; an agency it was routed to reads it and keeps its
own referral record on it (state and note), beside the owner's state.
"""

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from pantau_shared.bus import Answer, Conflict, Forbidden, NotFound
from pantau_shared.contract import (
    CaseState,
    CaseUpdated,
    CaseView,
    CategoryScore,
    Referral,
)
from pantau_shared.contract.rpc import (
    CASE_FOR_REPORT,
    CASE_GET,
    CASE_HISTORY,
    CASE_RECLASSIFY,
    CASE_REFERRAL,
    CASE_REPORTERS,
    CASE_TRANSITION,
    CLAIMS_IMPORT,
    CLAIMS_SUBSCRIBE,
    CaseHistory,
    CaseOfReport,
    CaseQuery,
    CaseReporters,
    ClaimsImported,
    ClaimSubscriptions,
    Command,
    ImportClaims,
    ReclassifyCase,
    ReportQuery,
    SubscribeClaims,
    TransitionCase,
    UpdateReferral,
)
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import repository, workflow
from .claims_registry import ClaimRegistry, import_claims, subscribe
from .federation.news import referral_news
from .priority import assess


class CaseWork:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, claims: ClaimRegistry) -> None:
        self._pool = pool
        self._outbox = outbox
        self._claims = claims

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(CASE_GET, self.get_case),
            Answer(CASE_FOR_REPORT, self.case_for_report),
            Answer(CASE_HISTORY, self.get_history),
            Answer(CASE_REPORTERS, self.case_reporters),
            Answer(CASE_TRANSITION, self.transition),
            Answer(CASE_RECLASSIFY, self.reclassify),
            Answer(CASE_REFERRAL, self.update_referral),
            Answer(CLAIMS_IMPORT, self.add_claims),
            Answer(CLAIMS_SUBSCRIBE, self.subscribe_claims),
        ]

    async def transition(self, agency_id: str, command: TransitionCase) -> CaseView:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            case = await self._owned_case(conn, agency_id, command.case_id)
            if not await repository.command_applied(conn, command.command_id):
                current = case.state
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
                    by=_by(agency_id, command),
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
            view = await self._view(conn, agency_id, command.case_id)
        self._outbox.committed()
        return view

    async def reclassify(self, agency_id: str, command: ReclassifyCase) -> CaseView:
        now = datetime.now(UTC)
        corrected = [
            CategoryScore(category=c, score=1.0, reason=f"Dikoreksi oleh {command.actor}")
            for c in dict.fromkeys(command.categories)
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            case = await self._owned_case(conn, agency_id, command.case_id)
            if not await repository.command_applied(conn, command.command_id):
                await self._reclassify(conn, agency_id, command, case, corrected, now)
            view = await self._view(conn, agency_id, command.case_id)
        self._outbox.committed()
        return view

    async def _reclassify(
        self,
        conn: Connection,
        agency_id: str,
        command: ReclassifyCase,
        case: repository.Case,
        corrected: list[CategoryScore],
        now: datetime,
    ) -> None:
        await repository.record_correction(
            conn,
            command.case_id,
            case.categories,
            [c.category.value for c in corrected],
            command.actor,
            command.note,
        )
        await repository.set_categories(conn, command.case_id, corrected, now)
        priority = assess(
            corrected,
            reporters=case.reporter_count,
            reports=case.report_count,
            reach=case.reach,
            factors=case.priority_factors,
        )
        await repository.set_priority(conn, command.case_id, priority.score, priority.level, priority.reasons)
        await repository.record_history(
            conn,
            command.case_id,
            at=now,
            change="reclassified",
            actor=command.actor,
            from_state=case.state,
            to_state=case.state,
            note=command.note,
            by=_by(agency_id, command),
        )
        case = case.model_copy(update={"priority": priority.score, "priority_level": priority.level})
        await self._outbox.stage(
            conn,
            self._updated(
                case,
                now,
                "reclassified",
                state=case.state,
                actor=command.actor,
                categories=tuple(corrected),
                note=command.note,
            ),
        )

    async def update_referral(self, agency_id: str, command: UpdateReferral) -> CaseView:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            case = await self._visible_case(conn, agency_id, command.case_id)
            if agency_id == case.agency_id:
                raise Conflict(
                    "agensi pemilik mengubah status kasus itu sendiri; catatan rujukan untuk agensi tujuan"
                )
            if not await repository.command_applied(conn, command.command_id):
                referral = Referral(
                    agency_id=agency_id, state=command.state, note=command.note, updated_at=now
                )
                await repository.set_referral(conn, command.case_id, referral)
                await repository.record_history(
                    conn,
                    command.case_id,
                    at=now,
                    change="referral_updated",
                    actor=command.actor,
                    from_state=case.state,
                    to_state=case.state,
                    note=command.note,
                    by=_by(agency_id, command),
                    referral_state=command.state,
                )
                news = referral_news(
                    case, now, agency_id, command.state, actor=command.actor, note=command.note
                )
                await self._outbox.stage(conn, news)
            view = await self._view(conn, agency_id, command.case_id)
        self._outbox.committed()
        return view

    async def _visible_case(self, conn: Connection, agency_id: str, case_id: UUID) -> repository.Case:
        """The case locked for a change; another agency's gets the same 404 as a missing id."""
        case = await repository.lock_case(conn, case_id)
        if case is None or not case.visible_to(agency_id):
            raise NotFound(f"kasus {case_id} tidak ditemukan")
        return case

    async def _owned_case(self, conn: Connection, agency_id: str, case_id: UUID) -> repository.Case:
        """The case locked for a change by its owner. An agency it was only routed to may read
        it, so learns nothing from a 403."""
        case = await self._visible_case(conn, agency_id, case_id)
        if agency_id != case.agency_id:
            raise Forbidden(
                f"kasus {case_id} milik {case.agency_id}: hanya agensi pemilik yang dapat mengubahnya"
            )
        return case

    async def _view(self, conn: asyncpg.Pool | Connection, agency_id: str, case_id: UUID) -> CaseView:
        case = await repository.get_case(conn, agency_id, case_id)
        if case is None:
            raise NotFound(f"kasus {case_id} tidak ditemukan")
        return case.view(await repository.referrals(conn, case_id, case.routed_to))

    @staticmethod
    def _updated(
        case: repository.Case,
        now: datetime,
        change: Literal["state_changed", "reclassified"],
        *,
        state: CaseState,
        **fields: Any,
    ) -> CaseUpdated:
        fields.setdefault("categories", case.categories)
        return CaseUpdated(
            case_id=case.case_id,
            agency_id=case.agency_id,
            updated_at=now,
            change=change,
            state=state,
            region_code=case.region_code,
            priority=case.priority,
            priority_level=case.priority_level,
            report_count=case.report_count,
            reporter_count=case.reporter_count,
            routed_to=case.routed_to,
            **fields,
        )

    async def get_case(self, agency_id: str, request: CaseQuery) -> CaseView:
        return await self._view(self._pool, agency_id, request.case_id)

    async def get_history(self, agency_id: str, request: CaseQuery) -> CaseHistory:
        await self.get_case(agency_id, request)
        return CaseHistory(entries=await repository.history(self._pool, agency_id, request.case_id))

    async def case_for_report(self, agency_id: str, request: ReportQuery) -> CaseOfReport:
        return CaseOfReport(case_id=await repository.case_of_report(self._pool, agency_id, request.report_id))

    async def case_reporters(self, agency_id: str, request: CaseQuery) -> CaseReporters:
        await self.get_case(agency_id, request)
        return CaseReporters(reporter_ids=await repository.reporters_of(self._pool, request.case_id))

    async def add_claims(self, agency_id: str, command: ImportClaims) -> ClaimsImported:
        imported = await import_claims(self._pool, command.claims, added_by=agency_id)
        await self._claims.refresh(self._pool, force=True)
        return ClaimsImported(imported=imported)

    async def subscribe_claims(self, agency_id: str, command: SubscribeClaims) -> ClaimSubscriptions:
        publishers = await subscribe(self._pool, agency_id, command.publisher, command.subscribed)
        await self._claims.refresh(self._pool, force=True)
        return ClaimSubscriptions(publishers=publishers)


def _by(agency_id: str, command: Command) -> repository.ChangedBy:
    return repository.ChangedBy(agency_id, command.principal, command.command_id)
