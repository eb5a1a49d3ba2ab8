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
from uuid import UUID, uuid4

from pantau_shared.contract import Platform
from pantau_shared.postgres import Connection


class AccountState(StrEnum):
    ACTIVE = "active"
    GONE = "gone"
    PRIVATE = "private"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class Lease:
    agency_id: str
    platform: Platform
    account_id: str
    handle: str | None
    cursor: str | None
    failures: int
    token: UUID


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
        " RETURNING w.agency_id, w.platform, w.account_id, w.handle, w.cursor, w.failures",
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
