import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
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
from pantau_shared.outbox import insert_staged
from pantau_shared.postgres import Connection

from .matching import Fingerprint

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
    return None if row is None else _parse(row)


def _parse(row: asyncpg.Record) -> Case:
    case = dict(row)
    for column in JSON_COLUMNS:
        case[column] = json.loads(case[column])
    return Case.model_validate(case)


@dataclass(frozen=True)
class Candidate:
    case_id: UUID
    signature: bytes


@dataclass(frozen=True)
class BatchReads:
    """What a batch reads before it decides anything, none of it locked."""

    # Reports in a case already (a redelivery, or one handled meanwhile), and those of them
    # whose reporters' changes are not in the case's history yet (the write committed, the
    # history did not: see `TriageHandlers._triage`).
    attached: set[UUID]
    unrecorded: list[UUID]
    # Open cases about the same link or the same text as a report.
    same: set[UUID]
    # Per near-duplicate query, the open cases sharing at least one LSH band with its text.
    candidates: list[list[Candidate]]


# One statement for a batch's three reads (a round trip each before), in parts told apart by
# `part`. The content keys are joined twice, by link and by text, so each join uses its index;
# each near-duplicate query is an index lookup however many cases are stored (50 candidates, the
# caller verifies each one's similarity).
READ_BATCH = (
    "SELECT 0 AS part, NULL::bigint AS n, r.report_id AS id, NULL::bytea AS signature,"
    "  EXISTS (SELECT 1 FROM report_revisions v WHERE v.report_id = r.report_id AND NOT v.in_history)"
    "  AS unrecorded"
    " FROM case_reports r WHERE r.report_id = ANY($1::uuid[])"
    " UNION ALL SELECT 1, NULL, c.case_id, NULL, NULL"
    " FROM unnest($2::text[], $3::text[], $4::text[]) AS k(agency_id, url, sha)"
    " JOIN cases c ON c.agency_id = k.agency_id AND c.canonical_url = k.url AND c.state <> 'closed'"
    " UNION ALL SELECT 1, NULL, c.case_id, NULL, NULL"
    " FROM unnest($2::text[], $3::text[], $4::text[]) AS k(agency_id, url, sha)"
    " JOIN cases c ON c.agency_id = k.agency_id AND c.content_sha256 = k.sha AND c.state <> 'closed'"
    " UNION ALL SELECT 2, q.n, f.case_id, f.signature, NULL"
    " FROM unnest($5::text[], $6::text[]) WITH ORDINALITY AS q(agency_id, bands, n)"
    " CROSS JOIN LATERAL (SELECT case_id, signature FROM case_fingerprints WHERE open"
    "   AND agency_id = q.agency_id AND band_keys && q.bands::bigint[] LIMIT $7) f"
)


async def read_batch(
    conn: Connection,
    report_ids: Sequence[UUID],
    keys: Sequence[tuple[str, str | None, str | None]],
    queries: Sequence[tuple[str, list[int]]],
    limit: int = 50,
) -> BatchReads:
    """Which reports are attached already, the open cases about the same (agency, url, sha256)
    as any key, and per (agency, band keys) query its near-duplicate candidates; not locked
    here: the caller locks what it joins in one ordered statement."""
    rows = await conn.fetch(
        READ_BATCH,
        report_ids,
        [agency for agency, _, _ in keys],
        [url for _, url, _ in keys],
        [sha for _, _, sha in keys],
        [agency for agency, _ in queries],
        ["{" + ",".join(map(str, bands)) + "}" for _, bands in queries],
        limit,
    )
    reads = BatchReads(set(), [], set(), [[] for _ in queries])
    for row in rows:
        if row["part"] == 0:
            reads.attached.add(row["id"])
            if row["unrecorded"]:
                reads.unrecorded.append(row["id"])
        elif row["part"] == 1:
            reads.same.add(row["id"])
        else:
            reads.candidates[row["n"] - 1].append(Candidate(row["id"], row["signature"]))
    return reads


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
            return _parse(row)
    return None


async def lock_cases(conn: Connection, case_ids: Sequence[UUID]) -> list[Case]:
    """Lock in case id order, the same order in every instance, so two batches cannot deadlock."""
    rows = await conn.fetch(
        f"{SELECT_CASE} WHERE case_id = ANY($1::uuid[]) ORDER BY case_id FOR UPDATE", case_ids
    )
    return [_parse(row) for row in rows]


async def reporters_on(
    conn: Connection, case_ids: Sequence[UUID], reporter_ids: Sequence[str]
) -> list[tuple[UUID, str]]:
    rows = await conn.fetch(
        "SELECT DISTINCT case_id, reporter_id FROM case_reports"
        " WHERE case_id = ANY($1::uuid[]) AND reporter_id = ANY($2::text[])",
        case_ids,
        reporter_ids,
    )
    return [(row["case_id"], row["reporter_id"]) for row in rows]


@dataclass(frozen=True)
class NewCase:
    case: Case
    first_text: str | None
    fingerprint: Fingerprint | None
    # What opened it, for the queue's `source` filter: a report, or monitoring's finding.
    source: Literal["report", "monitoring"] = "report"


@dataclass(frozen=True)
class Attachment:
    report_id: UUID
    case_id: UUID
    reporter_id: str | None
    attached_at: datetime


_INSERTED = ", ".join((*CASE_COLUMNS, "first_text", "source"))
# One JSON array of rows: the jsonb and text[] columns need no per-column encoding.
INSERT_CASES = (
    f"INSERT INTO cases ({_INSERTED}) SELECT {_INSERTED}"
    " FROM jsonb_populate_recordset(NULL::cases, $1::jsonb)"
)


async def insert_case(conn: Connection, case: Case, first_text: str | None) -> None:
    """A case alone, with no history entry (a partner's referral writes its own)."""
    await conn.execute(INSERT_CASES, _rows([NewCase(case, first_text, None)]))


def _rows(cases: Sequence[NewCase]) -> str:
    # Each case serialised by pydantic in one call and spliced with its two extra columns:
    # building a dict per case for `json.dumps` cost more than the statement's round trip.
    return (
        "["
        + ",".join(
            f'{new.case.model_dump_json()[:-1]},"first_text":{json.dumps(new.first_text)},"source":"{new.source}"}}'
            for new in cases
        )
        + "]"
    )


# What a batch changes, and its events, in one statement: at a few reports a batch the round
# trips, six of them as separate statements, cost more than the rows. The CTEs touch disjoint
# rows (`updated` are stored cases, `opened` new ones), and the foreign keys of the rows that
# refer to the new cases are checked at the end of the statement, when those are in.
WRITE_BATCH = (
    f"WITH opened AS (INSERT INTO cases ({_INSERTED}) SELECT {_INSERTED}"
    "   FROM jsonb_populate_recordset(NULL::cases, $1::jsonb) RETURNING case_id, opened_at),"
    " prints AS (INSERT INTO case_fingerprints (case_id, agency_id, band_keys, signature)"
    "   SELECT case_id, agency_id, bands::bigint[], signature"
    "   FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bytea[])"
    "   AS f(case_id, agency_id, bands, signature)),"
    " history AS (INSERT INTO case_history (case_id, at, change, to_state)"
    "   SELECT case_id, opened_at, 'opened', 'new' FROM opened),"
    " attached AS (INSERT INTO case_reports (report_id, case_id, reporter_id, attached_at)"
    "   SELECT * FROM unnest($6::uuid[], $7::uuid[], $8::text[], $9::timestamptz[])),"
    " counted AS (UPDATE cases c SET report_count = u.reports, reporter_count = u.reporters,"
    "   priority = u.priority, priority_level = u.level, priority_reasons = u.reasons, updated_at = u.at,"
    "   priority_factors = u.factors"
    "   FROM unnest($10::uuid[], $11::int[], $12::int[], $13::int[], $14::text[], $15::jsonb[],"
    "   $16::timestamptz[], $17::jsonb[])"
    "   AS u(case_id, reports, reporters, priority, level, reasons, at, factors)"
    "   WHERE c.case_id = u.case_id),"
    f" staged AS ({insert_staged(18)})"
    # Read in the same statement as the attachments, which the revisions' handler looks for.
    " SELECT DISTINCT report_id FROM report_revisions WHERE report_id = ANY($6::uuid[]) AND NOT in_history"
)


async def write_batch(
    conn: Connection,
    opened: Sequence[NewCase],
    attachments: Sequence[Attachment],
    updated: Sequence[Case],
    events: tuple[list[str], list[str], list[bytes]],
) -> list[UUID]:
    """The cases a batch opened (with their fingerprints and `opened` history entries), its
    reports attached, the counts and priority of the stored cases they joined, and the batch's
    outbox rows (`Outbox.columns`). Returns which of the attached reports their reporters edited
    or deleted while they were in no case (almost always none)."""
    printed = [(new.case, new.fingerprint) for new in opened if new.fingerprint is not None]
    rows = await conn.fetch(
        WRITE_BATCH,
        _rows(opened),
        [case.case_id for case, _ in printed],
        [case.agency_id for case, _ in printed],
        ["{" + ",".join(map(str, print_.band_keys)) + "}" for _, print_ in printed],
        [print_.to_bytes() for _, print_ in printed],
        [a.report_id for a in attachments],
        [a.case_id for a in attachments],
        [a.reporter_id for a in attachments],
        [a.attached_at for a in attachments],
        [c.case_id for c in updated],
        [c.report_count for c in updated],
        [c.reporter_count for c in updated],
        [c.priority for c in updated],
        [c.priority_level.value for c in updated],
        [json.dumps(list(c.priority_reasons)) for c in updated],
        [c.updated_at for c in updated],
        [json.dumps([list(f) for f in c.priority_factors]) for c in updated],
        *events,
    )
    return [row["report_id"] for row in rows]


async def lock_case(conn: Connection, case_id: UUID) -> Case | None:
    return _case(await conn.fetchrow(f"{SELECT_CASE} WHERE case_id = $1 FOR UPDATE", case_id))


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
