"""The preservation worker: lease due jobs, capture each URL with no transaction open, put the
bytes in the object store, then record items, custody and the `evidence.preserved` event in one
transaction that also closes the job (only while the lease is still this worker's). Trusted
timestamps follow in the same loop, one item at a time, each in its own short transaction.

A refused URL (`FetchRefused`: file:, loopback, private, metadata, too large) is recorded at once
with its reason; an unreachable one (`FetchFailed`) is retried with backoff and recorded as
failed after the last attempt. Either way the report itself was stored long before.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from pantau_shared.contract.evidence import EvidencePreserved, EvidenceSummary
from pantau_shared.custody import CustodyAction
from pantau_shared.fetching import FetchFailed, FetchRefused
from pantau_shared.objectstore import ObjectStore
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection
from pantau_shared.timestamping import TimestampFailed, TimestampInvalid

from . import custody_log, jobs, repository
from .capture import Capture, Capturer
from .jobs import Backoff, Job, Retry
from .repository import NewItem
from .trust import Trust

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "pantau-intake"


class Preserver:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        store: ObjectStore,
        capturer: Capturer,
        trust: Trust,
        *,
        backoff: Backoff | None = None,
        hold: timedelta = timedelta(minutes=2),
        # Jobs a round leases and captures at once. A round costs two statements (lease, then
        # the failures put back) whatever its size; 8 keeps that small beside the captures when
        # a burst's links all fail fast. More at once made httpcore's pool bookkeeping (every
        # request against every connection) cost more than the statements saved.
        batch: int = 8,
        # Woken after a part round, the worker waits this long first, so the jobs of the next
        # consumer batches join one round (under load a batch of reports came every few ms,
        # and each woke a round of two or three jobs).
        gather_s: float = 0.25,
        stamp_attempts: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        self._store = store
        self._capturer = capturer
        self._trust = trust
        self._backoff = backoff or Backoff()
        self._hold = hold
        self._batch = batch
        self._gather_s = gather_s
        self._stamp_attempts = stamp_attempts
        self._clock = clock
        self.wake = asyncio.Event()

    async def run_once(self) -> int:
        """Preserve the jobs due now that this worker could lease (up to a batch), then stamp."""
        async with self._pool.acquire() as conn:
            leased = await jobs.lease(conn, now=self._clock(), hold=self._hold, limit=self._batch)
        await self.preserve(*leased)
        await self.stamp_pending()
        return len(leased)

    async def run(self, stopping: asyncio.Event, idle_s: float = 2.0) -> None:
        while not stopping.is_set():
            self.wake.clear()
            try:
                done = await self.run_once()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("evidence worker will retry: %s", error)
                done = 0
            except Exception:
                # Whatever one round trips over, the worker (and the process) goes on.
                log.exception("evidence worker round failed; it will retry")
                done = 0
            if done >= self._batch:
                continue  # more may be due already
            # A part round: the rest waits for new jobs (woken) or the next look. Retries come
            # due one by one, seconds apart; taking each the moment it is due made most rounds a
            # lease and a put-back statement for one job.
            waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waits, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            if self.wake.is_set() and not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self._gather_s)

    async def preserve(self, *leased: Job) -> None:
        """Capture the jobs concurrently; those to fetch again are put back in one statement
        (when every link of a burst is unreachable, that is most of them)."""
        outcomes = await asyncio.gather(*(self._attempt(job) for job in leased), return_exceptions=True)
        again = [outcome for outcome in outcomes if isinstance(outcome, Retry)]
        if again:
            async with self._pool.acquire() as conn:
                await jobs.retry(conn, again)
            # One line a round, not one a job: a burst of dead links logged each attempt.
            log.info(
                "evidence of %d link(s) will be fetched again, e.g. %s: %s",
                len(again),
                again[0].job.url,
                again[0].error,
            )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _attempt(self, job: Job) -> Retry | None:
        try:
            capture = await self._capturer.capture(job.url)
        except FetchRefused as refused:
            await self._give_up(job, "refused", str(refused))
            return None
        except FetchFailed as failed:
            if job.attempts >= self._backoff.attempts:
                await self._give_up(job, "failed", str(failed))
                return None
            return Retry(job, self._clock() + self._backoff.delay(job.attempts), str(failed))
        except Exception:
            log.exception("capturing %s failed", job.url)
            return Retry(job, self._clock() + self._backoff.delay(job.attempts), "internal error")
        await self._keep(job, capture)
        return None

    async def _keep(self, job: Job, capture: Capture) -> None:
        items = []
        for piece in capture.pieces:
            stored = (
                await self._store.put(piece.data, piece.media_type or "") if piece.data is not None else None
            )
            items.append(
                NewItem(
                    agency_id=job.agency_id,
                    report_id=job.report_id,
                    observation_id=job.observation_id,
                    job_id=job.job_id,
                    url=piece.url,
                    kind=piece.kind,
                    status="preserved" if stored is not None else "unavailable",
                    sha256=stored.sha256 if stored is not None else None,
                    size=stored.size if stored is not None else None,
                    media_type=piece.media_type,
                    fetched_at=piece.fetched_at,
                    reason=piece.reason,
                )
            )
        await self._record(job, "done", items, None)

    async def _give_up(self, job: Job, outcome: str, reason: str) -> None:
        item = NewItem(
            agency_id=job.agency_id,
            report_id=job.report_id,
            observation_id=job.observation_id,
            job_id=job.job_id,
            url=job.url,
            kind="warc",
            status=outcome,
            fetched_at=self._clock(),
            reason=reason,
        )
        log.info("evidence of %s %s: %s", job.url, outcome, reason)
        await self._record(job, outcome, [item], reason)

    async def _record(self, job: Job, state: str, items: list[NewItem], reason: str | None) -> None:
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            if not await jobs.finish(conn, job, state, now, reason):
                log.info("lease on evidence job %s lost: another worker records it", job.job_id)
                return
            await self.record_items(conn, items, now)
            await self._outbox.stage(
                conn,
                EvidencePreserved(
                    report_id=job.report_id,
                    agency_id=job.agency_id,
                    observation_id=job.observation_id,
                    url=job.url,
                    outcome="preserved" if state == "done" else state,  # type: ignore[arg-type]
                    reason=reason,
                    items=tuple(_summary(i) for i in items),
                    preserved_at=now,
                ),
            )
        self._outbox.committed()

    async def record_items(self, conn: Connection, items: list[NewItem], now: datetime) -> list[NewItem]:
        """Store new items and their `preserved` custody entries (in the caller's transaction)."""
        new = await repository.insert_items(conn, items, self._trust.state_of_new)
        for report_id in dict.fromkeys(i.report_id for i in new):
            mine = [i for i in new if i.report_id == report_id]
            await custody_log.append(
                conn,
                mine[0].agency_id,
                ("report", report_id),
                [(CustodyAction.PRESERVED, _subject(i), _detail(i)) for i in mine if i.status == "preserved"],
                at=now,
                actor=SYSTEM_ACTOR,
            )
        return new

    async def stamp_pending(self) -> int:
        if self._trust.stamper is None:
            return 0
        async with self._pool.acquire() as conn:
            waiting = await repository.unstamped(conn, 50, self._stamp_attempts)
        stamped = 0
        for item_id, sha256 in waiting:
            try:
                timestamp = await self._trust.stamp(sha256)
            except (TimestampFailed, TimestampInvalid) as error:
                # An invalid token (another hash, a root we do not trust) is never kept.
                log.warning("timestamp for %s will be asked again: %s", sha256, error)
                async with self._pool.acquire() as conn:
                    await repository.stamp_failed(conn, item_id, self._stamp_attempts)
                continue
            async with self._pool.acquire() as conn, conn.transaction():
                owner = await repository.stamped(
                    conn, item_id, timestamp.token, timestamp.time, timestamp.tsa
                )
                if owner is None:
                    continue
                agency_id, report_id = owner
                detail = f"RFC 3161 {timestamp.tsa} serial {timestamp.serial} at {timestamp.time.isoformat()}"
                await custody_log.append(
                    conn,
                    agency_id,
                    ("report", report_id),
                    [(CustodyAction.TIMESTAMPED, sha256, detail)],
                    at=self._clock(),
                    actor=SYSTEM_ACTOR,
                )
            stamped += 1
        return stamped


def _subject(item: NewItem) -> str:
    return item.sha256 or ""


def _detail(item: NewItem) -> str:
    return f"{item.kind} {item.media_type or ''} {item.size} bytes of {item.url}".replace("  ", " ")


def _summary(item: NewItem) -> EvidenceSummary:
    return EvidenceSummary(
        kind=item.kind,  # type: ignore[arg-type]
        status=item.status,  # type: ignore[arg-type]
        sha256=item.sha256,
        size=item.size,
        media_type=item.media_type,
        url=item.url,
        reason=(item.reason or "")[:2000] or None,
    )
