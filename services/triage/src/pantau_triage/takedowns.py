"""Takedown requests on cases: recording them and the platforms' answers, reading them, and what
each step does to the case (its history, its state, the events others act on).

A takedown belongs to the agency that asked for it (Komdigi on a case routed to it, or the
case's owner); any agency that sees the case sees its takedowns. The owner's case moves to
`takedown_requested` when its workflow allows, and is closed as `taken_down` when the re-check
(`takedowns_recheck`) finds the content of its last open takedown gone: that state change is what
reporters who asked for news, and an agency that referred the case from another instance, hear.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.bus import Answer, Conflict, Invalid, NotFound
from pantau_shared.contract import CaseState, Referral, ReferralState, Resolution
from pantau_shared.contract.rpc import CaseQuery
from pantau_shared.contract.takedowns import (
    LEGAL_BASIS_LABELS,
    OPEN_STATUSES,
    TAKEDOWN_GET,
    TAKEDOWN_LIST,
    TAKEDOWN_REQUEST,
    TAKEDOWN_RESPOND,
    TAKEDOWN_STATISTICS,
    RecordTakedownResponse,
    Refusal,
    RequestTakedown,
    ResponseKind,
    TakedownEvent,
    TakedownQuery,
    TakedownRequested,
    TakedownResponded,
    TakedownResponseView,
    Takedowns,
    TakedownStatistics,
    TakedownStatisticsQuery,
    TakedownStatus,
    TakedownView,
)
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection
from pantau_shared.regions import local_time
from pantau_shared.wording import platform_label

from . import repository as cases
from . import takedowns_repository as store
from . import workflow
from .federation.news import case_event, referral_news

# A request may be recorded after it was sent (by letter yesterday), not before it is sent.
CLOCK_SKEW = timedelta(minutes=5)
RECHECK_ACTOR = "Pantau (pemeriksaan ulang)"
# The principal of what the re-check changes, in the history and the audit of a case.
RECHECKER = "takedown-recheck"


class TakedownWork:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self._pool = pool
        self._outbox = outbox

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(TAKEDOWN_REQUEST, self.request),
            Answer(TAKEDOWN_RESPOND, self.respond),
            Answer(TAKEDOWN_GET, self.get),
            Answer(TAKEDOWN_LIST, self.list_for_case),
            Answer(TAKEDOWN_STATISTICS, self.statistics),
        ]

    async def request(self, agency_id: str, command: RequestTakedown) -> TakedownView:
        now = datetime.now(UTC)
        requested_at = command.requested_at or now
        async with self._pool.acquire() as conn, conn.transaction():
            case = await _visible_case(conn, agency_id, command.case_id)
            if requested_at > now + CLOCK_SKEW:
                raise Invalid("waktu permintaan (requested_at) tidak boleh di masa depan")
            if (known := await store.by_command(conn, command.command_id)) is not None:
                takedown_id = known
            else:
                if case.state is CaseState.CLOSED:
                    raise Conflict(
                        f"kasus {case.case_id} sudah ditutup; buka kembali sebelum meminta penurunan"
                    )
                takedown = store.Takedown.new(case.case_id, agency_id, command, requested_at)
                await store.insert(conn, takedown, command.command_id, command.principal, command.note)
                takedown_id = takedown.takedown_id
                await self._requested(conn, case, takedown, command, now)
            view = await self._view(conn, takedown_id)
        self._outbox.committed()
        return view

    async def _requested(
        self,
        conn: Connection,
        case: cases.Case,
        takedown: store.Takedown,
        command: RequestTakedown,
        now: datetime,
    ) -> None:
        note = (
            f"Permintaan penurunan konten ke {platform_label(takedown.platform)}"
            f" ({LEGAL_BASIS_LABELS[takedown.legal_basis]}), tenggat"
            f" {local_time(takedown.deadline_at, case.region_code)}"
            + (" (mendesak)" if takedown.urgent else "")
            + (f". {command.note}" if command.note else "")
        )
        by = cases.ChangedBy(takedown.agency_id, command.principal, command.command_id)
        moves = (
            takedown.agency_id == case.agency_id
            and CaseState.TAKEDOWN_REQUESTED in workflow.TRANSITIONS[case.state]
        )
        target = CaseState.TAKEDOWN_REQUESTED if moves else case.state
        await cases.record_history(
            conn,
            case.case_id,
            at=now,
            change="state_changed" if moves else "takedown_requested",
            actor=command.actor,
            from_state=case.state,
            to_state=target,
            note=note,
            by=by,
        )
        if moves:
            await cases.set_state(conn, case.case_id, target, None, now)
            await self._outbox.stage(
                conn,
                case_event(
                    case,
                    now,
                    "state_changed",
                    target,
                    actor=command.actor,
                    previous_state=case.state,
                    note=note,
                ),
            )
        await self._outbox.stage(
            conn,
            TakedownRequested(
                **event_fields(takedown),
                legal_basis=takedown.legal_basis,
                channel=takedown.channel,
                platform_request_id=takedown.platform_request_id,
                actor=command.actor,
            ),
        )

    async def respond(self, agency_id: str, command: RecordTakedownResponse) -> TakedownView:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            takedown = await store.lock(conn, command.takedown_id)
            if takedown is None or takedown.agency_id != agency_id:
                # Another agency's takedown is answered as a missing one: ids cannot be probed.
                raise NotFound(f"permintaan penurunan {command.takedown_id} tidak ditemukan")
            answer = command.response
            if (answer.responded_at or now) > now + CLOCK_SKEW:
                raise Invalid("waktu jawaban (responded_at) tidak boleh di masa depan")
            response = TakedownResponseView(
                kind=answer.kind,
                reason=answer.reason if isinstance(answer, Refusal) else None,
                platform_request_id=answer.platform_request_id,
                responded_at=answer.responded_at or now,
                actor=answer.actor,
                note=answer.note,
            )
            response_id = await store.insert_response(
                conn, takedown.takedown_id, command.command_id, response, command.principal
            )
            if response_id is not None:
                await self._responded(conn, takedown, response, response_id, command, now)
            view = await self._view(conn, takedown.takedown_id)
        self._outbox.committed()
        return view

    async def _responded(
        self,
        conn: Connection,
        takedown: store.Takedown,
        response: TakedownResponseView,
        response_id: UUID,
        command: RecordTakedownResponse,
        now: datetime,
    ) -> None:
        changes: dict[str, object] = {}
        if response.platform_request_id:
            changes["platform_request_id"] = response.platform_request_id
        still_open = takedown.status in OPEN_STATUSES
        if still_open and response.kind is ResponseKind.REFUSED:
            changes |= {"status": TakedownStatus.REFUSED, "next_check_at": None}
        elif still_open and takedown.status is TakedownStatus.REQUESTED:
            changes["status"] = TakedownStatus.ACKNOWLEDGED
        if still_open and response.kind is ResponseKind.CLAIMS_REMOVED:
            # Only a re-check marks it removed: one now, to see what the platform says.
            changes["next_check_at"] = now
        if changes:
            await store.update(conn, takedown.takedown_id, **changes)
        words = {
            ResponseKind.ACKNOWLEDGED: "menerima permintaan",
            ResponseKind.REFUSED: "menolak permintaan",
            ResponseKind.CLAIMS_REMOVED: "menyatakan konten sudah diturunkan",
        }[response.kind]
        note = f"{platform_label(takedown.platform)} {words}" + (
            f": {response.reason}" if response.reason else ""
        )
        await self.history(
            conn,
            takedown,
            "takedown_response",
            response.actor,
            note + (f". {response.note}" if response.note else ""),
            cases.ChangedBy(takedown.agency_id, command.principal, command.command_id),
        )
        await self._outbox.stage(
            conn,
            TakedownResponded(
                **event_fields(takedown),
                response_id=response_id,
                kind=response.kind,
                reason=response.reason,
                responded_at=response.responded_at,
                actor=response.actor,
            ),
        )

    async def history(
        self,
        conn: Connection,
        takedown: store.Takedown,
        change: str,
        actor: str | None,
        note: str,
        by: cases.ChangedBy | None = None,
    ) -> None:
        """A line in the case's history that leaves its state as it is."""
        state = await conn.fetchval("SELECT state FROM cases WHERE case_id = $1", takedown.case_id)
        await cases.record_history(
            conn,
            takedown.case_id,
            at=datetime.now(UTC),
            change=change,
            actor=actor,
            from_state=state,
            to_state=state,
            note=note,
            by=by or cases.ChangedBy(takedown.agency_id, RECHECKER),
        )

    async def removed(self, conn: Connection, takedown: store.Takedown, note: str, now: datetime) -> None:
        """The content of `takedown` is gone. The owner's case closes as taken down when it
        waited in `takedown_requested` for no other takedown; an agency the case is routed to
        has its referral record done (taken down) when none of its own takedowns is left: the
        same news the owner gets from such an agency on another instance. Otherwise a person
        decides, and the history says what the re-check saw."""
        case = await cases.lock_case(conn, takedown.case_id)
        assert case is not None
        if takedown.agency_id != case.agency_id:
            if await store.open_on_case(conn, case.case_id, takedown.agency_id) == 0:
                await self._routed_done(conn, case, takedown.agency_id, note, now)
                return
        elif case.state is CaseState.TAKEDOWN_REQUESTED and await store.open_on_case(conn, case.case_id) == 0:
            await self._close(conn, case, note, now)
            return
        await self.history(conn, takedown, "takedown_removed", RECHECK_ACTOR, note)

    async def _close(self, conn: Connection, case: cases.Case, note: str, now: datetime) -> None:
        resolution = Resolution.TAKEN_DOWN
        await cases.set_state(conn, case.case_id, CaseState.CLOSED, resolution.value, now)
        await cases.record_history(
            conn,
            case.case_id,
            at=now,
            change="state_changed",
            actor=RECHECK_ACTOR,
            from_state=case.state,
            to_state=CaseState.CLOSED,
            resolution=resolution.value,
            note=note,
            by=cases.ChangedBy(case.agency_id, RECHECKER),
        )
        await self._outbox.stage(
            conn,
            case_event(
                case,
                now,
                "state_changed",
                CaseState.CLOSED,
                actor=RECHECK_ACTOR,
                previous_state=case.state,
                resolution=resolution,
                note=note,
            ),
        )

    async def _routed_done(
        self, conn: Connection, case: cases.Case, agency_id: str, note: str, now: datetime
    ) -> None:
        done = ReferralState.DONE
        await cases.set_referral(
            conn, case.case_id, Referral(agency_id=agency_id, state=done, note=note, updated_at=now)
        )
        await cases.record_history(
            conn,
            case.case_id,
            at=now,
            change="referral_updated",
            actor=RECHECK_ACTOR,
            from_state=case.state,
            to_state=case.state,
            note=note,
            by=cases.ChangedBy(agency_id, RECHECKER),
            referral_state=done,
        )
        news = referral_news(
            case,
            now,
            agency_id,
            done,
            actor=RECHECK_ACTOR,
            note=note,
            partner_resolution=Resolution.TAKEN_DOWN,
        )
        await self._outbox.stage(conn, news)

    async def get(self, agency_id: str, request: TakedownQuery) -> TakedownView:
        takedown = await store.get(self._pool, request.takedown_id)
        if takedown is None or await cases.get_case(self._pool, agency_id, takedown.case_id) is None:
            raise NotFound(f"permintaan penurunan {request.takedown_id} tidak ditemukan")
        return await self._view(self._pool, takedown.takedown_id)

    async def list_for_case(self, agency_id: str, request: CaseQuery) -> Takedowns:
        if await cases.get_case(self._pool, agency_id, request.case_id) is None:
            raise NotFound(f"kasus {request.case_id} tidak ditemukan")
        found = await store.of_case(self._pool, request.case_id)
        return Takedowns(takedowns=[await self._view(self._pool, t.takedown_id) for t in found])

    async def statistics(self, agency_id: str, request: TakedownStatisticsQuery) -> TakedownStatistics:
        # An empty window ([since, until) with until not after since) has no takedowns: zeros.
        return await store.statistics(self._pool, agency_id, request.since, request.until, request.platform)

    async def _view(self, conn: asyncpg.Pool | Connection, takedown_id: UUID) -> TakedownView:
        takedown = await store.get(conn, takedown_id)
        assert takedown is not None
        return view_of(
            takedown, await store.responses(conn, takedown_id), await store.recent_checks(conn, takedown_id)
        )


def view_of(
    takedown: store.Takedown, responses: list[TakedownResponseView], checks: list[Any]
) -> TakedownView:
    removed, requested = takedown.removed_at, takedown.requested_at
    return TakedownView(
        **takedown.model_dump(exclude={"removal_kind"}),
        removal_kind=takedown.removal_kind,
        legal_basis_label=LEGAL_BASIS_LABELS[takedown.legal_basis],
        time_to_removal_s=(removed - requested).total_seconds() if removed else None,
        removal_precision_s=removal_precision(takedown),
        within_deadline=(removed <= takedown.deadline_at) if removed else None,
        responses=responses,
        recent_checks=checks,
    )


def removal_precision(takedown: store.Takedown) -> float | None:
    """How long before `removed_at` the content may have gone: since the last re-check that saw
    it, or since the request when none did."""
    if takedown.removed_at is None:
        return None
    since = max(takedown.last_seen_live_at or takedown.requested_at, takedown.requested_at)
    return max(0.0, (takedown.removed_at - since).total_seconds())


def event_fields(takedown: store.Takedown) -> dict[str, Any]:
    return {name: getattr(takedown, name) for name in TakedownEvent.model_fields}


async def _visible_case(conn: Connection, agency_id: str, case_id: UUID) -> cases.Case:
    case = await cases.lock_case(conn, case_id)
    if case is None or not case.visible_to(agency_id):
        raise NotFound(f"kasus {case_id} tidak ditemukan")
    return case
