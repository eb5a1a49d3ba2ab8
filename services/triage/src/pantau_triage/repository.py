import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict

from pantau_shared.contract import (
    CaseHistoryEntry,
    CaseState,
    CaseView,
    CategoryScore,
    ClaimRef,
    Platform,
    PriorityLevel,
    Referral,
    ReferralState,
    Resolution,
)
from pantau_shared.postgres import Connection

CASE_COLUMNS = (
    "case_id",
    "agency_id",
    "state",
    "opened_at",
    "updated_at",
    "region_code",
    "platform",
    "canonical_url",
    "content_sha256",
    "summary",
    "categories",
    "priority",
    "priority_level",
    "priority_reasons",
    "report_count",
    "reporter_count",
    "routed_to",
    "claims",
    "resolution",
    "priority_factors",
    "reach",
)
JSON_COLUMNS = ("categories", "priority_reasons", "claims", "priority_factors")
SELECT_CASE = f"SELECT {', '.join(CASE_COLUMNS)} FROM cases"
# A case is visible to the agency that received it and to those it was routed to.
VISIBLE_TO = "($2 = agency_id OR $2 = ANY(routed_to))"


class Case(BaseModel):
    """A case as stored: what triage reads to update it and to answer for it."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    agency_id: str
    state: CaseState
    opened_at: datetime
    updated_at: datetime
    region_code: str | None
    platform: Platform
    canonical_url: str | None
    content_sha256: str | None
    summary: str
    categories: tuple[CategoryScore, ...]
    priority: int
    priority_level: PriorityLevel
    priority_reasons: tuple[str, ...]
    report_count: int
    reporter_count: int
    routed_to: tuple[str, ...]
    claims: tuple[ClaimRef, ...]
    resolution: Resolution | None
    # What raised the priority besides the categories, kept for recomputing it.
    priority_factors: tuple[tuple[float, str], ...]
    reach: int | None

    def visible_to(self, agency_id: str) -> bool:
        return agency_id == self.agency_id or agency_id in self.routed_to

    def view(self, referrals: Sequence[Referral]) -> CaseView:
        return CaseView.model_validate({**self.model_dump(), "referrals": referrals})


def _case(row: asyncpg.Record | None) -> Case | None:
    if row is None:
        return None
    case = dict(row)
    for column in JSON_COLUMNS:
        case[column] = json.loads(case[column])
    return Case.model_validate(case)


async def already_attached(conn: Connection, report_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM case_reports WHERE report_id = $1", report_id))


async def open_case_for(
    conn: Connection, agency_id: str, canonical_url: str | None, content_sha256: str | None
) -> Case | None:
    """The open case about the same link, else about the same text; locked for the update."""
    for column, value in (("canonical_url", canonical_url), ("content_sha256", content_sha256)):
        if value is None:
            continue
        row = await conn.fetchrow(
            f"{SELECT_CASE} WHERE agency_id = $1 AND {column} = $2 AND state <> 'closed' FOR UPDATE",
            agency_id,
            value,
        )
        if row is not None:
            return _case(row)
    return None


async def near_duplicate_candidates(
    conn: Connection, agency_id: str, band_keys: list[int], limit: int = 50
) -> list[asyncpg.Record]:
    """Open cases sharing at least one LSH band with the text: an index lookup, however many
    cases are stored; the caller verifies each candidate's similarity."""
    return await conn.fetch(
        "SELECT case_id, signature FROM case_fingerprints WHERE open AND agency_id = $1"
        " AND band_keys && $2::bigint[] LIMIT $3",
        agency_id,
        band_keys,
        limit,
    )


async def lock_case(conn: Connection, case_id: UUID) -> Case | None:
    return _case(await conn.fetchrow(f"{SELECT_CASE} WHERE case_id = $1 FOR UPDATE", case_id))


async def insert_case(conn: Connection, case: Case, first_text: str | None) -> None:
    values = case.model_dump()
    encoded = case.model_dump(mode="json")
    for column in JSON_COLUMNS:
        values[column] = json.dumps(encoded[column])
    values["routed_to"] = list(case.routed_to)
    columns = (*CASE_COLUMNS, "first_text")
    values["first_text"] = first_text
    await conn.execute(
        f"INSERT INTO cases ({', '.join(columns)}) VALUES "
        f"({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
        *(values[c] for c in columns),
    )


async def insert_fingerprint(
    conn: Connection, case_id: UUID, agency_id: str, band_keys: list[int], signature: bytes
) -> None:
    await conn.execute(
        "INSERT INTO case_fingerprints (case_id, agency_id, band_keys, signature) VALUES ($1, $2, $3, $4)",
        case_id,
        agency_id,
        band_keys,
        signature,
    )


async def attach_report(
    conn: Connection,
    case_id: UUID,
    report_id: UUID,
    reporter_id: str | None,
    at: datetime,
    *,
    counted: bool = True,
) -> tuple[int, int]:
    """Attach and return the case's new (report_count, reporter_count), in one statement.

    A counted report is a new reporter unless its reporter is already on the case; one without
    a reporter (an agency's API report) is somebody of its own, not nobody."""
    row = await conn.fetchrow(
        "WITH known AS (SELECT $5::bool AND ($3::text IS NULL OR NOT EXISTS (SELECT 1 FROM"
        "   case_reports WHERE case_id = $1 AND reporter_id = $3)) AS new_reporter),"
        " attached AS (INSERT INTO case_reports (report_id, case_id, reporter_id, attached_at)"
        "   VALUES ($2, $1, $3, $4))"
        " UPDATE cases SET report_count = report_count + 1,"
        " reporter_count = reporter_count + (SELECT new_reporter::int FROM known),"
        " updated_at = $4 WHERE case_id = $1 RETURNING report_count, reporter_count",
        case_id,
        report_id,
        reporter_id,
        at,
        counted,
    )
    assert row is not None  # the case is locked by the caller
    return row["report_count"], row["reporter_count"]


async def set_priority(
    conn: Connection, case_id: UUID, score: int, level: str, reasons: tuple[str, ...]
) -> None:
    await conn.execute(
        "UPDATE cases SET priority = $2, priority_level = $3, priority_reasons = $4::jsonb"
        " WHERE case_id = $1",
        case_id,
        score,
        level,
        json.dumps(list(reasons)),
    )


async def set_state(
    conn: Connection, case_id: UUID, state: str, resolution: str | None, at: datetime
) -> None:
    await conn.execute(
        "UPDATE cases SET state = $2, resolution = $3, updated_at = $4 WHERE case_id = $1",
        case_id,
        state,
        resolution,
        at,
    )
    await conn.execute(
        "UPDATE case_fingerprints SET open = ($2 <> 'closed') WHERE case_id = $1", case_id, state
    )


async def set_categories(
    conn: Connection, case_id: UUID, categories: list[CategoryScore], at: datetime
) -> None:
    await conn.execute(
        "UPDATE cases SET categories = $2::jsonb, updated_at = $3 WHERE case_id = $1",
        case_id,
        json.dumps([c.model_dump(mode="json") for c in categories]),
        at,
    )


async def record_correction(
    conn: Connection,
    case_id: UUID,
    predicted: Sequence[CategoryScore],
    corrected: list[str],
    actor: str,
    note: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO category_corrections (case_id, text, predicted, corrected, actor, note)"
        " SELECT case_id, coalesce(first_text, summary), $2::jsonb, $3, $4, $5 FROM cases"
        " WHERE case_id = $1",
        case_id,
        json.dumps([c.model_dump(mode="json") for c in predicted]),
        corrected,
        actor,
        note,
    )


@dataclass(frozen=True)
class ChangedBy:
    """Who made a change besides the free-text actor, and the command that made it."""

    agency_id: str
    principal: str | None = None
    command_id: UUID | None = None


async def command_applied(conn: Connection, command_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM case_history WHERE command_id = $1", command_id))


async def record_history(
    conn: Connection,
    case_id: UUID,
    *,
    at: datetime,
    change: str,
    actor: str | None,
    from_state: str | None,
    to_state: str,
    resolution: str | None = None,
    note: str | None = None,
    by: ChangedBy | None = None,
    referral_state: ReferralState | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO case_history (case_id, at, change, actor, from_state, to_state, resolution,"
        " note, agency_id, principal, command_id, referral_state)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        case_id,
        at,
        change,
        actor,
        from_state,
        to_state,
        resolution,
        note,
        by.agency_id if by else None,
        by.principal if by else None,
        by.command_id if by else None,
        referral_state,
    )


async def history(pool: asyncpg.Pool, agency_id: str, case_id: UUID) -> list[CaseHistoryEntry]:
    rows = await pool.fetch(
        "SELECT h.at, h.change, h.actor, h.from_state, h.to_state, h.resolution, h.note,"
        " coalesce(h.agency_id, c.agency_id) AS agency_id, h.principal, h.referral_state"
        f" FROM case_history h JOIN cases c USING (case_id) WHERE h.case_id = $1"
        f" AND {VISIBLE_TO.replace('agency_id', 'c.agency_id').replace('routed_to', 'c.routed_to')}"
        " ORDER BY h.id",
        case_id,
        agency_id,
    )
    return [CaseHistoryEntry.model_validate(dict(row)) for row in rows]


async def get_case(pool: asyncpg.Pool | Connection, agency_id: str, case_id: UUID) -> Case | None:
    return _case(
        await pool.fetchrow(f"{SELECT_CASE} WHERE case_id = $1 AND {VISIBLE_TO}", case_id, agency_id)
    )


async def case_of_report(pool: asyncpg.Pool, agency_id: str, report_id: UUID) -> UUID | None:
    found: UUID | None = await pool.fetchval(
        "SELECT r.case_id FROM case_reports r JOIN cases c USING (case_id)"
        " WHERE r.report_id = $1 AND c.agency_id = $2",
        report_id,
        agency_id,
    )
    return found


async def reporters_of(pool: asyncpg.Pool, case_id: UUID) -> list[str]:
    rows = await pool.fetch(
        "SELECT DISTINCT reporter_id FROM case_reports WHERE case_id = $1 AND reporter_id IS NOT NULL",
        case_id,
    )
    return [row["reporter_id"] for row in rows]


async def referrals(
    conn: asyncpg.Pool | Connection, case_id: UUID, routed_to: Sequence[str]
) -> list[Referral]:
    """One record per agency the case was routed to, `pending` until that agency writes one."""
    rows = await conn.fetch(
        "SELECT agency_id, state, note, updated_at FROM referrals WHERE case_id = $1", case_id
    )
    recorded = {row["agency_id"]: Referral.model_validate(dict(row)) for row in rows}
    return [recorded.get(agency, Referral(agency_id=agency)) for agency in routed_to]


async def set_referral(conn: Connection, case_id: UUID, referral: Referral) -> None:
    await conn.execute(
        "INSERT INTO referrals (case_id, agency_id, state, note, updated_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (case_id, agency_id) DO UPDATE SET state = EXCLUDED.state, note = EXCLUDED.note,"
        " updated_at = EXCLUDED.updated_at",
        case_id,
        referral.agency_id,
        referral.state.value,
        referral.note,
        referral.updated_at,
    )
