import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.contract import new_id


async def add_subscription(pool: asyncpg.Pool, *, agency_id: str, name: str, address: str,
                           region_prefix: str | None, categories: list[str] | None,
                           min_priority: int, channel: str = "email") -> UUID:
    return await pool.fetchval(
        "INSERT INTO subscriptions (subscription_id, agency_id, name, channel, address,"
        " region_prefix, categories, min_priority) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (agency_id, channel, address) DO UPDATE SET name = EXCLUDED.name,"
        " region_prefix = EXCLUDED.region_prefix, categories = EXCLUDED.categories,"
        " min_priority = EXCLUDED.min_priority, active = true RETURNING subscription_id",
        new_id(), agency_id, name, channel, address, region_prefix, categories, min_priority)


async def matching_subscriptions(conn: asyncpg.Connection, *, agencies: list[str],
                                 region_code: str | None, categories: list[str],
                                 priority: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT subscription_id, agency_id, channel, address FROM subscriptions WHERE active"
        " AND agency_id = ANY($1::text[]) AND min_priority <= $4"
        " AND (region_prefix IS NULL OR $2::text LIKE region_prefix || '%')"
        " AND (categories IS NULL OR categories && $3::text[])",
        agencies, region_code, categories, priority)


async def create_delivery(conn: asyncpg.Connection, *, case_id: UUID,
                          subscription: asyncpg.Record, template: str,
                          snapshot: dict[str, Any]) -> UUID | None:
    """A new pending delivery, or None when this (case, recipient, template) already has one."""
    return await conn.fetchval(
        "INSERT INTO deliveries (delivery_id, case_id, agency_id, subscription_id, channel,"
        " recipient, template, case_snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"
        " ON CONFLICT (case_id, subscription_id, template) DO NOTHING RETURNING delivery_id",
        new_id(), case_id, subscription["agency_id"], subscription["subscription_id"],
        subscription["channel"],
        subscription["address"], template, json.dumps(snapshot))


async def lock_delivery(conn: asyncpg.Connection, delivery_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM deliveries WHERE delivery_id = $1 FOR UPDATE",
                               delivery_id)


async def mark_sent(conn: asyncpg.Connection, delivery_id: UUID, at: datetime,
                    provider_message_id: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET state = 'sent', sent_at = $2, provider_message_id = $3,"
        " attempts = attempts + 1, last_error = NULL WHERE delivery_id = $1",
        delivery_id, at, provider_message_id)


async def mark_attempt_failed(conn: asyncpg.Connection, delivery_id: UUID, error: str, *,
                              final: bool, at: datetime) -> int:
    return await conn.fetchval(
        "UPDATE deliveries SET attempts = attempts + 1, last_error = $2,"
        " state = CASE WHEN $3 THEN 'failed' ELSE state END,"
        " failed_at = CASE WHEN $3 THEN $4 ELSE failed_at END"
        " WHERE delivery_id = $1 RETURNING attempts", delivery_id, error, final, at)


async def deliveries_for_case(pool: asyncpg.Pool, agency_id: str,
                              case_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT delivery_id, case_id, channel, template, recipient, state, attempts, last_error,"
        " provider_message_id, created_at, sent_at FROM deliveries"
        " WHERE case_id = $1 AND agency_id = $2 ORDER BY created_at", case_id, agency_id)


async def merge_case(conn: asyncpg.Connection, case_id: UUID, agency_id: str,
                     fields: dict[str, Any], *, opened: bool) -> dict[str, Any] | None:
    """Merge a case event into the stored snapshot; None for an update of an unseen case."""
    if opened:
        row = await conn.fetchval(
            "INSERT INTO cases (case_id, agency_id, snapshot) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (case_id) DO UPDATE SET snapshot = EXCLUDED.snapshot || cases.snapshot"
            " RETURNING snapshot", case_id, agency_id, json.dumps(fields))
    else:
        row = await conn.fetchval(
            "UPDATE cases SET snapshot = snapshot || $2::jsonb, updated_at = now()"
            " WHERE case_id = $1 RETURNING snapshot", case_id, json.dumps(fields))
    return json.loads(row) if row is not None else None
