"""Notify's tables. Reads return the typed objects of `models`; nothing above this module sees
a database row."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.contract import NotificationChannel, NotificationView, new_id
from pantau_shared.postgres import Connection

from .models import (
    Acknowledgeable,
    Audience,
    CaseSnapshot,
    ClaimedDelivery,
    DeliveryRequest,
    DeliveryState,
    DueEscalation,
    Member,
    Settled,
    Subscriber,
    Team,
)
from .roster import Shift


async def add_subscription(
    pool: asyncpg.Pool,
    *,
    agency_id: str,
    name: str,
    address: str,
    region_prefix: str | None,
    categories: list[str] | None,
    min_priority: int,
    channel: str = "email",
) -> UUID:
    found: UUID = await pool.fetchval(
        "INSERT INTO subscriptions (subscription_id, agency_id, name, channel, address,"
        " region_prefix, categories, min_priority) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (agency_id, channel, address) DO UPDATE SET name = EXCLUDED.name,"
        " region_prefix = EXCLUDED.region_prefix, categories = EXCLUDED.categories,"
        " min_priority = EXCLUDED.min_priority, active = true RETURNING subscription_id",
        new_id(),
        agency_id,
        name,
        channel,
        address,
        region_prefix,
        categories,
        min_priority,
    )
    return found


async def subscriptions_of(conn: Connection, agencies: Iterable[str]) -> list[Subscriber]:
    """The active subscriptions of these agencies; the caller matches each case against them
    (a few per agency), so one read serves a whole batch of case events."""
    rows = await conn.fetch(
        "SELECT subscription_id, agency_id, channel, address, region_prefix, categories, min_priority"
        " FROM subscriptions WHERE active AND agency_id = ANY($1::text[])",
        sorted(set(agencies)),
    )
    return [
        Subscriber(
            row["subscription_id"], NotificationChannel(row["channel"]), row["address"], _audience(row)
        )
        for row in rows
    ]


def _audience(row: asyncpg.Record) -> Audience:
    categories = row["categories"]
    return Audience(
        row["agency_id"],
        row["region_prefix"],
        tuple(categories) if categories is not None else None,
        row["min_priority"],
    )


async def create_deliveries(
    conn: Connection, requests: Sequence[DeliveryRequest]
) -> list[tuple[DeliveryRequest, UUID]]:
    """New pending deliveries, one statement; those whose (case, recipient, template) already
    had one are left out of the answer."""
    if not requests:
        return []
    unique = list({r.key: r for r in reversed(requests)}.values())[::-1]  # the first of each key
    ids = [new_id() for _ in unique]
    rows = await conn.fetch(
        "INSERT INTO deliveries (delivery_id, case_id, agency_id, subscription_id, channel,"
        " recipient, template, case_snapshot, recipient_key, team_id, member_id,"
        " escalation_level, ack_due_at)"
        " SELECT d.id, d.case_id, d.agency_id, d.subscription_id, d.channel, d.recipient, d.template,"
        "   d.snapshot, d.recipient_key, d.team_id, d.member_id, d.level,"
        "   now() + make_interval(mins => d.ack_minutes)"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[],"
        "   $7::text[], $8::jsonb[], $9::text[], $10::uuid[], $11::uuid[], $12::int[], $13::int[])"
        "   AS d(id, case_id, agency_id, subscription_id, channel, recipient, template, snapshot,"
        "   recipient_key, team_id, member_id, level, ack_minutes)"
        " ON CONFLICT (case_id, recipient_key, template) DO NOTHING RETURNING delivery_id",
        ids,
        [r.case_id for r in unique],
        [r.agency_id for r in unique],
        [r.subscription_id for r in unique],
        [r.channel.value for r in unique],
        [r.address for r in unique],
        [r.template for r in unique],
        [json.dumps(r.snapshot.fields) for r in unique],
        [r.recipient_key for r in unique],
        [r.team_id for r in unique],
        [r.member_id for r in unique],
        [r.escalation_level for r in unique],
        [r.ack_minutes for r in unique],
    )
    created = {row["delivery_id"] for row in rows}
    return [
        (request, delivery_id)
        for request, delivery_id in zip(unique, ids, strict=True)
        if delivery_id in created
    ]


CLAIMED_MANY = (
    "SELECT d.delivery_id, d.agency_id, d.case_id, d.report_id, d.channel, d.recipient, d.template,"
    " d.attempts, d.case_snapshot, d.team_id, t.name AS team_name, t.ack_minutes,"
    " m.email AS member_email FROM deliveries d"
    " LEFT JOIN teams t USING (team_id) LEFT JOIN team_members m ON m.member_id = d.member_id"
    " WHERE d.delivery_id = ANY($1::uuid[])"
)


async def lock_states(conn: Connection, delivery_ids: list[UUID]) -> dict[UUID, DeliveryState]:
    rows = await conn.fetch(
        "SELECT delivery_id, state, channel, coalesce(claimed_until < now(), false) AS expired,"
        " coalesce(extract(epoch FROM claimed_until - now()), 0)::float8 AS lease_left_s"
        " FROM deliveries WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id FOR UPDATE",
        delivery_ids,
    )
    return {row["delivery_id"]: DeliveryState(**dict(row)) for row in rows}


async def claim_many(conn: Connection, delivery_ids: list[UUID], lease_s: float) -> list[ClaimedDelivery]:
    """Mark deliveries (locked by `lock_states`) as being sent; the caller commits before sending."""
    if not delivery_ids:
        return []
    await conn.execute(
        # From the statement's clock, not the transaction's start: the lease is short (2 s).
        "UPDATE deliveries SET state = 'sending', attempts = attempts + 1,"
        " claimed_until = clock_timestamp() + make_interval(secs => $2) WHERE delivery_id = ANY($1::uuid[])",
        delivery_ids,
        lease_s,
    )
    return [
        ClaimedDelivery(**(dict(row) | {"case_snapshot": json.loads(row["case_snapshot"])}))
        for row in await conn.fetch(CLAIMED_MANY, delivery_ids)
    ]


async def mark_unknown_many(conn: Connection, delivery_ids: list[UUID], reason: str) -> None:
    if delivery_ids:
        await conn.execute(
            "UPDATE deliveries SET state = 'unknown', last_error = $2, claimed_until = NULL"
            " WHERE delivery_id = ANY($1::uuid[]) AND state = 'sending'",
            delivery_ids,
            reason,
        )


async def mark_sent_many(conn: Connection, sent: list[tuple[UUID, str]], at: datetime) -> None:
    # An unknown outcome a slow sender resolves itself still counts: 'sent' is the better news.
    if sent:
        await conn.execute(
            "UPDATE deliveries d SET state = 'sent', sent_at = $3, provider_message_id = s.provider_id,"
            " claimed_until = NULL FROM unnest($1::uuid[], $2::text[]) AS s(delivery_id, provider_id)"
            " WHERE d.delivery_id = s.delivery_id AND d.state IN ('sending', 'unknown')",
            [delivery_id for delivery_id, _ in sent],
            [provider_id for _, provider_id in sent],
            at,
        )


async def mark_skipped_many(conn: Connection, skipped: list[tuple[UUID, str]]) -> None:
    if skipped:
        await conn.executemany(
            "UPDATE deliveries SET state = 'skipped', last_error = $2, claimed_until = NULL"
            " WHERE delivery_id = $1",
            skipped,
        )


async def renew_claims(pool: asyncpg.Pool, delivery_ids: list[UUID], lease_s: float) -> None:
    await pool.execute(
        "UPDATE deliveries SET claimed_until = now() + make_interval(secs => $2)"
        " WHERE delivery_id = ANY($1::uuid[]) AND state = 'sending'",
        delivery_ids,
        lease_s,
    )


async def switch_channel(
    pool: asyncpg.Pool, delivery_id: UUID, channel: str, recipient: str, why: str | None
) -> None:
    """Move a claimed delivery to another channel before sending there, so a crash resends on
    the new channel, not the one that refused."""
    await pool.execute(
        "UPDATE deliveries SET channel = $2, recipient = $3, last_error = coalesce($4, last_error)"
        " WHERE delivery_id = $1",
        delivery_id,
        channel,
        recipient,
        why,
    )


async def mark_attempt_failed(
    conn: Connection, delivery_id: UUID, error: str, *, final: bool, at: datetime
) -> None:
    """A failed attempt: back to pending for the next one, or failed for good."""
    await conn.execute(
        "UPDATE deliveries SET last_error = $2, claimed_until = NULL,"
        " state = CASE WHEN $3 THEN 'failed' ELSE 'pending' END,"
        " failed_at = CASE WHEN $3 THEN $4 ELSE failed_at END"
        " WHERE delivery_id = $1 AND state = 'sending'",
        delivery_id,
        error,
        final,
        at,
    )


async def mark_unknown(conn: Connection | asyncpg.Pool, delivery_id: UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET state = 'unknown', last_error = $2, claimed_until = NULL"
        " WHERE delivery_id = $1 AND state = 'sending'",
        delivery_id,
        reason,
    )


async def deliveries_for_case(pool: asyncpg.Pool, agency_id: str, case_id: UUID) -> list[NotificationView]:
    rows = await pool.fetch(
        "SELECT delivery_id, case_id, channel, template, recipient, state, attempts, last_error,"
        " provider_message_id, created_at, sent_at, escalation_level, acknowledged_at,"
        " acknowledged_by, acknowledged_principal FROM deliveries"
        " WHERE case_id = $1 AND agency_id = $2 ORDER BY created_at",
        case_id,
        agency_id,
    )
    return [NotificationView.model_validate(dict(row)) for row in rows]


async def lock_snapshots(conn: Connection, case_ids: Iterable[UUID]) -> dict[UUID, CaseSnapshot]:
    """The stored snapshots of these cases, locked (in id order, as every instance locks them)
    until the batch's events are merged into them."""
    rows = await conn.fetch(
        "SELECT case_id, snapshot FROM cases WHERE case_id = ANY($1::uuid[]) ORDER BY case_id FOR UPDATE",
        sorted(set(case_ids)),
    )
    return {row["case_id"]: CaseSnapshot(json.loads(row["snapshot"])) for row in rows}


async def save_snapshots(
    conn: Connection, stored: dict[UUID, CaseSnapshot], new: dict[UUID, CaseSnapshot]
) -> None:
    """`stored` snapshots (locked by `lock_snapshots`) replaced; `new` ones inserted, merged under
    what another instance stored meanwhile (an opening seen twice keeps the later fields)."""
    if stored:
        await conn.execute(
            "UPDATE cases c SET snapshot = u.snapshot, updated_at = now()"
            " FROM unnest($1::uuid[], $2::jsonb[]) AS u(case_id, snapshot) WHERE c.case_id = u.case_id",
            list(stored),
            [json.dumps(s.fields) for s in stored.values()],
        )
    if new:
        await conn.execute(
            "INSERT INTO cases (case_id, agency_id, snapshot)"
            " SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])"
            " ON CONFLICT (case_id) DO UPDATE SET snapshot = EXCLUDED.snapshot || cases.snapshot",
            list(new),
            [s.fields["agency_id"] for s in new.values()],
            [json.dumps(s.fields) for s in new.values()],
        )


async def add_team(
    pool: asyncpg.Pool,
    *,
    agency_id: str,
    name: str,
    region_prefix: str | None,
    categories: list[str] | None,
    min_priority: int,
    ack_minutes: int,
    supervisor_email: str | None,
) -> UUID:
    found: UUID = await pool.fetchval(
        "INSERT INTO teams (team_id, agency_id, name, region_prefix, categories, min_priority,"
        " ack_minutes, supervisor_email) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (agency_id, name) DO UPDATE SET region_prefix = EXCLUDED.region_prefix,"
        " categories = EXCLUDED.categories, min_priority = EXCLUDED.min_priority,"
        " ack_minutes = EXCLUDED.ack_minutes, supervisor_email = EXCLUDED.supervisor_email"
        " RETURNING team_id",
        new_id(),
        agency_id,
        name,
        region_prefix,
        categories,
        min_priority,
        ack_minutes,
        supervisor_email,
    )
    return found


async def add_member(
    pool: asyncpg.Pool,
    *,
    team_id: UUID,
    name: str,
    email: str | None,
    whatsapp: str | None,
    position: int,
    shifts: list[tuple[list[int], Any, Any]],
) -> UUID:
    async with pool.acquire() as conn, conn.transaction():
        member_id: UUID = await conn.fetchval(
            "INSERT INTO team_members (member_id, team_id, name, email, whatsapp, position)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (team_id, name) DO UPDATE SET"
            " email = EXCLUDED.email, whatsapp = EXCLUDED.whatsapp,"
            " position = EXCLUDED.position, active = true RETURNING member_id",
            new_id(),
            team_id,
            name,
            email,
            whatsapp,
            position,
        )
        await conn.execute("DELETE FROM shifts WHERE member_id = $1", member_id)
        await conn.executemany(
            "INSERT INTO shifts (member_id, weekdays, starts, ends) VALUES ($1, $2, $3, $4)",
            [(member_id, weekdays, starts, ends) for weekdays, starts, ends in shifts],
        )
    return member_id


async def teams_of(conn: Connection, agencies: Iterable[str]) -> list[Team]:
    """The teams of these agencies with their active members, in roster order."""
    rows = await conn.fetch(
        "SELECT team_id, agency_id, name, region_prefix, categories, min_priority, ack_minutes,"
        " supervisor_email FROM teams WHERE agency_id = ANY($1::text[])",
        sorted(set(agencies)),
    )
    members = await members_of(conn, [row["team_id"] for row in rows]) if rows else {}
    return [_team(row, members.get(row["team_id"], ())) for row in rows]


def _team(row: asyncpg.Record, members: tuple[Member, ...]) -> Team:
    return Team(
        row["team_id"], row["name"], row["ack_minutes"], row["supervisor_email"], _audience(row), members
    )


async def members_of(conn: Connection, team_ids: Sequence[UUID]) -> dict[UUID, tuple[Member, ...]]:
    rows = await conn.fetch(
        "SELECT m.team_id, m.member_id, m.name, m.email, m.whatsapp, m.position,"
        " coalesce(array_agg(s.weekdays::text || '|' || s.starts::text || '|' || s.ends::text)"
        "   FILTER (WHERE s.shift_id IS NOT NULL), '{}') AS shifts"
        " FROM team_members m LEFT JOIN shifts s USING (member_id)"
        " WHERE m.team_id = ANY($1::uuid[]) AND m.active GROUP BY m.member_id"
        " ORDER BY m.position, m.name",
        team_ids,
    )
    found: dict[UUID, list[Member]] = {}
    for row in rows:
        found.setdefault(row["team_id"], []).append(
            Member(
                row["member_id"],
                row["name"],
                row["email"],
                row["whatsapp"],
                row["position"],
                tuple(_shift(text) for text in row["shifts"]),
            )
        )
    return {team_id: tuple(members) for team_id, members in found.items()}


def _shift(text: str) -> Shift:
    weekdays, starts, ends = text.split("|")
    return Shift(
        frozenset(int(d) for d in weekdays.strip("{}").split(",")),
        time.fromisoformat(starts),
        time.fromisoformat(ends),
    )


async def due_escalations(conn: Connection, limit: int = 100) -> list[DueEscalation]:
    """Team alerts sent, unacknowledged and past their deadline; locked for this sweeper."""
    rows = await conn.fetch(
        "SELECT d.delivery_id, d.case_id, d.template, d.escalation_level, d.case_snapshot, m.position,"
        " t.team_id, t.agency_id, t.name, t.region_prefix, t.categories, t.min_priority, t.ack_minutes,"
        " t.supervisor_email FROM deliveries d JOIN teams t USING (team_id)"
        " LEFT JOIN team_members m ON m.member_id = d.member_id"
        " WHERE d.team_id IS NOT NULL AND NOT d.escalated AND d.acknowledged_at IS NULL"
        " AND d.state IN ('sent', 'failed', 'unknown') AND d.ack_due_at <= now()"
        " ORDER BY d.ack_due_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
        limit,
    )
    return [
        DueEscalation(
            row["delivery_id"],
            row["case_id"],
            row["template"],
            row["escalation_level"],
            CaseSnapshot(json.loads(row["case_snapshot"])),
            row["position"],
            _team(row, ()),
        )
        for row in rows
    ]


async def team_case_acknowledged(conn: Connection, case_id: UUID, team_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM deliveries WHERE case_id = $1 AND team_id = $2"
            " AND acknowledged_at IS NOT NULL LIMIT 1",
            case_id,
            team_id,
        )
    )


async def alerted_members(conn: Connection, case_id: UUID, team_id: UUID) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT member_id FROM deliveries WHERE case_id = $1 AND team_id = $2 AND member_id IS NOT NULL",
        case_id,
        team_id,
    )
    return {row["member_id"] for row in rows}


async def alerted_teams(conn: Connection, case_ids: Iterable[UUID]) -> set[tuple[UUID, UUID]]:
    """(case, team) pairs with an alert already: a team is alerted once per case."""
    rows = await conn.fetch(
        "SELECT DISTINCT case_id, team_id FROM deliveries"
        " WHERE case_id = ANY($1::uuid[]) AND team_id IS NOT NULL",
        sorted(set(case_ids)),
    )
    return {(row["case_id"], row["team_id"]) for row in rows}


async def mark_escalated(conn: Connection, delivery_id: UUID) -> None:
    await conn.execute("UPDATE deliveries SET escalated = true WHERE delivery_id = $1", delivery_id)


async def acknowledge(
    conn: Connection, agency_id: str, delivery_id: UUID, actor: str, principal: str | None
) -> Acknowledgeable | None:
    """Acknowledge a delivery and, for a team alert, the team's other alerts for the case."""
    row = await conn.fetchrow(
        "SELECT delivery_id, case_id, team_id, acknowledged_at, sent_at FROM deliveries"
        " WHERE delivery_id = $1 AND agency_id = $2 FOR UPDATE",
        delivery_id,
        agency_id,
    )
    if row is None:
        return None
    found = Acknowledgeable(**dict(row))
    if found.acknowledged_at is not None:
        return found
    await conn.execute(
        "UPDATE deliveries SET acknowledged_at = now(), acknowledged_by = $3, acknowledged_principal = $5"
        " WHERE delivery_id = $1 OR (team_id = $2 AND case_id = $4 AND acknowledged_at IS NULL)",
        delivery_id,
        row["team_id"],
        actor,
        row["case_id"],
        principal,
    )
    return found


@dataclass(frozen=True)
class Receipt:
    """A receipt to create: to the reporter of a report, on the channel they wrote from."""

    report_id: UUID
    agency_id: str
    reporter_id: str
    channel: str
    content: dict[str, Any]


async def create_receipts(conn: Connection, receipts: Sequence[Receipt]) -> dict[UUID, UUID]:
    """The receipt deliveries of reports in one statement: report id -> delivery id of each
    created (a report whose receipt already exists is left out)."""
    rows = await conn.fetch(
        "INSERT INTO deliveries (delivery_id, report_id, agency_id, channel, recipient, template,"
        " case_snapshot, recipient_key)"
        " SELECT d, r, a, c, p, 'report_receipt', s::jsonb, 'reporter:' || p"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])"
        "   AS t(d, r, a, c, p, s)"
        " ON CONFLICT (report_id, template) WHERE report_id IS NOT NULL DO NOTHING"
        " RETURNING report_id, delivery_id",
        [new_id() for _ in receipts],
        [r.report_id for r in receipts],
        [r.agency_id for r in receipts],
        [r.channel for r in receipts],
        [r.reporter_id for r in receipts],
        [json.dumps(r.content) for r in receipts],
    )
    return {row["report_id"]: row["delivery_id"] for row in rows}


async def resolve_unknown(
    conn: Connection,
    delivery_id: UUID,
    provider_message_id: str,
    status: str,
    at: datetime,
    reason: str | None,
) -> Settled | None:
    """Settle a send whose outcome was unknown from the provider's status; the delivery, or None
    when it was not unknown (already settled, or another sender's callback)."""
    failed = status == "failed"
    row = await conn.fetchrow(
        "UPDATE deliveries SET provider_message_id = $2,"
        " state = CASE WHEN $3 THEN 'failed' ELSE 'sent' END,"
        " sent_at = CASE WHEN $3 THEN sent_at ELSE $4 END,"
        " failed_at = CASE WHEN $3 THEN $4 ELSE failed_at END, last_error = $5"
        " WHERE delivery_id = $1 AND state = 'unknown'"
        " RETURNING delivery_id, agency_id, case_id, report_id, channel, template, recipient_key",
        delivery_id,
        provider_message_id,
        failed,
        at,
        reason,
    )
    return None if row is None else Settled(**(dict(row) | {"channel": NotificationChannel(row["channel"])}))


async def record_provider_status(
    conn: Connection, provider_message_id: str, status: str, at: datetime, reason: str | None
) -> None:
    if status == "failed":
        await conn.execute(
            "UPDATE deliveries SET state = 'failed', failed_at = $2, last_error = $3"
            " WHERE provider_message_id = $1",
            provider_message_id,
            at,
            reason,
        )
    elif status in ("delivered", "read"):
        await conn.execute(
            f"UPDATE deliveries SET {status}_at = coalesce({status}_at, $2) WHERE provider_message_id = $1",
            provider_message_id,
            at,
        )
