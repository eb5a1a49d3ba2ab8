"""The work queue triage answers: pages of cases, assignment, notes and bulk transitions.

Visibility is `case.get`'s: the cases an agency owns and those routed to it; another agency's
case id is answered as a missing one. Only the owner assigns or moves a case; the owner and the
agencies it was routed to each keep their own notes.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared import paging
from pantau_shared.bus import Answer, Forbidden, NotFound, RpcError
from pantau_shared.contract import Referral, stable_id
from pantau_shared.contract.queue import (
    CASE_ASSIGN,
    CASE_EXPORT,
    CASE_LIST,
    CASE_NOTE,
    CASE_NOTES,
    CASE_STATISTICS,
    CASE_TRANSITION_MANY,
    AddNote,
    AssignCase,
    BulkOutcomes,
    CaseListQuery,
    CaseNote,
    CaseNotes,
    CaseOutcome,
    CasePage,
    CaseSort,
    ExportCase,
    ExportPage,
    QueueCase,
    TransitionCases,
)
from pantau_shared.contract.rpc import CaseQuery, TransitionCase
from pantau_shared.postgres import Connection

from . import repository
from .case_filter import QUEUE_COLUMNS, conditions, scopes
from .casework import CaseWork
from .statistics import CaseFigures

# Each sort: its key columns, whether the first runs high to low, and the key's types in a cursor.
SORTS: dict[CaseSort, tuple[str, bool, tuple[type[paging.Key], ...]]] = {
    CaseSort.PRIORITY: ("priority", True, (int, UUID)),
    CaseSort.OLDEST: ("opened_at", False, (datetime, UUID)),
    CaseSort.NEWEST: ("opened_at", True, (datetime, UUID)),
    CaseSort.UPDATED: ("updated_at", True, (datetime, UUID)),
}


def page_sql(agency_id: str, query: CaseListQuery) -> tuple[str, list[Any]]:
    """The statement of one page: each visibility branch ordered and limited on its own index,
    then merged; the case id breaks ties so the cursor is a strict position."""
    column, descending, types = SORTS[query.sort]
    where = conditions(agency_id, query)
    direction = "DESC" if descending else "ASC"
    if query.cursor is not None:
        where.after(f"{column}, case_id", query.cursor, query.sort.value, types, descending=descending)
    limit = where.param(query.limit + 1)
    order = f"ORDER BY {column} {direction}, case_id {direction}"
    columns = ", ".join(QUEUE_COLUMNS)
    branches = [
        f"(SELECT {columns} FROM cases WHERE {scope} AND {where.sql()} {order} LIMIT {limit})"
        for scope in scopes(query.scope)
    ]
    return f"SELECT * FROM ({' UNION ALL '.join(branches)}) page {order} LIMIT {limit}", where.args


def queue_case(row: asyncpg.Record, referrals: Sequence[Referral]) -> QueueCase:
    case = dict(row)
    for column in repository.JSON_COLUMNS:
        case[column] = json.loads(case[column])
    return QueueCase.model_validate({**case, "referrals": referrals})


async def referrals_of(
    conn: asyncpg.Pool | Connection, rows: Sequence[asyncpg.Record]
) -> list[list[Referral]]:
    """Each case's referral records (one per routed agency, `pending` until it writes one), in one
    query for the whole page."""
    found = await conn.fetch(
        "SELECT case_id, agency_id, state, note, updated_at FROM referrals WHERE case_id = ANY($1::uuid[])",
        [row["case_id"] for row in rows],
    )
    recorded = {(r["case_id"], r["agency_id"]): Referral.model_validate(dict(r)) for r in found}
    return [
        [recorded.get((row["case_id"], agency), Referral(agency_id=agency)) for agency in row["routed_to"]]
        for row in rows
    ]


async def page_rows(
    conn: asyncpg.Pool | Connection, agency_id: str, query: CaseListQuery
) -> tuple[list[asyncpg.Record], list[list[Referral]], str | None]:
    sql, args = page_sql(agency_id, query)
    rows = await conn.fetch(sql, *args)
    cursor = paging.next_cursor(rows, query.limit, query.sort.value, (SORTS[query.sort][0], "case_id"))
    rows = rows[: query.limit]
    return rows, await referrals_of(conn, rows), cursor


async def reports_of(
    conn: asyncpg.Pool | Connection, rows: Sequence[asyncpg.Record]
) -> dict[UUID, list[UUID]]:
    """Each case's first reports, in the order they were attached (at most 20 a case)."""
    found = await conn.fetch(
        "SELECT case_id, report_id FROM (SELECT case_id, report_id, row_number() OVER"
        " (PARTITION BY case_id ORDER BY attached_at, report_id) AS n FROM case_reports"
        " WHERE case_id = ANY($1::uuid[])) first WHERE n <= 20 ORDER BY case_id, n",
        [row["case_id"] for row in rows],
    )
    reports: dict[UUID, list[UUID]] = {}
    for row in found:
        reports.setdefault(row["case_id"], []).append(row["report_id"])
    return reports


class CaseQueue:
    def __init__(self, pool: asyncpg.Pool, casework: CaseWork) -> None:
        self._pool = pool
        self._casework = casework
        self._statistics = CaseFigures(pool)

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(CASE_LIST, self.list_cases),
            Answer(CASE_EXPORT, self.export_page),
            Answer(CASE_STATISTICS, self._statistics.figures),
            Answer(CASE_ASSIGN, self.assign),
            Answer(CASE_NOTE, self.add_note),
            Answer(CASE_NOTES, self.notes),
            Answer(CASE_TRANSITION_MANY, self.transition_many),
        ]

    async def list_cases(self, agency_id: str, query: CaseListQuery) -> CasePage:
        rows, referrals, cursor = await page_rows(self._pool, agency_id, query)
        cases = [queue_case(row, refs) for row, refs in zip(rows, referrals, strict=True)]
        return CasePage(cases=cases, next_cursor=cursor)

    async def export_page(self, agency_id: str, query: CaseListQuery) -> ExportPage:
        rows, referrals, cursor = await page_rows(self._pool, agency_id, query)
        reports = await reports_of(self._pool, rows)
        cases = [
            ExportCase.model_validate(
                {**queue_case(row, refs).model_dump(), "content_sha256": row["content_sha256"]}
                | {"report_ids": reports.get(row["case_id"], [])}
            )
            for row, refs in zip(rows, referrals, strict=True)
        ]
        return ExportPage(cases=cases, next_cursor=cursor)

    async def assign(self, agency_id: str, command: AssignCase) -> QueueCase:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            case = await _locked(conn, agency_id, command.case_id)
            if agency_id != case.agency_id:
                raise Forbidden(
                    f"kasus {case.case_id} milik {case.agency_id}: hanya agensi pemilik yang menugaskannya"
                )
            if not await repository.command_applied(conn, command.command_id):
                await conn.execute(
                    "UPDATE cases SET assignee = $2, assigned_at = $3, updated_at = $3 WHERE case_id = $1",
                    case.case_id,
                    str(command.assignee) if command.assignee else None,
                    now,
                )
                said = f"Ditugaskan kepada {command.assignee}" if command.assignee else "Penugasan dicabut"
                await repository.record_history(
                    conn,
                    case.case_id,
                    at=now,
                    change="assigned",
                    actor=command.actor,
                    from_state=case.state,
                    to_state=case.state,
                    note=f"{said}: {command.note}" if command.note else said,
                    by=repository.ChangedBy(agency_id, command.principal, command.command_id),
                )
            return await self._one(conn, agency_id, case.case_id)

    async def add_note(self, agency_id: str, command: AddNote) -> CaseNote:
        async with self._pool.acquire() as conn, conn.transaction():
            await _locked(conn, agency_id, command.case_id)
            # The command id is the note's id: a retried command adds it once.
            row = await conn.fetchrow(
                "INSERT INTO case_notes (note_id, case_id, agency_id, actor, principal, text, at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (note_id) DO NOTHING RETURNING *",
                command.command_id,
                command.case_id,
                agency_id,
                command.actor,
                command.principal,
                command.text,
                datetime.now(UTC),
            ) or await conn.fetchrow(
                "SELECT * FROM case_notes WHERE note_id = $1 AND agency_id = $2",
                command.command_id,
                agency_id,
            )
        if row is None or row["case_id"] != command.case_id:
            raise NotFound(f"kasus {command.case_id} tidak ditemukan")
        return CaseNote.model_validate(dict(row))

    async def notes(self, agency_id: str, request: CaseQuery) -> CaseNotes:
        if await repository.get_case(self._pool, agency_id, request.case_id) is None:
            raise NotFound(f"kasus {request.case_id} tidak ditemukan")
        rows = await self._pool.fetch(
            "SELECT * FROM case_notes WHERE case_id = $1 AND agency_id = $2 ORDER BY at, note_id",
            request.case_id,
            agency_id,
        )
        return CaseNotes(notes=[CaseNote.model_validate(dict(row)) for row in rows])

    async def transition_many(self, agency_id: str, command: TransitionCases) -> BulkOutcomes:
        """Each case in its own transaction, as `case.transition` would move it, so one refusal
        refuses only that case; a retried batch derives the same command id per case."""
        outcomes = []
        for case_id in dict.fromkeys(command.case_ids):
            single = TransitionCase(
                case_id=case_id,
                to=command.to,
                actor=command.actor,
                resolution=command.resolution,
                note=command.note,
                principal=command.principal,
                command_id=stable_id(str(command.command_id), str(case_id)),
            )
            try:
                view = await self._casework.transition(agency_id, single)
            except RpcError as error:
                outcomes.append(
                    CaseOutcome.model_validate(
                        {
                            "case_id": case_id,
                            "status": error.status,
                            "detail": error.detail,
                            "allowed": error.allowed,
                        }
                    )
                )
            else:
                outcomes.append(CaseOutcome(case_id=case_id, status=200, state=view.state))
        changed = sum(outcome.status == 200 for outcome in outcomes)
        return BulkOutcomes(changed=changed, refused=len(outcomes) - changed, outcomes=outcomes)

    async def _one(self, conn: Connection, agency_id: str, case_id: UUID) -> QueueCase:
        row = await conn.fetchrow(f"SELECT {', '.join(QUEUE_COLUMNS)} FROM cases WHERE case_id = $1", case_id)
        assert row is not None  # locked by the caller
        return queue_case(row, (await referrals_of(conn, [row]))[0])


async def _locked(conn: Connection, agency_id: str, case_id: UUID) -> repository.Case:
    """The case locked for a change; another agency's gets the same 404 as a missing id."""
    case = await repository.lock_case(conn, case_id)
    if case is None or not case.visible_to(agency_id):
        raise NotFound(f"kasus {case_id} tidak ditemukan")
    return case
