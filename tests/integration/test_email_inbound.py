"""Reports by email against real servers: our SMTP receiver fed by aiosmtplib, and Dovecot IMAP."""

import asyncio
import imaplib
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from pantau_intake.email import ImapPoller, ReportMailHandler, SmtpReceiver
from pantau_intake.email.imap_poller import REJECTED_KEYWORD
from pantau_shared.contract import ReportSubmitted, stable_id
from tests.peers.dovecot import Dovecot
from tests.waiting import eventually

REPORT_ADDRESS = "lapor@bawaslu-pekalongan.go.id"
OTHER_AGENCY_ADDRESS = "pengaduan@bawaslu-jateng.go.id"
AGENCY = "bawaslu-3375"
MAX_MESSAGE_BYTES = 200_000


def report_mail(n: int = 1, *, to: str = REPORT_ADDRESS, body: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Rina Wulandari <rina.w@gmail.com>"
    message["To"] = to
    message["Subject"] = f"Laporan {n}: politik uang"
    message["Message-ID"] = f"<laporan-{n}-{secrets.token_hex(4)}@mail.gmail.com>"
    message["Date"] = "Mon, 12 Feb 2024 10:15:00 +0700"
    message.set_content(
        body or f"Pembagian amplop di RT {n:02d}: https://www.facebook.com/groups/1/posts/{n}"
    )
    return message


class Recorder:
    """A `submit` callback that records reports and can be told to fail or to hold."""

    def __init__(self) -> None:
        self.reports: list[ReportSubmitted] = []
        self.failures = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, report: ReportSubmitted) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("NATS tidak tersedia")
        self.reports.append(report)


# SMTP ---------------------------------------------------------------------------------------------


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[SmtpReceiver, Recorder]]:
    recorder = Recorder()
    handler = ReportMailHandler(
        {REPORT_ADDRESS.upper(): AGENCY, OTHER_AGENCY_ADDRESS: "bawaslu-33"}, recorder
    )
    receiver = SmtpReceiver(handler, host="127.0.0.1", port=0, max_message_bytes=MAX_MESSAGE_BYTES)
    async with receiver:
        yield receiver, recorder


async def send(receiver: SmtpReceiver, message: EmailMessage | bytes, **options: Any) -> Any:
    if isinstance(message, bytes):
        options.setdefault("sender", "rina.w@gmail.com")
        options.setdefault("recipients", [REPORT_ADDRESS])
    return await aiosmtplib.send(message, hostname="127.0.0.1", port=receiver.port, timeout=10, **options)


async def test_accepted_mail_reaches_submit_before_the_250(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    recorder.gate = asyncio.Event()
    message = report_mail()
    sending = asyncio.create_task(send(receiver, message))
    await eventually(lambda: _true(receiver.handler.in_flight), what="submit called")
    await asyncio.sleep(0.2)
    assert not sending.done(), "250 must wait for submit to return"
    recorder.gate.set()
    _, reply = await sending
    (report,) = recorder.reports
    assert report.report_id == stable_id("email", f"{AGENCY}:{message['Message-ID']}")
    assert report.agency_id == AGENCY and str(report.report_id) in reply
    assert report.url == "https://www.facebook.com/groups/1/posts/1"
    assert report.reporter is not None and report.reporter.email == "rina.w@gmail.com"


async def _true(value: object) -> bool:
    return bool(value)


async def test_unknown_recipient_gets_550(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(receiver, report_mail(to="info@bawaslu-pekalongan.go.id"))
    (error,) = refused.value.recipients
    assert error.code == 550 and "5.1.1" in error.message
    assert recorder.reports == []


async def test_failing_submit_answers_451_and_the_retry_succeeds(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    recorder.failures = 1
    message = report_mail()
    with pytest.raises(aiosmtplib.SMTPDataError) as failed:
        await send(receiver, message)
    assert failed.value.code == 451 and "4.3.0" in failed.value.message
    await send(receiver, message)  # what the sending server does next
    assert [r.report_id for r in recorder.reports] == [
        stable_id("email", f"{AGENCY}:{message['Message-ID']}")
    ]


async def test_oversized_mail_is_refused(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    message = report_mail()
    message.add_attachment(b"\x00" * MAX_MESSAGE_BYTES, maintype="video", subtype="mp4", filename="video.mp4")
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(receiver, message)
    assert refused.value.code == 552
    assert recorder.reports == []
    await send(receiver, report_mail())  # the receiver is still fine afterwards
    assert len(recorder.reports) == 1


async def test_unreadable_mail_gets_554(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(receiver, b"\x01\x02 bukan surel sama sekali \xff\r\n")
    assert refused.value.code == 554 and "5.6.0" in refused.value.message
    assert recorder.reports == []


async def test_one_mail_to_two_agencies_is_a_report_for_each(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    message = report_mail()
    errors, reply = await send(receiver, message, recipients=[REPORT_ADDRESS, OTHER_AGENCY_ADDRESS])
    assert errors == {}
    assert [r.agency_id for r in recorder.reports] == [AGENCY, "bawaslu-33"]
    first, second = recorder.reports
    assert first.report_id != second.report_id and first.external_id == second.external_id
    assert str(first.report_id) in reply and str(second.report_id) in reply
    # Sent again to the second agency alone (what a sender refused before would do): the same
    # report id as its first copy, so intake stores it once, not zero times.
    await send(receiver, message, recipients=[OTHER_AGENCY_ADDRESS])
    assert recorder.reports[-1].report_id == second.report_id


async def test_auto_reply_is_accepted_and_dropped(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    message = report_mail()
    message["Auto-Submitted"] = "auto-replied"
    _, reply = await send(receiver, message)
    assert "ignored" in reply and recorder.reports == []


# IMAP ---------------------------------------------------------------------------------------------


class Mailbox:
    """One fresh Dovecot user per test, so tests never see each other's mail."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.user, self.password = f"bawaslu{secrets.token_hex(3)}", "rahasia-" + secrets.token_hex(4)
        server.add_user(self.user, self.password)
        self.recorder = Recorder()
        self.rejections: list[tuple[int, str]] = []

    async def _rejected(self, uid: int, reason: str) -> None:
        self.rejections.append((uid, reason))

    def poller(self, **options: Any) -> ImapPoller:
        return ImapPoller(
            host=self.server.host,
            port=self.server.port,
            username=self.user,
            password=self.password,
            agency_id=AGENCY,
            submit=self.recorder,
            rejected=self._rejected,
            security="plain",
            timeout_s=10,
            **options,
        )

    def deliver(self, message: EmailMessage | bytes) -> None:
        self.server.deliver(self.user, message if isinstance(message, bytes) else message.as_bytes())

    async def flags(self, mailbox: str = "INBOX") -> dict[str, set[str]]:
        return await asyncio.to_thread(self.server.flags, self.user, self.password, mailbox)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    return Mailbox(dovecot)


async def test_poll_submits_unseen_mail_and_marks_it_seen(mailbox: Mailbox) -> None:
    first, second = report_mail(1), report_mail(2)
    mailbox.deliver(first)
    mailbox.deliver(second)
    result = await mailbox.poller().poll_once()
    assert (result.submitted, result.rejected, result.remaining) == (2, 0, 0)
    assert [r.report_id for r in mailbox.recorder.reports] == [
        stable_id("email", f"{AGENCY}:{first['Message-ID']}"),
        stable_id("email", f"{AGENCY}:{second['Message-ID']}"),
    ]
    flags = await mailbox.flags()
    assert all("\\Seen" in flags[m["Message-ID"]] for m in (first, second))
    assert (await mailbox.poller().poll_once()).submitted == 0
    assert len(mailbox.recorder.reports) == 2


async def test_failing_submit_leaves_the_mail_for_the_next_poll(mailbox: Mailbox) -> None:
    message = report_mail()
    mailbox.deliver(message)
    mailbox.recorder.failures = 1
    with pytest.raises(ConnectionError):
        await mailbox.poller().poll_once()
    assert "\\Seen" not in (await mailbox.flags())[message["Message-ID"]]
    assert (await mailbox.poller().poll_once()).submitted == 1
    assert [r.report_id for r in mailbox.recorder.reports] == [
        stable_id("email", f"{AGENCY}:{message['Message-ID']}")
    ]


async def test_death_between_submit_and_marking_resubmits_the_same_report(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.deliver(report_mail())
    poller = mailbox.poller()

    def die(*_: object) -> None:
        raise SystemExit("proses mati")

    monkeypatch.setattr(poller, "_mark_processed", die)
    with pytest.raises(SystemExit):
        await poller.poll_once()
    assert (await mailbox.poller().poll_once()).submitted == 1
    first, again = mailbox.recorder.reports
    assert first.report_id == again.report_id  # a duplicate downstream, never a second report


async def test_unreadable_mail_is_flagged_and_reported_once(mailbox: Mailbox) -> None:
    mailbox.deliver(b"\x00\x01\x02 sampah \xff\xfe\r\n")
    mailbox.deliver(report_mail())
    result = await mailbox.poller().poll_once()
    assert (result.submitted, result.rejected) == (1, 1)
    ((uid, reason),) = mailbox.rejections
    assert uid > 0 and "not an email" in reason
    flags = await mailbox.flags()
    (rejected_flags,) = [f for key, f in flags.items() if key.startswith("uid:")]
    assert REJECTED_KEYWORD in rejected_flags and "\\Seen" not in rejected_flags
    assert (await mailbox.poller().poll_once()).rejected == 0
    assert len(mailbox.rejections) == 1


async def test_twenty_mails_are_each_submitted_exactly_once(mailbox: Mailbox) -> None:
    messages = [report_mail(n) for n in range(20)]
    for message in messages:
        mailbox.deliver(message)
    stopping = asyncio.Event()
    # Batches of 7: `run` polls again at once while mail remains, then waits on the event.
    running = asyncio.create_task(mailbox.poller(batch_size=7).run(stopping, interval_s=60))
    await eventually(lambda: _true(len(mailbox.recorder.reports) >= 20), what="20 reports")
    stopping.set()
    await asyncio.wait_for(running, 10)
    counts = Counter(r.report_id for r in mailbox.recorder.reports)
    assert set(counts) == {stable_id("email", f"{AGENCY}:{m['Message-ID']}") for m in messages}
    assert set(counts.values()) == {1}
    assert all("\\Seen" in f for f in (await mailbox.flags()).values())


async def test_processed_mail_moves_to_the_configured_folder(mailbox: Mailbox) -> None:
    message = report_mail()
    mailbox.deliver(message)
    assert (await mailbox.poller(processed_folder="Pantau Diproses").poll_once()).submitted == 1
    assert await mailbox.flags() == {}
    moved = await mailbox.flags("Pantau Diproses")
    assert "\\Seen" in moved[message["Message-ID"]]


async def test_wrong_password_fails_the_poll_not_the_loop(mailbox: Mailbox) -> None:
    poller = ImapPoller(
        host=mailbox.server.host,
        port=mailbox.server.port,
        username=mailbox.user,
        password="salah",
        agency_id=AGENCY,
        submit=mailbox.recorder,
        security="plain",
        timeout_s=10,
    )
    with pytest.raises(imaplib.IMAP4.error):
        await poller.poll_once()
    assert mailbox.recorder.reports == []


async def test_run_survives_failed_polls_and_stops_on_the_event(mailbox: Mailbox) -> None:
    # A server that hangs up on every connection: each poll fails, and each attempt is counted.
    attempts = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    failing = ImapPoller(
        host="127.0.0.1",
        port=port,
        username=mailbox.user,
        password=mailbox.password,
        agency_id=AGENCY,
        submit=mailbox.recorder,
        security="plain",
        timeout_s=2,
    )
    stopping = asyncio.Event()
    running = asyncio.create_task(failing.run(stopping, interval_s=0.05))
    try:
        await eventually(lambda: _true(attempts >= 3), what="several failed polls")
        assert not running.done()
        stopping.set()
        await asyncio.wait_for(running, 5)
    finally:
        server.close()
        await server.wait_closed()


async def raw_smtp(port: int, data: bytes, recipient: str = REPORT_ADDRESS) -> bytes:
    """A relay that passes the mail on byte for byte, bare LF line ends included."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def say(line: bytes) -> bytes:
        writer.write(line)
        await writer.drain()
        reply = b""
        while True:
            chunk = await asyncio.wait_for(reader.readline(), 10)
            reply += chunk
            if chunk[3:4] != b"-":
                return reply

    await asyncio.wait_for(reader.readline(), 10)
    for command in (b"EHLO relay.example.id\r\n", b"MAIL FROM:<rina.w@gmail.com>\r\n"):
        await say(command)
    await say(b"RCPT TO:<" + recipient.encode() + b">\r\n")
    await say(b"DATA\r\n")
    reply = await say(data + b"\r\n.\r\n")
    writer.close()
    return reply


async def test_bare_lf_mail_with_long_lines_is_accepted(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    long_line = ("Pembagian amplop di RT 03 oleh tim sukses. " * 40).strip()
    assert len(long_line) > 1000
    message = (
        "From: Rina <rina.w@gmail.com>\nTo: lapor@bawaslu-pekalongan.go.id\nSubject: Laporan panjang\n"
        "Message-ID: <lf-panjang@example.id>\n\n" + long_line + "\nBaris kedua.\n"
    ).encode()
    reply = await raw_smtp(receiver.port, message)
    assert reply.startswith(b"250"), reply
    (report,) = recorder.reports
    assert report.text is not None and long_line in report.text


async def test_a_bounce_is_not_a_report(smtp: tuple[SmtpReceiver, Recorder]) -> None:
    receiver, recorder = smtp
    bounce = report_mail()
    bounce.replace_header("From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>")
    bounce.replace_header("Subject", "Delivery Status Notification (Failure)")
    _, reply = await send(receiver, bounce)
    assert "ignored" in reply and recorder.reports == []
