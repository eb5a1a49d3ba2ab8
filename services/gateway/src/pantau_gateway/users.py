"""Staff accounts: who they are, their roles, and their Argon2id password hashes."""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import Field

from pantau_shared.contract import new_id

# argon2-cffi's defaults are RFC 9106's second recommended option (Argon2id, 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Checked when the address is unknown, so a miss costs the same time as a wrong password.
_DUMMY = _hasher.hash("no such user")
MIN_PASSWORD = 12
Password = Annotated[str, Field(min_length=MIN_PASSWORD, max_length=1_000)]


@dataclass(frozen=True)
class User:
    user_id: UUID
    agency_id: str
    email: str
    name: str
    roles: tuple[str, ...]
    contacts: bool
    created_at: datetime
    disabled_at: datetime | None


_COLUMNS = "user_id, agency_id, email, name, roles, contacts, created_at, disabled_at"


def _user(row: asyncpg.Record) -> User:
    return User(
        user_id=row["user_id"],
        agency_id=row["agency_id"],
        email=row["email"],
        name=row["name"],
        roles=tuple(row["roles"]),
        contacts=row["contacts"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


async def hash_password(password: str) -> str:
    # Argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def _password_matches(stored: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def create(
    pool: asyncpg.Pool,
    *,
    agency_id: str,
    email: str,
    name: str,
    password: str,
    roles: list[str],
    contacts: bool,
) -> User | None:
    """The new user; None when the address is already taken."""
    row = await pool.fetchrow(
        "INSERT INTO users (user_id, agency_id, email, name, password_hash, roles, contacts)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
        new_id(),
        agency_id,
        email.strip(),
        name.strip(),
        await hash_password(password),
        roles,
        contacts,
    )
    return None if row is None else _user(row)


async def authenticate(pool: asyncpg.Pool, email: str, password: str) -> User | None:
    """The enabled user with this address and password; None otherwise, in the same time."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)", email.strip()
    )
    matches = await _password_matches(row["password_hash"] if row else _DUMMY, password)
    if row is None or not matches or row["disabled_at"] is not None:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        await pool.execute(
            "UPDATE users SET password_hash = $2 WHERE user_id = $1",
            row["user_id"],
            await hash_password(password),
        )
    return _user(row)


async def find_enabled(pool: asyncpg.Pool, email: str) -> User | None:
    """The enabled user with this address (signing in through OIDC: the provider checked who)."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower($1) AND disabled_at IS NULL", email.strip()
    )
    return None if row is None else _user(row)


async def get(pool: asyncpg.Pool, agency_id: str, user_id: UUID) -> User | None:
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM users WHERE agency_id = $1 AND user_id = $2", agency_id, user_id
    )
    return None if row is None else _user(row)


async def listed(pool: asyncpg.Pool, agency_id: str) -> list[User]:
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM users WHERE agency_id = $1 ORDER BY created_at", agency_id
    )
    return [_user(row) for row in rows]


async def update(
    pool: asyncpg.Pool,
    agency_id: str,
    user_id: UUID,
    *,
    name: str | None = None,
    roles: list[str] | None = None,
    contacts: bool | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User | None:
    """Changes what is given; disabling (or a new password) also ends the user's sessions."""
    password_hash = await hash_password(password) if password is not None else None
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE users SET name = coalesce($3, name), roles = coalesce($4, roles),"
            " contacts = coalesce($5, contacts), password_hash = coalesce($6, password_hash),"
            " disabled_at = CASE WHEN $7::boolean IS NULL THEN disabled_at"
            "   WHEN $7 THEN coalesce(disabled_at, now()) ELSE NULL END, updated_at = now()"
            f" WHERE agency_id = $1 AND user_id = $2 RETURNING {_COLUMNS}",
            agency_id,
            user_id,
            name,
            roles,
            contacts,
            password_hash,
            disabled,
        )
        if row is not None and (disabled or password is not None):
            await conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
            )
    return None if row is None else _user(row)
