"""The audit log: one hash chain per agency, appended by every gateway instance.

Entry `n` of an agency carries `hash = SHA-256(JCS(entry))`, where the entry (RFC 8785 JSON
Canonicalization Scheme: sorted keys, no whitespace, UTF-8, ECMAScript number forms) holds
`prev`, the hash of entry `n - 1` (64 zeros for the first). `canonical()` is the whole
definition. Changing, inserting or deleting a row breaks a hash, a link or the sequence, and
`verify()` names the first entry where it breaks; rewriting the tail consistently, head row
included, is caught by comparing a head recorded elsewhere (`verify(..., anchor=...)`).

Appends are serialised per agency by the row lock on its `audit_heads` row, so instances never
fork the chain; within an instance concurrent appends are grouped into one transaction (group
commit), so a burst costs one lock round per batch, not per entry.
"""

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import rfc8785

from pantau_shared.postgres import Connection

log = logging.getLogger(__name__)
VERSION = 1
GENESIS = bytes(32)
JSON = str | int | bool | None | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class Event:
    """What happened: who (agency and principal), what (action, outcome, detail), from where."""

    agency_id: str
    principal: str
    action: str
    outcome: int
    address: str
    detail: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    event: Event
    prev_hash: bytes
    hash: bytes


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(seq: int, at: datetime, event: Event, prev_hash: bytes) -> bytes:
    """The bytes an entry's hash is taken over."""
    return rfc8785.dumps(
        {
            "v": VERSION,
            "seq": seq,
            "at": timestamp(at),
            "agency_id": event.agency_id,
            "principal": event.principal,
            "action": event.action,
            "outcome": event.outcome,
            "address": event.address,
            "detail": dict(event.detail),
            "prev": prev_hash.hex(),
        }
    )


def digest(seq: int, at: datetime, event: Event, prev_hash: bytes) -> bytes:
    return hashlib.sha256(canonical(seq, at, event, prev_hash)).digest()


class AuditLog:
    def __init__(self, pool: asyncpg.Pool, head_log_s: float = 60.0) -> None:
        self._pool = pool
        self._head_log_s = head_log_s
        self._head_logged: dict[str, float] = {}
        self._pending: list[tuple[Event, asyncio.Future[int]]] = []
        self._writer = asyncio.Lock()

    async def append(self, event: Event) -> int:
        """Appends and returns the entry's sequence number once it is committed."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((event, done))
        async with self._writer:
            # Whoever holds the writer takes every event queued meanwhile: one transaction each.
            if not done.done():
                batch, self._pending = self._pending, []
                try:
                    numbers = await self._write([e for e, _ in batch])
                except BaseException as error:
                    # Every waiter gets the failure, this one too, through `done` below; if this
                    # task was cancelled, the others still must not wait for ever.
                    failure = (
                        error if isinstance(error, Exception) else ConnectionError("audit append cancelled")
                    )
                    for _, waiting in batch:
                        waiting.set_exception(failure)
                    if not isinstance(error, Exception):
                        done.exception()  # retrieved: this task re-raises its cancellation instead
                        raise
                else:
                    for (_, waiting), number in zip(batch, numbers, strict=True):
                        waiting.set_result(number)
        return await done

    async def _write(self, events: list[Event]) -> list[int]:
        numbers: list[int] = []
        rows: list[tuple[Any, ...]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            heads: dict[str, tuple[int, bytes]] = {}
            # Agencies locked in one order, so two instances never wait on each other in a cycle.
            for agency_id in sorted({e.agency_id for e in events}):
                await conn.execute(
                    "INSERT INTO audit_heads (agency_id, seq, hash) VALUES ($1, 0, $2)"
                    " ON CONFLICT DO NOTHING",
                    agency_id,
                    GENESIS,
                )
                row = await conn.fetchrow(
                    "SELECT seq, hash FROM audit_heads WHERE agency_id = $1 FOR UPDATE", agency_id
                )
                assert row is not None  # inserted just above, and heads are never deleted
                heads[agency_id] = (row["seq"], bytes(row["hash"]))
            # One clock reading under the locks: entries of a chain never go back in time.
            at = await conn.fetchval("SELECT clock_timestamp()")
            for event in events:
                seq, prev = heads[event.agency_id]
                seq += 1
                entry_hash = digest(seq, at, event, prev)
                rows.append(
                    (
                        event.agency_id,
                        seq,
                        at,
                        event.principal,
                        event.action,
                        event.outcome,
                        event.address,
                        json.dumps(dict(event.detail), ensure_ascii=False),
                        prev,
                        entry_hash,
                    )
                )
                heads[event.agency_id] = (seq, entry_hash)
                numbers.append(seq)
            await conn.executemany(
                "INSERT INTO audit_log (agency_id, seq, at, principal, action, outcome, client_address,"
                " detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                rows,
            )
            await conn.executemany(
                "UPDATE audit_heads SET seq = $2, hash = $3 WHERE agency_id = $1",
                [(agency_id, seq, entry_hash) for agency_id, (seq, entry_hash) in heads.items()],
            )
        self._log_heads(heads)
        return numbers

    def _log_heads(self, heads: dict[str, tuple[int, bytes]]) -> None:
        """Anchors outside the database, for free: the logs go to the deployment's collector,
        which the database's administrators cannot rewrite; `verify-audit --anchor` takes them."""
        now = time.monotonic()
        for agency_id, (seq, entry_hash) in heads.items():
            if now - self._head_logged.get(agency_id, -self._head_log_s) >= self._head_log_s:
                self._head_logged[agency_id] = now
                log.info("audit head %s:%d:%s", agency_id, seq, entry_hash.hex())


_COLUMNS = "agency_id, seq, at, principal, action, outcome, client_address, detail, prev_hash, hash"


def _entry(row: asyncpg.Record) -> Entry:
    event = Event(
        agency_id=row["agency_id"],
        principal=row["principal"],
        action=row["action"],
        outcome=row["outcome"],
        address=row["client_address"],
        detail=json.loads(row["detail"]),
    )
    return Entry(row["seq"], row["at"], event, bytes(row["prev_hash"]), bytes(row["hash"]))


async def page(pool: asyncpg.Pool, agency_id: str, after: int, limit: int) -> list[Entry]:
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM audit_log WHERE agency_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        agency_id,
        after,
        limit,
    )
    return [_entry(row) for row in rows]


async def _entries(conn: Connection, agency_id: str, batch: int = 5_000) -> AsyncIterator[Entry]:
    async for row in conn.cursor(
        f"SELECT {_COLUMNS} FROM audit_log WHERE agency_id = $1 ORDER BY seq", agency_id, prefetch=batch
    ):
        yield _entry(row)


@dataclass(frozen=True)
class Verdict:
    agency_id: str
    entries: int
    head_seq: int
    head_hash: bytes
    # Empty when the chain holds; else where it first breaks and how.
    problem: str = ""

    @property
    def intact(self) -> bool:
        return not self.problem


async def verify(pool: asyncpg.Pool, agency_id: str, anchor: tuple[int, bytes] | None = None) -> Verdict:
    """Walks the agency's chain from the start: every hash recomputed, every link and sequence
    number checked, the head row compared; `anchor` (a seq and hash recorded elsewhere earlier)
    must still be in the chain."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow("SELECT seq, hash FROM audit_heads WHERE agency_id = $1", agency_id)
        head_seq, head_hash = (head["seq"], bytes(head["hash"])) if head else (0, GENESIS)
        expected_seq, prev = 0, GENESIS
        count = 0
        problem = ""
        async for entry in _entries(conn, agency_id):
            count += 1
            expected_seq += 1
            if entry.seq != expected_seq:
                problem = f"entry {expected_seq} is missing (next is {entry.seq})"
            elif entry.prev_hash != prev:
                problem = f"entry {entry.seq} does not link to entry {entry.seq - 1}"
            elif digest(entry.seq, entry.at, entry.event, entry.prev_hash) != entry.hash:
                problem = f"entry {entry.seq} was changed: its hash does not match its content"
            elif anchor is not None and entry.seq == anchor[0] and entry.hash != anchor[1]:
                problem = f"entry {entry.seq} is not the one anchored: the chain was rewritten from there"
            if problem:
                break
            prev = entry.hash
        if not problem and (expected_seq, prev) != (head_seq, head_hash):
            problem = (
                f"the chain ends at entry {expected_seq}, its head says {head_seq}:"
                " entries were added or removed"
            )
        if not problem and anchor is not None and anchor[0] > expected_seq:
            problem = f"anchored entry {anchor[0]} is gone: the chain ends at {expected_seq}"
    return Verdict(agency_id, count, head_seq, head_hash, problem)


async def agencies(pool: asyncpg.Pool) -> list[str]:
    """Every agency with a chain (or entries without one: a deleted head is caught too)."""
    rows = await pool.fetch(
        "SELECT agency_id FROM audit_heads UNION SELECT DISTINCT agency_id FROM audit_log"
    )
    return sorted(row["agency_id"] for row in rows)
