"""The collector: lease due accounts, fetch each with its platform's connector (no transaction
open), then store its new posts, their `post.observed.v1` events and the new cursor in one
transaction. Several intake instances run it at once; the schedule's leases keep them apart."""

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from pantau_shared.contract import Platform, PostObserved
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import schedule
from .connectors import AccountGone, AccountPrivate, Connector, Fetched, FetchedPost, RateLimited
from .schedule import AccountState, Backoff, Lease

if TYPE_CHECKING:
    from ..evidence.intake_events import EvidenceIntake

log = logging.getLogger(__name__)

INSERT_POST = (
    "INSERT INTO observed_posts (observation_id, agency_id, platform, account_id, post_id, url, text,"
    " media_sha256, posted_at, observed_at, reach, evidence_sha256)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING true"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one check of one account did."""

    lease: Lease
    observed: int = 0
    state: AccountState = AccountState.ACTIVE
    lost_lease: bool = False


class Collector:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        connectors: Callable[[str, Platform], Connector | None],
        *,
        interval: Callable[[Lease], timedelta],
        backoff: Backoff | None = None,
        hold: timedelta = timedelta(minutes=5),
        batch: int = 20,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        evidence: "EvidenceIntake | None" = None,
    ) -> None:
        self._pool = pool
        # Writes the new posts' evidence jobs in the transaction that stores them.
        self._evidence = evidence
        self._outbox = outbox
        self._connectors = connectors
        # The account's interval: the SLO of its agency's calendar stage, shorter with priority.
        self._interval = interval
        self._backoff = backoff or Backoff()
        self._hold = hold
        self._batch = batch
        self._clock = clock

    async def run_once(self) -> list[Outcome]:
        """Check every account due now that this instance could lease (up to a batch)."""
        async with self._pool.acquire() as conn:
            leases = await schedule.lease_due(conn, now=self._clock(), hold=self._hold, limit=self._batch)
        return list(await asyncio.gather(*(self.check(lease) for lease in leases)))

    async def run(self, stopping: asyncio.Event, idle_s: float = 5.0) -> None:
        """Check due accounts until `stopping`; a batch in flight finishes (its leases expire
        on their own if the process is killed instead)."""
        while not stopping.is_set():
            try:
                outcomes = await self.run_once()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("collector will retry: %s", error)
                outcomes = []
            if not outcomes:
                try:
                    await asyncio.wait_for(stopping.wait(), timeout=idle_s)
                except TimeoutError:
                    pass

    async def check(self, lease: Lease) -> Outcome:
        connector = self._connectors(lease.agency_id, lease.platform)
        if connector is None:
            return await self._failed(lease, AccountState.FAILING, f"no connector for {lease.platform.value}")
        try:
            fetched = await connector.fetch(lease.account_id, lease.cursor)
        except AccountGone as error:
            return await self._failed(lease, AccountState.GONE, str(error) or "gone")
        except AccountPrivate as error:
            return await self._failed(lease, AccountState.PRIVATE, str(error) or "private")
        except RateLimited as error:
            async with self._pool.acquire() as conn:
                await schedule.release(
                    conn, lease, due_at=self._clock() + timedelta(seconds=error.retry_after_s)
                )
            return Outcome(lease, state=AccountState.ACTIVE)
        except Exception as error:  # any connector failure backs this account off
            state = (
                AccountState.FAILING
                if lease.failures + 1 >= self._backoff.failing_after
                else AccountState.ACTIVE
            )
            log.warning("check of %s %s failed: %s", lease.platform.value, lease.account_id, error)
            return await self._failed(lease, state, f"{type(error).__name__}: {error}")
        return await self._store(lease, fetched)

    async def _store(self, lease: Lease, fetched: Fetched) -> Outcome:
        now = self._clock()
        try:
            observed = await self._commit(lease, fetched, now)
        except _LeaseLost:
            log.warning(
                "lease of %s %s was lost: its result is dropped", lease.platform.value, lease.account_id
            )
            return Outcome(lease, lost_lease=True)
        self._outbox.committed()
        if observed and self._evidence is not None:
            self._evidence.wake()
        return Outcome(lease, observed=observed)

    async def _commit(self, lease: Lease, fetched: Fetched, now: datetime) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            new: list[PostObserved] = []
            for post in fetched.posts:
                event = self._event(lease, fetched, post, now)
                if await _insert(conn, event):
                    await self._outbox.stage(conn, event)
                    new.append(event)
            observed = len(new)
            if new and self._evidence is not None:
                await self._evidence.posts_stored(conn, new)
            kept = await schedule.checked(
                conn,
                lease,
                cursor=fetched.cursor,
                handle=fetched.handle,
                observed=observed,
                now=now,
                next_due=now + self._interval(lease),
            )
            if not kept:
                # Another instance holds the account now: roll back, so its cursor wins.
                raise _LeaseLost
        return observed

    async def _failed(self, lease: Lease, state: AccountState, error: str) -> Outcome:
        now = self._clock()
        if state in (AccountState.GONE, AccountState.PRIVATE):
            # Looked at again once a day, in case it comes back or is made public.
            next_due = now + timedelta(days=1)
        else:
            next_due = now + min(self._interval(lease), self._backoff.delay(lease.failures + 1))
        async with self._pool.acquire() as conn:
            kept = await schedule.failed(conn, lease, state=state, error=error, now=now, next_due=next_due)
        return Outcome(lease, state=state, lost_lease=not kept)

    @staticmethod
    def _event(lease: Lease, fetched: Fetched, post: FetchedPost, now: datetime) -> PostObserved:
        return PostObserved(
            observation_id=PostObserved.observation_key(lease.platform, lease.account_id, post.post_id),
            agency_id=lease.agency_id,
            platform=lease.platform,
            account_id=lease.account_id,
            account_handle=fetched.handle or lease.handle,
            post_id=post.post_id,
            url=post.url,
            text=post.text,
            media_sha256=post.media_sha256,
            posted_at=post.posted_at,
            observed_at=now,
            reach=post.reach if post.reach is not None else fetched.reach,
            evidence_sha256=hashlib.sha256(post.raw).hexdigest(),
            region_code=lease.region_code or None,
            account_kind=lease.kind,
        )


class _LeaseLost(Exception):
    pass


async def _insert(conn: Connection, event: PostObserved) -> bool:
    """Keep the post; False when this observation was stored before (a post fetched twice)."""
    inserted = await conn.fetchval(
        INSERT_POST,
        event.observation_id,
        event.agency_id,
        event.platform.value,
        event.account_id,
        event.post_id,
        event.url,
        event.text,
        list(event.media_sha256),
        event.posted_at,
        event.observed_at,
        event.reach,
        event.evidence_sha256,
    )
    return bool(inserted)
