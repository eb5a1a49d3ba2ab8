"""Intake's evidence as reports are stored, on real PostgreSQL and NATS: each link of each stored
report becomes one job in the statement that stores it, each case link one row, a redelivered
batch adds nothing, and a report whose evidence cannot be written is neither stored nor queued,
dead-lettered alone while the rest of its batch is stored with their jobs."""

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from pantau_intake.evidence import Evidence, jobs
from pantau_intake.evidence import repository as evidence_repository
from pantau_intake.evidence.capture import Capturer
from pantau_intake.evidence.intake_events import EvidenceIntake
from pantau_intake.evidence.jobs import Backoff
from pantau_intake.evidence.preserver import Preserver
from pantau_intake.flood import FloodGuard
from pantau_intake.handlers import IntakeHandlers
from pantau_shared.bus import EventHandlerRunner, PullLoop, Subscription, provision
from pantau_shared.contract import (
    Attachment,
    CaseState,
    CaseUpdated,
    Channel,
    ReportReceived,
    ReportSubmitted,
)
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.objectstore import ObjectStore, Stored
from tests.integration.test_bus import dead_letters, publish
from tests.integration.test_evidence import intake as intake  # the fixture
from tests.integration.test_evidence import received, settings
from tests.integration.test_services import opened, submitted, wrap
from tests.waiting import eventually

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


@pytest.fixture
async def evidence(intake: Infrastructure, tmp_path: Path) -> AsyncIterator[Evidence]:
    built = Evidence.build(intake.pool, intake.outbox, settings(tmp_path, None))
    yield built
    await built.aclose()


async def jobs_of(infra: Infrastructure, agency: str) -> list[tuple[UUID, str]]:
    rows = await infra.pool.fetch(
        "SELECT report_id, url FROM evidence_jobs WHERE agency_id = $1 ORDER BY report_id, url", agency
    )
    return [(row["report_id"], row["url"]) for row in rows]


def handlers_with(infra: Infrastructure, evidence: EvidenceIntake) -> IntakeHandlers:
    flood = FloodGuard(infra.redis, infra.subjects.root, daily_limit=3)
    return IntakeHandlers(infra.pool, infra.outbox, b"test-pepper-0123456789", flood, evidence=evidence)


def submission(
    agency: str, url: str | None, text: str | None = None, photo: str | None = None
) -> ReportSubmitted:
    """A submission naming `url` and the links in `text`, with the photo of hash `photo`."""
    attachments = ()
    if photo is not None:
        attachments = (
            Attachment(sha256=photo, size=len(PHOTO), mime_type="image/jpeg", filename="amplop.jpg"),
        )
    return submitted(agency, channel=Channel.API, url=url, text=text, attachments=attachments)


async def queue(infra: Infrastructure, evidence: EvidenceIntake, reports: list[ReportReceived]) -> None:
    """What intake writes with stored reports: their links' jobs."""
    async with infra.pool.acquire() as conn, conn.transaction():
        for stored in reports:
            await evidence.report_stored(conn, stored)
    evidence.wake()


def report(agency: str, url: str | None, text: str | None = None, photo: str | None = None) -> ReportReceived:
    """A stored report naming `url` and the links in `text`, with the photo of hash `photo`."""
    data = received(agency, url, text).data
    assert isinstance(data, ReportReceived)
    if photo is None:
        return data
    kept = Attachment(sha256=photo, size=len(PHOTO), mime_type="image/jpeg", filename="amplop.jpg")
    return data.model_copy(update={"attachments": (kept,)})


async def test_a_stored_batch_has_each_link_queued_once_and_its_redelivery_adds_nothing(
    evidence: Evidence, intake: Infrastructure, agency: str
) -> None:
    assert evidence.on_store is not None
    handlers = handlers_with(intake, evidence.on_store)
    link = "https://www.facebook.com/a/posts/1"
    two = submission(agency, link, f"lihat {link} dan https://x.com/b/status/2.")  # the same link twice
    one = submission(agency, None, "https://www.tiktok.com/@c/video/3")
    stored = await evidence.store.put(PHOTO, "image/jpeg")
    # With a file intake kept: stored on its own, with its item and custody entry.
    photo = submission(agency, "https://www.facebook.com/d/posts/4", photo=stored.sha256)
    reports = [two, submission(agency, None, "tidak ada tautan"), one, photo, two]  # `two` twice in one batch
    batch = [wrap(r) for r in reports]
    evidence.preserver.wake.clear()

    assert await handlers.reports_submitted(batch) == [None] * len(batch)
    assert evidence.preserver.wake.is_set()
    expected = sorted(
        [
            (two.report_id, link),
            (two.report_id, "https://x.com/b/status/2"),
            (one.report_id, "https://www.tiktok.com/@c/video/3"),
            (photo.report_id, "https://www.facebook.com/d/posts/4"),
        ]
    )
    assert await jobs_of(intake, agency) == expected
    kept = await intake.pool.fetch("SELECT kind, sha256 FROM evidence_items WHERE agency_id = $1", agency)
    assert [(r["kind"], r["sha256"]) for r in kept] == [("attachment", stored.sha256)]

    # The batch again (its acks lost in a crash): no second job, item or custody entry.
    assert await handlers.reports_submitted(batch) == [None] * len(batch)
    assert await jobs_of(intake, agency) == expected
    counts = await intake.pool.fetchrow(
        "SELECT (SELECT count(*) FROM evidence_items WHERE agency_id = $1) AS items,"
        " (SELECT count(*) FROM evidence_custody WHERE agency_id = $1) AS custody,"
        " (SELECT count(*) FROM reports WHERE agency_id = $1) AS reports",
        agency,
    )
    assert (counts["items"], counts["custody"], counts["reports"]) == (1, 1, 4)


async def test_without_evidence_reports_are_stored_and_no_job_is_written(
    intake: Infrastructure, tmp_path: Path, agency: str
) -> None:
    off = Evidence.build(
        intake.pool, intake.outbox, settings(tmp_path, None).model_copy(update={"evidence_enabled": False})
    )
    try:
        assert off.on_store is None and off.subscriptions() == []
    finally:
        await off.aclose()
    flood = FloodGuard(intake.redis, intake.subjects.root, daily_limit=3)
    handlers = IntakeHandlers(intake.pool, intake.outbox, b"test-pepper-0123456789", flood)
    batch = [wrap(submission(agency, f"https://www.facebook.com/{agency}/posts/{i}")) for i in range(3)]
    assert await handlers.reports_submitted(batch) == [None] * 3
    assert await intake.pool.fetchval("SELECT count(*) FROM reports WHERE agency_id = $1", agency) == 3
    assert await jobs_of(intake, agency) == []


async def test_a_batch_of_case_events_links_each_named_report_once(
    evidence: Evidence, intake: Infrastructure, agency: str
) -> None:
    first, other = opened(agency), opened(agency)
    report_id = other.first_report_id

    def updated(change: str, report: UUID | None) -> CaseUpdated:
        return CaseUpdated(
            case_id=first.case_id,
            agency_id=agency,
            updated_at=datetime.now(UTC),
            change=change,  # type: ignore[arg-type]
            state=CaseState.NEW,
            priority=60,
            priority_level=first.priority_level,
            report_count=2,
            reporter_count=1,
            report_id=report,
        )

    # The case's second report, then a state change naming a report it does not attach.
    batch = [wrap(first), wrap(updated("report_attached", report_id)), wrap(other)]
    batch.append(wrap(updated("state_changed", first.first_report_id)))
    batch.append(batch[1])
    for _ in range(2):  # and the whole batch redelivered
        assert await evidence.intake.cases_changed(batch) == [None] * len(batch)
        async with intake.pool.acquire() as conn:
            assert await evidence_repository.reports_of_case(conn, agency, first.case_id) == sorted(
                [first.first_report_id, report_id]
            )
            assert await evidence_repository.reports_of_case(conn, agency, other.case_id) == [report_id]


@contextlib.asynccontextmanager
async def consuming(infra: Infrastructure, subscription: Subscription) -> AsyncIterator[None]:
    """The subscription's durable consumer run by the service's own pull loop, then removed."""
    stream = infra.subjects.stream(subscription.stream)
    await provision(infra.js, infra.subjects, [subscription])
    runner = EventHandlerRunner(infra.js, infra.subjects, subscription)
    stopping = asyncio.Event()
    task = asyncio.create_task(
        PullLoop(infra.js, stream, subscription.durable, runner, capacity=16).run(stopping)
    )
    try:
        yield
    finally:
        stopping.set()
        await task
        await infra.js.delete_consumer(stream, subscription.durable)


class UnreadableFor:
    """The object store, except that one stored file cannot be read (a failed disk sector, an
    object the bucket's policy hides): asking about it fails every time."""

    def __init__(self, store: ObjectStore, sha256: str) -> None:
        self._store = store
        self._sha256 = sha256

    async def put(self, data: bytes, content_type: str = "application/octet-stream") -> Stored:
        return await self._store.put(data, content_type)

    async def get(self, sha256: str) -> bytes:
        return await self._store.get(sha256)

    async def exists(self, sha256: str) -> bool:
        if sha256 == self._sha256:
            raise OSError(5, "Input/output error")
        return await self._store.exists(sha256)

    async def delete(self, sha256: str) -> None:
        await self._store.delete(sha256)


async def test_a_report_whose_evidence_cannot_be_written_is_dead_lettered_alone_and_the_rest_stored(
    intake: Infrastructure, tmp_path: Path, agency: str
) -> None:
    built = Evidence.build(intake.pool, intake.outbox, settings(tmp_path, None))
    sha256 = hashlib.sha256(PHOTO).hexdigest()
    unreadable = EvidenceIntake(intake.pool, UnreadableFor(built.store, sha256), built.preserver)
    handlers = handlers_with(intake, unreadable)
    good = [submission(agency, f"https://www.facebook.com/{agency}/posts/{i}") for i in range(6)]
    poison = submission(agency, "https://www.facebook.com/p/posts/0", photo=sha256)
    for data in (*good[:3], poison, *good[3:]):
        await publish(intake, data)
    (subscription,) = [s for s in handlers.subscriptions() if s.durable == "intake-submissions"]
    subscription = replace(
        subscription,
        durable=f"submissions-{agency}",
        agency=agency,
        max_deliver=2,  # not eight, so the test does not wait out the whole backoff
        backoff=(4,),
    )
    try:
        async with consuming(intake, subscription):
            letters = await eventually(
                lambda: _some(dead_letters(intake, subscription.durable)), what="a dead letter"
            )
            queued = await eventually(
                lambda: _some(_when(jobs_of(intake, agency), lambda found: len(found) == len(good))),
                what="the good reports' jobs",
            )
    finally:
        await built.aclose()
    assert sorted(r for r, _ in queued) == sorted(r.report_id for r in good)
    assert [json.loads(m.data)["report_id"] for m in letters] == [str(poison.report_id)]
    assert letters[0].headers["Pantau-Dead-Reason"].startswith("failed: OSError")
    # Nothing of it half stored: no report without its evidence.
    assert (
        await intake.pool.fetchval("SELECT count(*) FROM reports WHERE report_id = $1", poison.report_id) == 0
    )


async def _some(pending):  # type: ignore[no-untyped-def]
    found = await pending
    return found or None


async def _when(pending, test):  # type: ignore[no-untyped-def]
    found = await pending
    return found if test(found) else None


async def test_a_round_of_unreachable_links_is_put_back_together_each_with_its_own_backoff(
    evidence: Evidence, intake: Infrastructure, agency: str
) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    reports = [report(agency, f"http://127.0.0.1:9/gone/{i}") for i in range(3)]
    await queue(intake, evidence.intake, reports)
    async with intake.pool.acquire() as conn:
        # One of them was tried twice before; another's lease was lost (taken over meanwhile).
        await conn.execute("UPDATE evidence_jobs SET attempts = 1 WHERE report_id = $1", reports[1].report_id)
        leased = [
            job
            for job in await jobs.lease(conn, now=datetime.now(UTC), hold=timedelta(minutes=1), limit=100)
            if job.agency_id == agency
        ]
        lost = next(job for job in leased if job.report_id == reports[2].report_id)
        await conn.execute(
            "UPDATE evidence_jobs SET lease_token = gen_random_uuid() WHERE job_id = $1", lost.job_id
        )
    started = datetime.now(UTC)
    await evidence.preserver.preserve(*leased)
    rows = {
        row["report_id"]: row
        for row in await intake.pool.fetch(
            "SELECT report_id, state, attempts, due_at, last_error, lease_token FROM evidence_jobs"
            " WHERE agency_id = $1",
            agency,
        )
    }
    first, second, taken = (rows[r.report_id] for r in reports)
    for job, attempts in ((first, 1), (second, 2)):
        assert job["state"] == "pending" and job["attempts"] == attempts and job["lease_token"] is None
        assert "127.0.0.1" in job["last_error"]
    # The backoff doubles per attempt: 10 s after the first, 20 s after the second.
    assert started + timedelta(seconds=9) < first["due_at"] < started + timedelta(seconds=15)
    assert started + timedelta(seconds=19) < second["due_at"] < started + timedelta(seconds=25)
    # The job another worker holds now is left to it.
    assert taken["lease_token"] is not None and taken["last_error"] is None


async def test_the_running_worker_takes_new_jobs_when_woken_and_retries_when_due_until_it_gives_up(
    evidence: Evidence, intake: Infrastructure, agency: str
) -> None:
    worker = Preserver(
        intake.pool,
        intake.outbox,
        evidence.store,
        Capturer(evidence._fetcher, None),
        evidence.trust,
        backoff=Backoff(base_s=0.2, attempts=3),
    )
    stopping = asyncio.Event()
    # A long idle look: a new job is taken at once all the same, storing its report wakes the worker.
    task = asyncio.create_task(worker.run(stopping, idle_s=30.0))
    try:
        gone = report(agency, "http://127.0.0.1:9/gone")
        await queue(intake, EvidenceIntake(intake.pool, evidence.store, worker), [gone])
        tried = await eventually(
            lambda: intake.pool.fetchrow(
                "SELECT attempts FROM evidence_jobs WHERE report_id = $1 AND attempts > 0", gone.report_id
            ),
            what="the first attempt",
        )
        assert tried["attempts"] == 1
    finally:
        stopping.set()
        await task
    # Its retries come due 0.2 s and 0.4 s later, and are taken at the next look.
    stopping.clear()
    task = asyncio.create_task(worker.run(stopping, idle_s=0.1))
    try:
        job = await eventually(
            lambda: intake.pool.fetchrow(
                "SELECT state, attempts, last_error FROM evidence_jobs"
                " WHERE report_id = $1 AND state <> 'pending'",
                gone.report_id,
            ),
            what="the job given up",
        )
    finally:
        stopping.set()
        await task
    assert (job["state"], job["attempts"]) == ("failed", 3) and "127.0.0.1" in job["last_error"]
