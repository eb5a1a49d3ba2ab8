"""The referral records: those sent (with what the partner reported) and those received."""

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.contract import CaseReferred, PartnerEvent
from pantau_shared.postgres import Connection


async def record_sent(conn: Connection, event: CaseReferred, case_id: UUID) -> bool:
    """False when the referral was already recorded (a redelivered case event)."""
    inserted = await conn.fetchval(
        "INSERT INTO referrals_out (referral_id, case_id, to_agency, reason, referred_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING RETURNING true",
        event.referral_id,
        case_id,
        event.to_agency,
        event.reason.value,
        event.referred_at,
    )
    return bool(inserted)


async def lock_sent(conn: Connection, referral_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT r.*, c.state AS case_state, c.agency_id FROM referrals_out r JOIN cases c USING (case_id)"
        " WHERE r.referral_id = $1 FOR UPDATE OF r",
        referral_id,
    )


async def record_update(
    conn: Connection,
    event_id: UUID,
    event: PartnerEvent,
    change: str,
    state: str | None,
    resolution: str | None,
) -> bool:
    """Store one partner message; False for one already stored (same event id or sequence)."""
    inserted = await conn.fetchval(
        "INSERT INTO referral_updates (event_id, referral_id, sequence, at, change, actor, state,"
        " resolution, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT DO NOTHING RETURNING true",
        event_id,
        event.referral_id,
        event.sequence,
        event.at,
        change,
        event.actor,
        state,
        resolution,
        event.note,
    )
    return bool(inserted)


async def apply_update(
    conn: Connection,
    event: PartnerEvent,
    *,
    referral_state: str | None,
    partner_state: str | None,
    resolution: str | None,
) -> asyncpg.Record:
    """Apply a partner message: the decision whenever it arrives, the partner's case state only
    if no later message was applied already (they are handled concurrently). The row after."""
    row = await conn.fetchrow(
        "UPDATE referrals_out SET state = coalesce($3, state),"
        " partner_state = CASE WHEN $2 > last_sequence AND $4::text IS NOT NULL THEN $4"
        "   ELSE partner_state END,"
        " partner_resolution = CASE WHEN $2 > last_sequence AND $4::text IS NOT NULL THEN $5"
        "   ELSE partner_resolution END,"
        " partner_case_id = $6, last_sequence = greatest(last_sequence, $2),"
        " updated_at = greatest(updated_at, $7) WHERE referral_id = $1 RETURNING state, partner_state",
        event.referral_id,
        event.sequence,
        referral_state,
        partner_state,
        resolution,
        event.partner_case_id,
        event.at,
    )
    assert row is not None, "locked by lock_sent in the same transaction"
    return row


async def record_received(conn: Connection, event: CaseReferred, case_id: UUID, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO referrals_in (referral_id, from_agency, to_agency, origin_case_id, origin_url, case_id,"
        " reason, received_at, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)",
        event.referral_id,
        event.agency_id,
        event.to_agency,
        event.origin_case_id,
        event.origin_url,
        case_id,
        event.reason.value,
        at,
        json.dumps([e.model_dump(mode="json") for e in event.evidence]),
    )


async def already_received(conn: Connection, referral_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM referrals_in WHERE referral_id = $1", referral_id))


async def received_for_case(conn: Connection, case_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM referrals_in WHERE case_id = $1 ORDER BY received_at", case_id)


async def mark_sent(
    conn: Connection, referral_id: UUID, sequence: int, state: str | None = None
) -> asyncpg.Record | None:
    """Note what this instance said back about a received referral (and move its state)."""
    return await conn.fetchrow(
        "UPDATE referrals_in SET sequence = greatest(sequence, $2), state = coalesce($3, state)"
        " WHERE referral_id = $1 RETURNING *",
        referral_id,
        sequence,
        state,
    )


async def history_position(conn: Connection, case_id: UUID, at: datetime, to_state: str) -> int | None:
    """Where a state change stands in the case's history. Changes of one case are serialised by
    its row lock, so this orders them as they happened, however late their events are handled;
    it is the sequence number of what is said about them to the origin."""
    position: int | None = await conn.fetchval(
        "SELECT id FROM case_history WHERE case_id = $1 AND at = $2 AND to_state = $3"
        " AND change = 'state_changed' ORDER BY id DESC LIMIT 1",
        case_id,
        at,
        to_state,
    )
    return position


async def record_decision(
    conn: Connection, case_id: UUID, at: datetime, change: str, actor: str, note: str | None
) -> int:
    """The decision on a referral as a line of the case's history; its position is returned."""
    position: int = await conn.fetchval(
        "INSERT INTO case_history (case_id, at, change, actor, from_state, to_state, note)"
        " SELECT case_id, $2, $3, $4, state, state, $5 FROM cases WHERE case_id = $1 RETURNING id",
        case_id,
        at,
        change,
        actor,
        note,
    )
    return position


async def has_reports(conn: Connection, case_id: UUID) -> bool:
    """Whether reports made to this instance stand behind the case, besides referrals."""
    return bool(await conn.fetchval("SELECT true FROM case_reports WHERE case_id = $1 LIMIT 1", case_id))


async def lock_received(conn: Connection, referral_id: UUID, agency_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referrals_in WHERE referral_id = $1 AND to_agency = $2 FOR UPDATE",
        referral_id,
        agency_id,
    )


async def sent_views(pool: asyncpg.Pool, case_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT r.*, coalesce((SELECT jsonb_agg(to_jsonb(u) ORDER BY u.sequence) FROM referral_updates u"
        " WHERE u.referral_id = r.referral_id), '[]') AS updates FROM referrals_out r WHERE r.case_id = $1"
        " ORDER BY r.referred_at",
        case_id,
    )
    return [
        {
            **dict(row),
            "direction": "out",
            "partner_agency": row["to_agency"],
            "updates": json.loads(row["updates"]),
        }
        for row in rows
    ]


async def received_views(pool: asyncpg.Pool, agency_id: str, state: str | None) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM referrals_in WHERE to_agency = $1 AND ($2::text IS NULL OR state = $2)"
        " ORDER BY received_at DESC LIMIT 200",
        agency_id,
        state,
    )
    return [received_view(row) for row in rows]


def received_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        **dict(row),
        "direction": "in",
        "partner_agency": row["from_agency"],
        "referred_at": row["received_at"],
    }
