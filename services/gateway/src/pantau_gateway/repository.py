from dataclasses import dataclass

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


async def insert_key(
    pool: asyncpg.Pool, key_id: str, agency_id: str, secret_hash: bytes, label: str, rate_limit: int | None
) -> None:
    await pool.execute(
        "INSERT INTO api_keys (key_id, agency_id, secret_hash, label, rate_limit_per_minute)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO UPDATE SET"
        " secret_hash = EXCLUDED.secret_hash, rate_limit_per_minute ="
        " EXCLUDED.rate_limit_per_minute, revoked_at = NULL",
        key_id,
        agency_id,
        secret_hash,
        label,
        rate_limit,
    )


@dataclass(frozen=True)
class StoredKey:
    """An API key that is not revoked: its agency, the HMAC of its secret, its own rate limit."""

    agency_id: str
    secret_hash: bytes
    rate_limit: int | None


async def find_key(pool: asyncpg.Pool, key_id: str) -> StoredKey | None:
    row = await pool.fetchrow(
        "SELECT k.agency_id, k.secret_hash, k.rate_limit_per_minute FROM api_keys k"
        " WHERE k.key_id = $1 AND k.revoked_at IS NULL",
        key_id,
    )
    if row is None:
        return None
    return StoredKey(row["agency_id"], bytes(row["secret_hash"]), row["rate_limit_per_minute"])


async def agency_exists(pool: asyncpg.Pool, agency_id: str) -> bool:
    return bool(await pool.fetchval("SELECT true FROM agencies WHERE agency_id = $1", agency_id))


async def revoke_key(pool: asyncpg.Pool, key_id: str) -> str | None:
    """Revokes a key (again is a no-op); the agency it belonged to, None for an unknown key."""
    agency_id: str | None = await pool.fetchval(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 RETURNING agency_id",
        key_id,
    )
    return agency_id
