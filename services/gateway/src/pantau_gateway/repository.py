from dataclasses import dataclass
from datetime import datetime

import asyncpg


async def upsert_agency(
    pool: asyncpg.Pool, agency_id: str, name: str, kind: str, region_code: str | None
) -> None:
    await pool.execute(
        "INSERT INTO agencies (agency_id, name, kind, region_code) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (agency_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
        " region_code = EXCLUDED.region_code",
        agency_id,
        name,
        kind,
        region_code,
    )


@dataclass(frozen=True)
class Grant:
    """What a key may do: its roles, its scopes (None: all its roles allow), reporter contacts."""

    roles: tuple[str, ...]
    scopes: tuple[str, ...] | None = None
    contacts: bool = False


async def insert_key(
    pool: asyncpg.Pool,
    key_id: str,
    agency_id: str,
    secret_hash: bytes,
    label: str,
    rate_limit: int | None,
    grant: Grant,
) -> None:
    await pool.execute(
        "INSERT INTO api_keys (key_id, agency_id, secret_hash, label, rate_limit_per_minute, roles,"
        " scopes, contacts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key_id) DO UPDATE SET"
        " secret_hash = EXCLUDED.secret_hash, rate_limit_per_minute ="
        " EXCLUDED.rate_limit_per_minute, roles = EXCLUDED.roles, scopes = EXCLUDED.scopes,"
        " contacts = EXCLUDED.contacts, revoked_at = NULL",
        key_id,
        agency_id,
        secret_hash,
        label,
        rate_limit,
        list(grant.roles),
        None if grant.scopes is None else list(grant.scopes),
        grant.contacts,
    )


@dataclass(frozen=True)
class StoredKey:
    """An API key that is not revoked: its agency, the HMAC of its secret, its own rate limit."""

    agency_id: str
    secret_hash: bytes
    rate_limit: int | None
    roles: tuple[str, ...]
    scopes: tuple[str, ...] | None
    contacts: bool


async def find_key(pool: asyncpg.Pool, key_id: str) -> StoredKey | None:
    row = await pool.fetchrow(
        "SELECT k.agency_id, k.secret_hash, k.rate_limit_per_minute, k.roles, k.scopes, k.contacts"
        " FROM api_keys k WHERE k.key_id = $1 AND k.revoked_at IS NULL",
        key_id,
    )
    if row is None:
        return None
    return StoredKey(
        row["agency_id"],
        bytes(row["secret_hash"]),
        row["rate_limit_per_minute"],
        tuple(row["roles"]),
        None if row["scopes"] is None else tuple(row["scopes"]),
        row["contacts"],
    )


@dataclass(frozen=True)
class KeyView:
    key_id: str
    label: str
    grant: Grant
    rate_limit: int | None
    created_at: datetime
    revoked_at: datetime | None


async def list_keys(pool: asyncpg.Pool, agency_id: str) -> list[KeyView]:
    rows = await pool.fetch(
        "SELECT key_id, label, roles, scopes, contacts, rate_limit_per_minute, created_at, revoked_at"
        " FROM api_keys WHERE agency_id = $1 ORDER BY created_at",
        agency_id,
    )
    return [
        KeyView(
            row["key_id"],
            row["label"],
            Grant(
                tuple(row["roles"]), None if row["scopes"] is None else tuple(row["scopes"]), row["contacts"]
            ),
            row["rate_limit_per_minute"],
            row["created_at"],
            row["revoked_at"],
        )
        for row in rows
    ]


async def agency_exists(pool: asyncpg.Pool, agency_id: str) -> bool:
    return bool(await pool.fetchval("SELECT true FROM agencies WHERE agency_id = $1", agency_id))


async def revoke_key(pool: asyncpg.Pool, key_id: str, agency_id: str | None = None) -> str | None:
    """Revokes a key (again is a no-op); the agency it belonged to, None for an unknown key
    (or one of another agency than `agency_id`, when given)."""
    owner: str | None = await pool.fetchval(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1"
        " AND ($2::text IS NULL OR agency_id = $2) RETURNING agency_id",
        key_id,
        agency_id,
    )
    return owner
