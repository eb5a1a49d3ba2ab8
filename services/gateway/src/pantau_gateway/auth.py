"""API keys: `pk_<key id>_<secret>`, one agency each, verified against an HMAC at rest."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import asyncpg

from . import repository

PREFIX = "pk"


@dataclass(frozen=True)
class Caller:
    agency_id: str
    key_id: str
    rate_limit: int
    roles: tuple[str, ...]
    # None: every scope its roles allow.
    scopes: tuple[str, ...] | None
    contacts: bool


def new_key() -> tuple[str, str, str]:
    """(key id, secret, the whole key to hand to the agency)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{PREFIX}_{key_id}_{secret}"


def secret_hash(pepper: bytes, secret: str) -> bytes:
    # Keys are long random strings, so a keyed fast hash is enough; no password stretching.
    return hmac.new(pepper, secret.encode(), hashlib.sha256).digest()


def split_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class KeyVerifier:
    """Verifies keys, remembering good ones for a short while so a request costs no query."""

    def __init__(
        self, pool: asyncpg.Pool, pepper: bytes, default_rate_limit: int, cache_seconds: float
    ) -> None:
        self._pool = pool
        self._pepper = pepper
        self._default_rate_limit = default_rate_limit
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, bytes, Caller]] = {}

    def cached(self, key: str) -> Caller | None:
        """The key's holder when the key was verified within the last `cache_seconds` (and not
        revoked since); None means: look it up (`verify`)."""
        parts = split_key(key)
        cached = self._cache.get(parts[0]) if parts is not None else None
        if parts is None or cached is None or cached[0] <= time.monotonic():
            return None
        _, stored, caller = cached
        return caller if hmac.compare_digest(stored, secret_hash(self._pepper, parts[1])) else None

    async def verify(self, key: str) -> Caller | None:
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        presented = secret_hash(self._pepper, secret)
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > time.monotonic():
            _, stored, caller = cached
            return caller if hmac.compare_digest(stored, presented) else None
        found = await repository.find_key(self._pool, key_id)
        if found is None or not hmac.compare_digest(found.secret_hash, presented):
            return None
        caller = Caller(
            agency_id=found.agency_id,
            key_id=key_id,
            rate_limit=found.rate_limit or self._default_rate_limit,
            roles=found.roles,
            scopes=found.scopes,
            contacts=found.contacts,
        )
        self._cache[key_id] = (time.monotonic() + self._cache_seconds, presented, caller)
        return caller

    def digest(self, secret: str) -> bytes:
        """What is stored for a new key's secret."""
        return secret_hash(self._pepper, secret)

    def forget(self, key_id: str) -> None:
        """Drops a (revoked) key, so the next request with it is looked up again."""
        self._cache.pop(key_id, None)

    def forget_all(self) -> None:
        self._cache.clear()
