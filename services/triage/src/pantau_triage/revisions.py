"""A reporter's late change to a report that is already in a case: an edit or a deletion.

The case keeps the report, its first text and its evidence (authors and reporters often delete
once a case starts); the change is a line in the case's history, so the patrol sees what the
reporter now says, or that they took the message back. Priority is left as it is: a deletion
may be fear of the person reported as easily as a retraction.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from pantau_shared.contract import Envelope, EventData, ReportRevised
from pantau_shared.postgres import Connection
from pantau_shared.wording import excerpt

from . import repository

log = logging.getLogger(__name__)

NOTE_LENGTH = 280


class ReportRevisions:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def report_revised(self, envelope: Envelope[EventData]) -> None:
        revision = envelope.data
        assert isinstance(revision, ReportRevised)
        async with self._pool.acquire() as conn, conn.transaction():
            added = await conn.fetchval(
                "INSERT INTO report_revisions (report_id, external_id, agency_id, change, revised_at,"
                " revises, text) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
                revision.report_id,
                revision.external_id,
                revision.agency_id,
                revision.change,
                revision.revised_at,
                revision.revises,
                revision.text,
            )
            if not added:
                return  # a redelivery
            case = await _case_of(conn, revision.report_id)
            if case is not None:
                await self._into_history(conn, case, [Change.of(revision)])
        log.info(
            "report %s %s by its reporter (%s): %s",
            revision.report_id,
            revision.change,
            revision.external_id,
            f"shown in case {case['case_id']}"
            if case is not None
            else "kept; shown in its case when the report joins one",
        )

    async def attached(self, conn: Connection, report_id: UUID) -> None:
        """A report joined a case (in the caller's transaction): changes its reporter made before
        that, read while it was in no case, go into the case's history now."""
        # Almost always none: one look-up by primary key prefix, before the case is locked.
        rows = await conn.fetch(
            "SELECT report_id, external_id, change, revised_at, text"
            " FROM report_revisions WHERE report_id = $1 AND NOT in_history ORDER BY revised_at",
            report_id,
        )
        case = await _case_of(conn, report_id) if rows else None
        if case is not None:
            await self._into_history(conn, case, [Change(**dict(r)) for r in rows])

    @staticmethod
    async def _into_history(conn: Connection, case: asyncpg.Record, revisions: list["Change"]) -> None:
        for revision in revisions:
            await repository.record_history(
                conn,
                case["case_id"],
                at=revision.revised_at,
                change=f"report_{revision.change}",
                actor="pelapor",
                from_state=case["state"],
                to_state=case["state"],
                note=_note(revision),
            )
            await conn.execute(
                "UPDATE report_revisions SET in_history = true WHERE report_id = $1 AND external_id = $2",
                revision.report_id,
                revision.external_id,
            )


async def _case_of(conn: Connection, report_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT c.case_id, c.state FROM case_reports r JOIN cases c USING (case_id)"
        " WHERE r.report_id = $1 FOR UPDATE OF c",
        report_id,
    )
    return row


@dataclass(frozen=True, slots=True)
class Change:
    """A kept revision, as the case history needs it."""

    report_id: UUID
    external_id: str
    change: str
    revised_at: datetime
    text: str | None

    @classmethod
    def of(cls, revision: ReportRevised) -> "Change":
        return cls(
            revision.report_id, revision.external_id, revision.change, revision.revised_at, revision.text
        )


def _note(revision: Change) -> str:
    if revision.change == "withdrawn":
        return "Pelapor menghapus pesannya; laporan dan buktinya tetap disimpan."
    return f"Pelapor mengubah pesannya menjadi: {excerpt(revision.text, NOTE_LENGTH) or '(tanpa teks)'}"
