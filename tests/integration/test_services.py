"""Each service's handlers against real PostgreSQL and NATS (and a real SMTP server for notify)."""

import asyncio
import json
from datetime import UTC, datetime
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from pantau_devstack.mailsink import MailSink
from pantau_devstack.servers import free_port
from pantau_intake.flood import FloodGuard
from pantau_intake.handlers import IntakeHandlers
from pantau_notify.__main__ import senders
from pantau_notify.handlers import NotifyHandlers
from pantau_notify.repository import add_subscription
from pantau_notify.settings import NotifySettings
from pantau_shared.bus import Reject, RetryLater, RpcClient
from pantau_shared.contract import (
    CaseOpened,
    Category,
    CategoryScore,
    Channel,
    Envelope,
    EventData,
    NotificationView,
    Platform,
    PriorityLevel,
    Reporter,
    ReportReceived,
    ReportSubmitted,
    new_id,
)
from pantau_shared.contract.rpc import CaseQuery, ReportQuery
from pantau_shared.settings import PlatformSettings
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.classify import TriageClassifier
from pantau_triage.election_rules import ElectionRules
from pantau_triage.elections import Calendar
from pantau_triage.handlers import TriageHandlers
from pantau_triage.routing import Router
from tests.conftest import connect
from tests.integration.conftest import LINKS
from tests.waiting import eventually

RULES = ElectionRules(Calendar.load())


def wrap(data: EventData) -> Envelope[EventData]:
    return Envelope(data=data, source="/test", agency_id=data.agency_id)  # type: ignore[attr-defined]


@pytest.fixture
async def intake(platform: PlatformSettings):
    infra = await connect(platform, "intake")
    flood = FloodGuard(infra.redis, platform.subject_root, daily_limit=3)
    yield infra, IntakeHandlers(infra.pool, infra.outbox, b"test-pepper-0123456789", flood)
    await infra.close()


def submitted(agency: str, **fields) -> ReportSubmitted:
    defaults = {
        "report_id": new_id(),
        "agency_id": agency,
        "channel": Channel.EMAIL,
        "submitted_at": datetime.now(UTC),
        "text": "Kades ajak warga coblos nomor 2",
    }
    return ReportSubmitted(**(defaults | fields))


async def test_intake_stores_a_redelivered_submission_once(intake, agency: str) -> None:
    infra, handlers = intake
    report = submitted(agency, url="https://www.facebook.com/watch?v=1&fbclid=x")
    await handlers.report_submitted(wrap(report))
    await handlers.report_submitted(wrap(report))
    rows = await infra.pool.fetch("SELECT canonical_url, platform FROM reports WHERE agency_id=$1", agency)
    assert [tuple(r) for r in rows] == [("https://facebook.com/watch?v=1", "facebook")]
    staged = await infra.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE subject LIKE '%.' || $1 || '.report.received'", agency
    )
    published = await infra.outbox.publish_pending(infra.pool, infra.js)
    assert staged + published >= 1
    view = await handlers.get_report(agency, ReportQuery(report_id=report.report_id))
    assert view.platform is Platform.FACEBOOK


async def test_intake_gives_one_pseudonym_across_channels_and_hides_contacts(intake, agency: str) -> None:
    infra, handlers = intake
    first = submitted(agency, reporter=Reporter(phone="0812-1111-2222", email="siti@example.id"))
    second = submitted(agency, channel=Channel.WHATSAPP, reporter=Reporter(phone="+6281211112222"))
    third = submitted(agency, reporter=Reporter(email="budi@example.id"))
    for report in (first, second, third):
        await handlers.report_submitted(wrap(report))
    ids = [
        (await handlers.get_report(agency, ReportQuery(report_id=r.report_id))).reporter_id
        for r in (first, second, third)
    ]
    assert ids[0] == ids[1] != ids[2]
    stored = await infra.pool.fetchrow("SELECT * FROM reports WHERE report_id = $1", first.report_id)
    assert "0812" not in json.dumps({k: str(v) for k, v in dict(stored).items()})


async def test_a_sender_flooding_a_channel_is_flagged_but_nothing_is_dropped(intake, agency: str) -> None:
    _, handlers = intake
    reports = [
        submitted(
            agency, text=f"Laporan ke-{i} tentang amplop di RT {i}", reporter=Reporter(phone="0899-0000-1111")
        )
        for i in range(5)
    ]
    for report in reports:
        await handlers.report_submitted(wrap(report))
    await handlers.report_submitted(wrap(reports[0]))  # a redelivery is not counted twice
    views = [await handlers.get_report(agency, ReportQuery(report_id=r.report_id)) for r in reports]
    assert [(v.sender_reports_today, v.sender_flagged) for v in views] == [
        (1, False),
        (2, False),
        (3, False),
        (4, True),
        (5, True),
    ]


async def test_intake_stores_a_batch_set_based_and_settles_each_report_by_its_own_outcome(
    intake, agency: str
) -> None:
    infra, handlers = intake
    before = submitted(agency, text="Sudah tersimpan sebelumnya")
    await handlers.report_submitted(wrap(before))
    phone = Reporter(phone="0877-1234-5678", wants_updates=True)
    batch = [
        submitted(agency, text="Amplop di RT 1", reporter=phone),
        submitted(agency, text="Amplop di RT 2", reporter=phone),
        submitted(agency, text="Baliho di jembatan"),
        before,  # redelivered
        submitted("other-agency", text="Agensi lain"),
    ]
    envelopes = [wrap(report) for report in batch]
    envelopes[-1] = Envelope(data=batch[-1], source="/test", agency_id=agency)  # data and envelope differ
    outcomes = await handlers.reports_submitted(envelopes)
    assert outcomes[:4] == [None, None, None, None]
    assert isinstance(outcomes[4], Reject)
    views = [await handlers.get_report(agency, ReportQuery(report_id=r.report_id)) for r in batch[:4]]
    assert views[0].reporter_id == views[1].reporter_id is not None
    assert sorted(v.sender_reports_today or 0 for v in views[:2]) == [1, 2]
    events = await infra.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.report.received' ORDER BY id", agency
    )
    ids = [json.loads(e["body"])["report_id"] for e in events]
    assert ids == [str(r.report_id) for r in (before, *batch[:3])]  # one event per report stored
    assert await handlers.reports_submitted(envelopes[:3]) == [None, None, None]  # the batch again
    assert await infra.pool.fetchval("SELECT count(*) FROM reports WHERE agency_id = $1", agency) == 4


def test_a_report_with_nothing_to_check_is_refused_by_the_contract(agency: str) -> None:
    # Refused where it is built (gateway, webhook, mail), so intake never meets one.
    with pytest.raises(ValidationError, match="teks tidak boleh kosong"):
        submitted(agency, text="  ")
    with pytest.raises(ValidationError, match="teks, tautan, lampiran"):
        submitted(agency, text=None)


@pytest.fixture
async def triage(platform: PlatformSettings):
    infra = await connect(platform, "triage")
    yield (
        infra,
        TriageHandlers(
            infra.pool, infra.outbox, TriageClassifier.packaged(), Router.load(), ClaimRegistry(), RULES
        ),
    )
    await infra.close()


def received(agency: str, **fields) -> ReportReceived:
    now = datetime.now(UTC)
    defaults = {
        "report_id": new_id(),
        "agency_id": agency,
        "channel": Channel.WHATSAPP,
        "submitted_at": now,
        "received_at": now,
        "platform": Platform.UNKNOWN,
        "raw_sha256": "0" * 64,
        "text": "Serangan fajar besok, amplop 50 ribu",
        "content_sha256": None,
        "reporter_id": None,
    }
    return ReportReceived(**(defaults | fields))


async def cases_of(infra, agency: str) -> list:
    return await infra.pool.fetch(
        "SELECT case_id, report_count, reporter_count, categories FROM cases WHERE agency_id = $1"
        " ORDER BY opened_at",
        agency,
    )


async def test_triage_opens_no_case_for_fragments(triage, agency: str) -> None:
    infra, handlers = triage
    await handlers.report_received(wrap(received(agency, text="Ya", fragments_only=True)))
    assert await cases_of(infra, agency) == []


KADES = "Kades Sukamaju ajak warga pilih paslon nomor 2, yang menolak tidak dapat bansos"


async def test_triage_merges_reports_of_one_link_or_one_text_into_cases(triage, agency: str) -> None:
    infra, handlers = triage
    link = "https://facebook.com/groups/1/posts/2"
    reports = [
        received(agency, canonical_url=link, reporter_id="rep_a"),
        received(agency, canonical_url=link, reporter_id="rep_b", text="lain"),
        received(agency, canonical_url=link, reporter_id="rep_a"),
        received(agency, content_sha256="f" * 64, reporter_id="rep_c", text=KADES),
        received(agency, content_sha256="f" * 64, reporter_id="rep_d", text=KADES),
        # Two API reports without a reporter are two people; a flagged flood is nobody new.
        received(agency, content_sha256="e" * 64, text="Jadwal kampanye terbuka"),
        received(agency, content_sha256="e" * 64, text="Jadwal kampanye terbuka"),
        received(
            agency,
            content_sha256="e" * 64,
            text="Jadwal kampanye terbuka",
            reporter_id="rep_flood",
            sender_flagged=True,
            sender_reports_today=80,
        ),
    ]
    for report in reports:
        await handlers.report_received(wrap(report))
    await handlers.report_received(wrap(reports[0]))  # redelivered: no double count
    cases = await cases_of(infra, agency)
    assert [(c["report_count"], c["reporter_count"]) for c in cases] == [(3, 2), (2, 2), (3, 2)]
    assert json.loads(cases[0]["categories"])[0]["category"] == "politik_uang"
    found = await handlers.casework.case_for_report(agency, ReportQuery(report_id=reports[2].report_id))
    assert found.case_id == cases[0]["case_id"]
    view = await handlers.casework.get_case(agency, CaseQuery(case_id=cases[0]["case_id"]))
    assert view.report_count == 3 and view.priority_reasons


async def test_triage_opens_one_case_when_reports_of_one_link_race(triage, agency: str) -> None:
    infra, handlers = triage
    link = f"https://x.com/{agency}/status/1"

    async def handle_with_retries(report: ReportReceived) -> None:
        for _ in range(5):
            try:
                return await handlers.report_received(wrap(report))
            except RetryLater:
                await asyncio.sleep(0.01)
        raise AssertionError("never joined the case")

    await asyncio.gather(*(handle_with_retries(received(agency, canonical_url=link)) for _ in range(12)))
    cases = await cases_of(infra, agency)
    assert [c["report_count"] for c in cases] == [12]


async def test_tenants_cannot_read_each_others_cases(triage, agency: str) -> None:
    _, handlers = triage
    report = received(agency, content_sha256="a" * 64)
    await handlers.report_received(wrap(report))
    query = ReportQuery(report_id=report.report_id)
    found = await handlers.casework.case_for_report(agency, query)
    assert found.case_id is not None
    assert (await handlers.casework.case_for_report("other-agency", query)).case_id is None
    with pytest.raises(Exception, match="tidak ditemukan"):
        await handlers.casework.get_case("other-agency", CaseQuery(case_id=found.case_id))


async def notifications(handlers: NotifyHandlers, agency: str, case_id: UUID) -> list[NotificationView]:
    return (await handlers.list_for_case(agency, CaseQuery(case_id=case_id))).notifications


class RefusingRecipients:
    """An SMTP handler that refuses one mailbox for good, like a real server would."""

    def __init__(self, refused: str) -> None:
        self.refused = refused

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address == self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def opened(agency: str, region: str = "33.75", priority: int = 60) -> CaseOpened:
    return CaseOpened(
        case_id=new_id(),
        agency_id=agency,
        opened_at=datetime.now(UTC),
        first_report_id=new_id(),
        region_code=region,
        platform=Platform.FACEBOOK,
        summary="Amplop 100 ribu",
        priority=priority,
        priority_level=PriorityLevel.HIGH,
        categories=(CategoryScore(category=Category.POLITIK_UANG, score=0.8, reason="uji"),),
    )


async def requested_events(infra, agency: str) -> list[dict]:
    rows = await infra.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.requested'", agency
    )
    return [json.loads(r["body"]) for r in rows]


async def test_notify_alerts_each_matching_subscriber_once(notify, agency: str) -> None:
    infra, handlers, sink = notify
    await add_subscription(
        infra.pool,
        agency_id=agency,
        name="Patroli kota",
        address=f"kota@{agency}.id",
        region_prefix="33.75",
        categories=None,
        min_priority=50,
    )
    await add_subscription(
        infra.pool,
        agency_id=agency,
        name="Patroli Lombok",
        address=f"lombok@{agency}.id",
        region_prefix="52",
        categories=None,
        min_priority=0,
    )
    await add_subscription(
        infra.pool,
        agency_id=agency,
        name="Hanya SARA",
        address=f"sara@{agency}.id",
        region_prefix=None,
        categories=["sara"],
        min_priority=0,
    )
    case = opened(agency)
    await handlers.fanout.case_changed(wrap(case))
    await handlers.fanout.case_changed(wrap(case))  # redelivered
    requests = await requested_events(infra, agency)
    assert len(requests) == 1
    request = NotificationRequestedFrom(requests[0])
    await handlers.delivery.notification_requested(wrap(request))
    await handlers.delivery.notification_requested(wrap(request))  # redelivered after sending
    mails = await eventually(lambda: _mails_to(sink, f"kota@{agency}.id"), what="alert mail")
    assert len(mails) == 1
    assert mails[0]["Subject"] == "[Pantau] Prioritas tinggi: Politik uang"
    listed = await notifications(handlers, agency, case.case_id)
    assert [(n.recipient, n.state, n.attempts) for n in listed] == [(f"kota@{agency}.id", "sent", 1)]


def NotificationRequestedFrom(body: dict):
    from pantau_shared.contract import NotificationRequested

    return NotificationRequested.model_validate(body)


async def _mails_to(sink: MailSink, address: str) -> list | None:
    found = [m for m in sink.messages() if m["To"] == address]
    return found or None


async def test_notify_records_a_refused_mailbox_as_a_permanent_failure(
    platform: PlatformSettings, agency: str
) -> None:
    refused = f"pensiun@{agency}.id"
    port = free_port()
    controller = Controller(RefusingRecipients(refused), hostname="127.0.0.1", port=port)
    controller.start()
    settings = NotifySettings(smtp_port=port)
    infra = await connect(platform, "notify")
    handlers = NotifyHandlers(
        infra.pool, infra.outbox, settings, senders(settings), LINKS, RpcClient(infra.nc, infra.subjects)
    )
    try:
        await add_subscription(
            infra.pool,
            agency_id=agency,
            name="Lama",
            address=refused,
            region_prefix=None,
            categories=None,
            min_priority=0,
        )
        case = opened(agency)
        await handlers.fanout.case_changed(wrap(case))
        request = NotificationRequestedFrom((await requested_events(infra, agency))[0])
        await handlers.delivery.notification_requested(wrap(request))
        listed = await notifications(handlers, agency, case.case_id)
        assert listed[0].state == "failed"
        assert "550" in (listed[0].last_error or "")
        failed = await infra.pool.fetchval(
            "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.failed'", agency
        )
        assert json.loads(failed)["permanent"] is True
    finally:
        await handlers.close()
        await infra.close()
        controller.stop()


async def test_notify_retries_when_the_mail_server_is_down(platform: PlatformSettings, agency: str) -> None:
    settings = NotifySettings(smtp_port=free_port(), smtp_timeout_s=2, max_attempts=2)
    infra = await connect(platform, "notify")
    handlers = NotifyHandlers(
        infra.pool, infra.outbox, settings, senders(settings), LINKS, RpcClient(infra.nc, infra.subjects)
    )
    try:
        await add_subscription(
            infra.pool,
            agency_id=agency,
            name="Kota",
            address=f"kota@{agency}.id",
            region_prefix=None,
            categories=None,
            min_priority=0,
        )
        case = opened(agency)
        await handlers.fanout.case_changed(wrap(case))
        request = NotificationRequestedFrom((await requested_events(infra, agency))[0])
        with pytest.raises(RetryLater):
            await handlers.delivery.notification_requested(wrap(request))
        await handlers.delivery.notification_requested(wrap(request))  # last attempt: recorded as failed
        listed = await notifications(handlers, agency, case.case_id)
        assert (listed[0].state, listed[0].attempts) == ("failed", 2)
    finally:
        await handlers.close()
        await infra.close()
