import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.contract import CategoryScore

CASE_COLUMNS = ("case_id", "agency_id", "state", "opened_at", "updated_at", "region_code",
                "platform", "canonical_url", "content_sha256", "summary", "categories", "priority",
                "priority_level", "priority_reasons", "report_count", "reporter_count")


def _case(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    case = dict(row)
    for column in ("categories", "priority_reasons"):
        case[column] = json.loads(case[column])
    return case


async def already_attached(conn: asyncpg.Connection, report_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM case_reports WHERE report_id = $1",
                                    report_id))


async def open_case_for(conn: asyncpg.Connection, agency_id: str, canonical_url: str | None,
                        content_sha256: str | None) -> dict[str, Any] | None:
    """The open case about the same link, else about the same text; locked for the update."""
    for column, value in (("canonical_url", canonical_url), ("content_sha256", content_sha256)):
        if value is None:
            continue
        row = await conn.fetchrow(
            f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE agency_id = $1 AND {column} = $2"
            " AND state <> 'closed' FOR UPDATE", agency_id, value)
        if row is not None:
            return _case(row)
    return None


async def insert_case(conn: asyncpg.Connection, case: dict[str, Any]) -> None:
    values = dict(case)
    values["categories"] = json.dumps(
        [c.model_dump(mode="json") if isinstance(c, CategoryScore) else c
         for c in values["categories"]])
    values["priority_reasons"] = json.dumps(list(values["priority_reasons"]))
    await conn.execute(
        f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES "
        f"({', '.join(f'${i}' for i in range(1, len(CASE_COLUMNS) + 1))})",
        *(values[c] for c in CASE_COLUMNS))


async def attach_report(conn: asyncpg.Connection, case_id: UUID, report_id: UUID,
                        reporter_id: str | None, at: datetime) -> tuple[int, int]:
    """Attach and return the case's new (report_count, reporter_count)."""
    new_reporter = reporter_id is not None and not await conn.fetchval(
        "SELECT true FROM case_reports WHERE case_id = $1 AND reporter_id = $2 LIMIT 1",
        case_id, reporter_id)
    await conn.execute(
        "INSERT INTO case_reports (report_id, case_id, reporter_id, attached_at)"
        " VALUES ($1, $2, $3, $4)", report_id, case_id, reporter_id, at)
    row = await conn.fetchrow(
        "UPDATE cases SET report_count = report_count + 1,"
        " reporter_count = reporter_count + $2::int, updated_at = $3"
        " WHERE case_id = $1 RETURNING report_count, reporter_count",
        case_id, int(new_reporter), at)
    return row["report_count"], row["reporter_count"]


async def set_priority(conn: asyncpg.Connection, case_id: UUID, score: int, level: str,
                       reasons: tuple[str, ...]) -> None:
    await conn.execute(
        "UPDATE cases SET priority = $2, priority_level = $3, priority_reasons = $4::jsonb"
        " WHERE case_id = $1", case_id, score, level, json.dumps(list(reasons)))


async def get_case(pool: asyncpg.Pool, agency_id: str, case_id: UUID) -> dict[str, Any] | None:
    return _case(await pool.fetchrow(
        f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE case_id = $1 AND agency_id = $2",
        case_id, agency_id))


async def case_of_report(pool: asyncpg.Pool, agency_id: str, report_id: UUID) -> UUID | None:
    return await pool.fetchval(
        "SELECT r.case_id FROM case_reports r JOIN cases c USING (case_id)"
        " WHERE r.report_id = $1 AND c.agency_id = $2", report_id, agency_id)
