"""Console sessions: a random token in a Secure, HttpOnly, SameSite=Lax cookie; its SHA-256,
expiry and revocation in PostgreSQL, read on every request (no cache, so a sign-out or a
disabled user takes effect on every gateway instance at once).

CSRF: a session's token for forms is an HMAC of the cookie's token, so it needs no storage and
cannot be derived without the cookie. Every unsafe request made with the cookie must echo it in
the `X-CSRF-Token` header (htmx, fetch) or a `csrf_token` form field. SameSite=Lax keeps the
cookie off cross-site posts as a second line; Lax, not Strict, so a link in an alert email
opens the console signed in.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from fastapi import Response

from .users import User

COOKIE = "__Host-pantau-session"  # __Host-: Secure, Path=/, no Domain, so no subdomain can set it
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# last_seen_at is written at most this often: not one UPDATE per request.
_TOUCH = timedelta(seconds=60)


@dataclass(frozen=True)
class ActiveSession:
    user_id: UUID
    agency_id: str
    roles: tuple[str, ...]
    contacts: bool
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def csrf_token(token: str) -> str:
    return hmac.new(token.encode(), b"pantau-csrf", hashlib.sha256).hexdigest()


def csrf_valid(token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(token), presented)


class SessionStore:
    def __init__(self, pool: asyncpg.Pool, lifetime: timedelta, idle: timedelta) -> None:
        self._pool = pool
        self._lifetime = lifetime
        self._idle = idle

    async def start(self, user: User, address: str, user_agent: str) -> tuple[str, datetime]:
        """A new session's token (for the cookie, shown nowhere else) and when it expires."""
        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + self._lifetime
        await self._pool.execute(
            "INSERT INTO sessions (token_hash, user_id, expires_at, client_address, user_agent)"
            " VALUES ($1, $2, $3, $4, $5)",
            _digest(token),
            user.user_id,
            expires_at,
            address,
            user_agent[:500],
        )
        return token, expires_at

    async def find(self, token: str) -> ActiveSession | None:
        """The session if it is neither expired, idle too long, revoked, nor its user disabled."""
        row = await self._pool.fetchrow(
            "SELECT s.user_id, u.agency_id, u.roles, u.contacts, s.expires_at, s.last_seen_at"
            " FROM sessions s JOIN users u USING (user_id)"
            " WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL"
            " AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval",
            _digest(token),
            self._idle,
        )
        if row is None:
            return None
        if row["last_seen_at"] < datetime.now(UTC) - _TOUCH:
            await self._pool.execute(
                "UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1", _digest(token)
            )
        return ActiveSession(
            user_id=row["user_id"],
            agency_id=row["agency_id"],
            roles=tuple(row["roles"]),
            contacts=row["contacts"],
            csrf_token=csrf_token(token),
            expires_at=row["expires_at"],
        )

    async def revoke(self, token: str) -> None:
        await self._pool.execute(
            "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
            _digest(token),
        )

    async def revoke_user(self, user_id: UUID) -> int:
        """Ends every session of a user; how many were open."""
        result: str = await self._pool.execute(
            "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
        return int(result.split()[-1])


def set_cookie(response: Response, token: str, expires_at: datetime) -> None:
    response.set_cookie(
        COOKIE, token, expires=expires_at, path="/", secure=True, httponly=True, samesite="lax"
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
