"""The schedule of watched accounts in PostgreSQL.

Why PostgreSQL leases rather than NATS KV: the cursor must be committed in the same transaction as
the observed posts and their outbox rows, so a killed collector either stored the posts and moved
the cursor, or did neither. A lease is a short statement of its own (`FOR UPDATE SKIP LOCKED`, so
instances never wait on each other nor take the same account), committed before any network
call; the fetch then runs with no transaction open, and the result is written only if the lease
token is still this collector's (an expired lease taken over by another instance writes nothing).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from uuid import UUID, uuid4

from pantau_shared.contract import Platform
from pantau_shared.postgres import Connection

AccountKind = Literal["participant", "official", "feed"]


class AccountState(StrEnum):
    ACTIVE = "active"
    GONE = "gone"
    PRIVATE = "private"
    FAILING = "failing"
    UNLISTED = "unlisted"


@dataclass(frozen=True, slots=True)
class Lease:
    agency_id: str
    platform: Platform
    account_id: str
    handle: str | None
    cursor: str | None
    failures: int
    token: UUID
    priority: bool = False
    region_code: str = ""
    kind: AccountKind = "participant"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Per account, after a failure: `base_s` doubled per failure in a row, at most `longest_s`;
    after `failing_after` failures in a row the account is shown as failing."""

    base_s: float = 60.0
    longest_s: float = 6 * 3600.0
    failing_after: int = 3

    def delay(self, failures: int) -> timedelta:
        return timedelta(seconds=min(self.longest_s, self.base_s * 2 ** max(failures - 1, 0)))


async def watch(
    conn: Connection, agency_id: str, platform: Platform, account_id: str, handle: str | None, now: datetime
) -> bool:
    """Add an account to the schedule, due at once; False when it was watched already."""
    added = await conn.fetchval(
        "INSERT INTO watched_accounts (agency_id, platform, account_id, handle, due_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
        agency_id,
        platform.value,
        account_id,
        handle,
        now,
    )
    return bool(added)


@dataclass(frozen=True, slots=True)
class Listed:
    """An account the registry lists for an agency (or a feed its settings name)."""

    platform: Platform
    account_id: str
    kind: AccountKind
    region_code: str = ""
    priority: bool = False


async def sync(conn: Connection, agency_id: str, listed: list[Listed], now: datetime) -> tuple[int, int]:
    """Make the agency's schedule what the registry lists: new accounts due at once, their kind
    and priority kept up to date, unlisted ones no longer checked (kept, with their posts).
    Returns (added, unlisted). Run in one transaction by the caller."""
    added = await conn.fetchval(
        "WITH listed AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[])"
        "  AS l(platform, account_id, kind, region_code, priority)),"
        " upserted AS (INSERT INTO watched_accounts"
        "  (agency_id, platform, account_id, kind, region_code, priority, listed_at, due_at)"
        "  SELECT $1, platform, account_id, kind, region_code, priority, $7, $7 FROM listed"
        "  ON CONFLICT (agency_id, platform, account_id) DO UPDATE SET kind = excluded.kind,"
        "   region_code = excluded.region_code, priority = excluded.priority, listed_at = excluded.listed_at,"
        "   state = CASE WHEN watched_accounts.state = 'unlisted' THEN 'active'"
        "    ELSE watched_accounts.state END,"
        "   due_at = CASE WHEN watched_accounts.state = 'unlisted' THEN excluded.due_at"
        "    ELSE watched_accounts.due_at END"
        "  RETURNING xmax = 0 AS inserted)"
        " SELECT count(*) FILTER (WHERE inserted) FROM upserted",
        agency_id,
        [entry.platform.value for entry in listed],
        [entry.account_id for entry in listed],
        [entry.kind for entry in listed],
        [entry.region_code for entry in listed],
        [entry.priority for entry in listed],
        now,
    )
    unlisted = await conn.fetchval(
        "WITH gone AS (UPDATE watched_accounts w SET state = 'unlisted'"
        " WHERE agency_id = $1 AND state <> 'unlisted' AND NOT EXISTS ("
        "  SELECT 1 FROM unnest($2::text[], $3::text[]) AS l(platform, account_id)"
        "  WHERE (l.platform, l.account_id) = (w.platform, w.account_id)) RETURNING 1)"
        " SELECT count(*) FROM gone",
        agency_id,
        [entry.platform.value for entry in listed],
        [entry.account_id for entry in listed],
    )
    return int(added or 0), int(unlisted or 0)


async def lease_due(conn: Connection, *, now: datetime, hold: timedelta, limit: int) -> list[Lease]:
    """Take up to `limit` due accounts, most overdue first, for `hold`; one statement, so the
    lease is committed before the caller fetches anything."""
    token = uuid4()
    rows = await conn.fetch(
        "UPDATE watched_accounts w SET lease_token = $1, leased_until = $2 + $3::interval"
        " FROM (SELECT agency_id, platform, account_id FROM watched_accounts"
        "       WHERE state IN ('active', 'failing') AND due_at <= $2"
        "         AND (leased_until IS NULL OR leased_until < $2)"
        "       ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) d"
        " WHERE (w.agency_id, w.platform, w.account_id) = (d.agency_id, d.platform, d.account_id)"
        " RETURNING w.agency_id, w.platform, w.account_id, w.handle, w.cursor, w.failures, w.priority,"
        " w.region_code, w.kind",
        token,
        now,
        hold,
        limit,
    )
    return [
        Lease(
            r["agency_id"],
            Platform(r["platform"]),
            r["account_id"],
            r["handle"],
            r["cursor"],
            r["failures"],
            token,
            r["priority"],
            r["region_code"],
            r["kind"],
        )
        for r in rows
    ]


async def checked(
    conn: Connection,
    lease: Lease,
    *,
    cursor: str | None,
    handle: str | None,
    observed: int,
    now: datetime,
    next_due: datetime,
) -> bool:
    """Record a successful check in the caller's transaction; False when the lease was lost."""
    done = await conn.fetchval(
        "UPDATE watched_accounts SET cursor = $5, handle = coalesce($6, handle), state = 'active',"
        " failures = 0, last_error = NULL, last_checked_at = $7, last_success_at = $7, due_at = $8,"
        " posts_observed = posts_observed + $9, lease_token = NULL, leased_until = NULL"
        " WHERE agency_id = $1 AND platform = $2 AND account_id = $3 AND lease_token = $4 RETURNING true",
        lease.agency_id,
        lease.platform.value,
        lease.account_id,
        lease.token,
        cursor,
        handle,
        now,
        next_due,
        observed,
    )
    return bool(done)


async def failed(
    conn: Connection, lease: Lease, *, state: AccountState, error: str, now: datetime, next_due: datetime
) -> bool:
    """Record a failed check (the cursor stays); False when the lease was lost."""
    done = await conn.fetchval(
        "UPDATE watched_accounts SET state = $5, failures = failures + 1, last_error = $6,"
        " last_checked_at = $7, due_at = $8, lease_token = NULL, leased_until = NULL"
        " WHERE agency_id = $1 AND platform = $2 AND account_id = $3 AND lease_token = $4 RETURNING true",
        lease.agency_id,
        lease.platform.value,
        lease.account_id,
        lease.token,
        state.value,
        error[:500],
        now,
        next_due,
    )
    return bool(done)


async def release(conn: Connection, lease: Lease, *, due_at: datetime) -> None:
    """Give an account back without counting a failure (the credential was rate limited)."""
    await conn.execute(
        "UPDATE watched_accounts SET lease_token = NULL, leased_until = NULL, due_at = $5"
        " WHERE agency_id = $1 AND platform = $2 AND account_id = $3 AND lease_token = $4",
        lease.agency_id,
        lease.platform.value,
        lease.account_id,
        lease.token,
        due_at,
    )
