"""Preservation jobs in PostgreSQL: one per (report, URL).

A job is written when the report's event is consumed (idempotently: its id is derived from the
report and the URL), leased in a short statement of its own (`FOR UPDATE SKIP LOCKED`, so
instances never take the same job) and committed before the fetch; the fetch runs with no
transaction open, and its items are recorded only while the lease token is still this worker's.
A worker killed mid-fetch loses nothing: the lease expires and another worker takes the job;
the items' derived ids keep a second run from storing anything twice.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from pantau_shared.contract import stable_id
from pantau_shared.postgres import Connection


@dataclass(frozen=True, slots=True)
class Job:
    job_id: UUID
    agency_id: str
    report_id: UUID
    observation_id: UUID | None
    url: str
    attempts: int
    token: UUID


@dataclass(frozen=True, slots=True)
class Backoff:
    """After a failed fetch: `base_s` doubled per attempt, at most `longest_s`; a job is given
    up (`failed`) after `attempts` tries."""

    base_s: float = 10.0
    longest_s: float = 3600.0
    attempts: int = 6

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.longest_s, self.base_s * 2 ** max(attempts - 1, 0)))


def job_id(report_id: UUID, url: str) -> UUID:
    return stable_id("evidence.job", f"{report_id}:{url}")


@dataclass(frozen=True, slots=True)
class NewJob:
    agency_id: str
    report_id: UUID
    observation_id: UUID | None
    url: str

    @property
    def job_id(self) -> UUID:
        return job_id(self.report_id, self.url)


async def enqueue_many(conn: Connection, new: list[NewJob]) -> int:
    """The jobs of a whole batch of reports in one statement; returns how many were new."""
    if not new:
        return 0
    # In job-id order, the order every instance uses: two batches holding some of the same jobs
    # (a redelivery taken by another instance) then wait on each other instead of deadlocking.
    unique = sorted({job.job_id: job for job in new}.items())
    status = await conn.execute(
        "INSERT INTO evidence_jobs (job_id, agency_id, report_id, observation_id, url)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[])"
        " ON CONFLICT (job_id) DO NOTHING",
        [i for i, _ in unique],
        [j.agency_id for _, j in unique],
        [j.report_id for _, j in unique],
        [j.observation_id for _, j in unique],
        [j.url for _, j in unique],
    )
    return int(status.rsplit(" ", 1)[-1])


async def lease(conn: Connection, *, now: datetime, hold: timedelta, limit: int) -> list[Job]:
    token = uuid4()
    rows = await conn.fetch(
        "UPDATE evidence_jobs j SET lease_token = $1, leased_until = $2, attempts = j.attempts + 1"
        " FROM (SELECT job_id FROM evidence_jobs WHERE state = 'pending' AND due_at <= $3"
        "       AND (leased_until IS NULL OR leased_until < $3)"
        "       ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) due"
        " WHERE j.job_id = due.job_id"
        " RETURNING j.job_id, j.agency_id, j.report_id, j.observation_id, j.url, j.attempts",
        token,
        now + hold,
        now,
        limit,
    )
    return [Job(token=token, **dict(row)) for row in rows]


async def finish(conn: Connection, job: Job, state: str, now: datetime, error: str | None = None) -> bool:
    """Close the job if its lease is still ours (False: another worker has it now)."""
    done = await conn.fetchval(
        "UPDATE evidence_jobs SET state = $3, finished_at = $4, last_error = $5, lease_token = NULL,"
        " leased_until = NULL WHERE job_id = $1 AND lease_token = $2 RETURNING true",
        job.job_id,
        job.token,
        state,
        now,
        error,
    )
    return bool(done)


@dataclass(frozen=True, slots=True)
class Retry:
    """A job whose fetch failed, due again at `due_at`."""

    job: Job
    due_at: datetime
    error: str


async def retry(conn: Connection, retries: list[Retry]) -> int:
    """Put the jobs of a round back, each only if its lease is still ours; returns how many."""
    if not retries:
        return 0
    ordered = sorted(retries, key=lambda r: r.job.job_id)  # the order every instance locks in
    status = await conn.execute(
        "UPDATE evidence_jobs j SET due_at = r.due_at, last_error = r.error, lease_token = NULL,"
        " leased_until = NULL FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[])"
        " AS r(job_id, token, due_at, error)"
        " WHERE j.job_id = r.job_id AND j.lease_token = r.token",
        [r.job.job_id for r in ordered],
        [r.job.token for r in ordered],
        [r.due_at for r in ordered],
        [r.error for r in ordered],
    )
    return int(status.rsplit(" ", 1)[-1])


async def pending(conn: Connection, agency_id: str, report_ids: list[UUID]) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM evidence_jobs WHERE agency_id = $1 AND report_id = ANY($2::uuid[])"
        " AND state = 'pending'",
        agency_id,
        report_ids,
    )
    return int(count or 0)
