"""Re-checking the URL of every open takedown on a schedule, shared by all triage replicas.

Each sweep: claim the due takedowns (a lease, `FOR UPDATE SKIP LOCKED`, committed at once), fetch
each URL with the SSRF-safe fetcher outside any transaction, then record each answer in a short
transaction of its own. The first re-check that finds the content gone dates its removal; the
removal happened between the last re-check that saw it and that one, so re-checks come more
often near the deadline, and never skip past it. A deadline passed with the content still seen
marks the takedown overdue, once, whichever replica sees it first.
"""

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import UUID

import asyncpg

from pantau_shared.contract.fields import ascii_host
from pantau_shared.contract.takedowns import (
    RecheckOutcome,
    TakedownOverdue,
    TakedownRemoved,
    TakedownStatus,
)
from pantau_shared.fetching import FetchFailed, FetchRefused, SafeFetcher
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import takedowns_repository as store
from .takedowns import RECHECK_ACTOR, TakedownWork, event_fields, removal_precision
from .takedowns_removal import Verdict, judge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    interval_s: float
    near_deadline_interval_s: float
    near_deadline_window_s: float

    def next_check(self, now: datetime, deadline: datetime) -> datetime:
        before = (deadline - now).total_seconds()
        near = 0 < before <= self.near_deadline_window_s
        step = timedelta(seconds=self.near_deadline_interval_s if near else self.interval_s)
        following = now + step
        # A re-check right at the deadline: whether it is overdue rests on a fresh look.
        return deadline if now < deadline < following else following


@dataclass(frozen=True)
class Rechecked:
    takedown_id: UUID
    outcome: RecheckOutcome


class Rechecker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        work: TakedownWork,
        fetcher: SafeFetcher,
        schedule: Schedule,
        *,
        batch: int,
        concurrency: int,
        lease_s: float,
        sweep_s: float,
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        self.work = work
        self.fetcher = fetcher
        self._schedule = schedule
        self._batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self._lease_s = lease_s
        self._sweep_s = sweep_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    async def close(self) -> None:
        await self.fetcher.aclose()

    async def sweep(self) -> list[Rechecked]:
        """One round: every due re-check this replica can claim, then deadlines passed unseen."""
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await store.claim_due(conn, self.owner, datetime.now(UTC), self._lease_s, self._batch)
        done = list(await asyncio.gather(*(self._recheck(t) for t in claimed)))
        await self._overdue()
        return done

    async def run_until(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                done = await self.sweep()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("takedown re-check sweep will retry: %s", error)
                done = []
            except Exception:
                # A bug in one round must not end the replica's other work: logged, retried.
                log.exception("takedown re-check sweep failed; the next sweep retries")
                done = []
            if len(done) == self._batch:
                continue  # more are due: no pause
            try:
                await asyncio.wait_for(stopping.wait(), self._sweep_s)
            except TimeoutError:
                pass

    async def _recheck(self, takedown: store.Takedown) -> Rechecked:
        async with self._slots:
            verdict, status = await self._fetch(takedown)
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            current = await store.lock_leased(conn, takedown.takedown_id, self.owner)
            if current is None or current.status not in (
                TakedownStatus.REQUESTED,
                TakedownStatus.ACKNOWLEDGED,
                TakedownStatus.OVERDUE,
            ):
                return Rechecked(takedown.takedown_id, verdict.outcome)
            await store.record_check(
                conn, current.takedown_id, now, verdict.outcome, status, verdict.removal_kind, verdict.detail
            )
            if verdict.outcome is RecheckOutcome.REMOVED:
                await self._removed(conn, current, verdict, now)
            else:
                changes: dict[str, object] = {
                    "next_check_at": self._schedule.next_check(now, current.deadline_at),
                    "lease_owner": None,
                    "lease_until": None,
                    "checks": current.checks + 1,
                }
                if verdict.outcome is RecheckOutcome.LIVE:
                    changes["last_seen_live_at"] = now
                await store.update(conn, current.takedown_id, **changes)
                if verdict.outcome is RecheckOutcome.LIVE and now >= current.deadline_at:
                    await self._mark_overdue(conn, [current.takedown_id], now)
        self._outbox.committed()
        return Rechecked(takedown.takedown_id, verdict.outcome)

    async def _fetch(self, takedown: store.Takedown) -> tuple[Verdict, int | None]:
        try:
            fetched = await self.fetcher.fetch(fetchable(takedown.url))
        except FetchRefused as refused:
            log.warning("takedown %s: re-check refused: %s", takedown.takedown_id, refused)
            return Verdict(RecheckOutcome.REFUSED, detail=f"ditolak pengambil: {refused}"), None
        except FetchFailed as failed:
            return Verdict(RecheckOutcome.FAILED, detail=str(failed)), None
        except Exception as unexpected:
            # One odd URL must not stop every re-check of the replica: recorded, tried again.
            log.exception("takedown %s: re-check failed unexpectedly", takedown.takedown_id)
            return Verdict(RecheckOutcome.FAILED, detail=f"{type(unexpected).__name__}: {unexpected}"), None
        return judge(fetched.final, takedown.platform), fetched.final.status

    async def _removed(
        self, conn: Connection, takedown: store.Takedown, verdict: Verdict, now: datetime
    ) -> None:
        assert verdict.removal_kind is not None
        await store.update(
            conn,
            takedown.takedown_id,
            status=TakedownStatus.REMOVED,
            removed_at=now,
            removal_kind=verdict.removal_kind,
            next_check_at=None,
            lease_owner=None,
            lease_until=None,
            checks=takedown.checks + 1,
        )
        gone = takedown.model_copy(update={"removed_at": now, "status": TakedownStatus.REMOVED})
        precision = removal_precision(gone)
        taken = (now - takedown.requested_at).total_seconds()
        within = now <= takedown.deadline_at
        note = (
            f"Pemeriksaan ulang: konten tidak lagi tersedia ({verdict.detail}); diturunkan dalam"
            f" {duration_words(taken)} sejak permintaan (ketelitian {duration_words(precision or 0)}),"
            + (" dalam tenggat" if within else " melewati tenggat")
        )
        await self.work.removed(conn, gone, note, now)
        await self._outbox.stage(
            conn,
            TakedownRemoved(
                **event_fields(takedown),
                removed_at=now,
                removal_kind=verdict.removal_kind,
                last_seen_live_at=takedown.last_seen_live_at,
                time_to_removal_s=max(0.0, taken),
                removal_precision_s=precision,
                within_deadline=within,
            ),
        )

    async def _overdue(self) -> None:
        """Deadlines a re-check could not judge in time (its fetches failing): one sweep
        interval of grace after the near-deadline re-checks."""
        grace = self._schedule.near_deadline_interval_s + self._sweep_s
        async with self._pool.acquire() as conn, conn.transaction():
            marked = await self._mark_overdue(conn, None, datetime.now(UTC), grace)
        if marked:
            self._outbox.committed()

    async def _mark_overdue(
        self, conn: Connection, takedown_ids: list[UUID] | None, now: datetime, grace_s: float = 0.0
    ) -> int:
        marked = await store.mark_overdue(conn, takedown_ids, now, grace_s)
        for takedown in marked:
            late = duration_words((now - takedown.deadline_at).total_seconds())
            await self.work.history(
                conn,
                takedown,
                "takedown_overdue",
                RECHECK_ACTOR,
                f"Tenggat penurunan terlewati {late}: konten masih tersedia pada pemeriksaan ulang",
            )
            await self._outbox.stage(
                conn,
                TakedownOverdue(
                    **event_fields(takedown),
                    overdue_at=now,
                    legal_basis=takedown.legal_basis,
                    last_seen_live_at=takedown.last_seen_live_at,
                    platform_request_id=takedown.platform_request_id,
                ),
            )
        return len(marked)


def fetchable(url: str) -> str:
    """The URL as a request line carries it: https when the scheme was left out (as the contract
    reads it), the host in IDNA A-labels, the path and query percent-encoded."""
    parts = urlsplit(url if "://" in url else "https://" + url)
    try:
        host = ascii_host(parts.hostname or "")
    except (UnicodeError, ValueError) as error:
        raise FetchRefused(f"nama domain tidak sah: {error}") from error
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def duration_words(seconds: float) -> str:
    """A duration as people read it: `3 jam 12 menit`, `45 detik`."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} jam"] if hours else []
    if minutes:
        parts.append(f"{minutes} menit")
    if secs and not hours:
        parts.append(f"{secs} detik")
    return " ".join(parts) or "0 detik"
