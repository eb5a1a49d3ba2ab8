"""Our own corpus (tests/corpus) through both channels against real NATS, PostgreSQL and Redis:
WhatsApp deliveries signed into the gateway's webhook, read back from the stream by intake;
mails byte for byte into the SMTP receiver, and the same mails read from a Dovecot IMAP box.
Each input must end as tests/corpus/expected.toml says, and none may be lost (accepted, then
neither stored, ignored with a log line, nor refused with a reason). The tally is printed."""

import json
import logging
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from pantau_devstack import whatsapp_cloud as meta
from pantau_gateway.app import create_app
from pantau_gateway.whatsapp import report_id
from pantau_intake.conversations import Conversations
from pantau_intake.email import ImapPoller, ReportMailHandler, SmtpReceiver
from pantau_intake.email.parse import MailError, parse_mail
from pantau_intake.email.sender_auth import SenderCheck
from pantau_intake.flood import FloodGuard
from pantau_intake.handlers import IntakeHandlers
from pantau_shared.bus import Reject
from pantau_shared.contract import Envelope, EventData, MessageRevoked, ReportSubmitted, decode
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect
from tests.integration.test_channels import APP_SECRET, SETTINGS
from tests.integration.test_email_inbound import Mailbox, raw_smtp
from tests.integration.test_gateway import create_key
from tests.integration.test_services import wrap
from tests.peers.dovecot import Dovecot
from tests.waiting import eventually

CORPUS = Path(__file__).parents[1] / "corpus"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))
MAILBOX = "lapor@bawaslu-pekalongan.go.id"
OUTCOMES = ("stored", "ignored", "refused", "lost")


@dataclass
class Tally:
    """One row per input: its channel, name, whether the channel accepted it, what it became."""

    rows: list[tuple[str, str, bool, str, str]] = field(default_factory=list)

    def add(self, channel: str, name: str, accepted: bool, expected: str, actual: str) -> None:
        self.rows.append((channel, name, accepted, expected, actual))

    def table(self) -> str:
        lines = [f"{'channel':<10}{'inputs':>7}{'accepted':>10}" + "".join(f"{o:>9}" for o in OUTCOMES)]
        for channel in dict.fromkeys(r[0] for r in self.rows):
            rows = [r for r in self.rows if r[0] == channel]
            counts = Counter(r[4] for r in rows)
            lines.append(
                f"{channel:<10}{len(rows):>7}{sum(r[2] for r in rows):>10}"
                + "".join(f"{counts[o]:>9}" for o in OUTCOMES)
            )
        lines.append("")
        lines += [f"{c:<10}{n:<42}{'accepted' if a else 'refused':<10}{act}" for c, n, a, _, act in self.rows]
        return "\n".join(lines)


@pytest.fixture
async def intake(platform: PlatformSettings):
    infra = await connect(platform, "intake")
    flood = FloodGuard(infra.redis, platform.subject_root, daily_limit=50)
    conversations = Conversations(infra.pool, infra.outbox, flood, quiet_s=0.2, longest_s=60)
    handlers = IntakeHandlers(
        infra.pool, infra.outbox, b"test-pepper-0123456789", flood, conversations=conversations
    )
    yield infra, handlers, conversations
    await infra.close()


async def deliver(handlers: IntakeHandlers, envelope: Envelope[EventData], refused: dict[str, str]) -> None:
    """What the intake worker does with one event; a Reject is the dead letter's reason."""
    try:
        if isinstance(envelope.data, MessageRevoked):
            await handlers._revisions.revoked(envelope)
        else:
            await handlers.report_submitted(envelope)
    except Reject as reason:
        refused[str(envelope.data.key())] = str(reason)


async def settle(infra: Any, conversations: Conversations, agency: str) -> None:
    async def all_closed() -> bool:
        await conversations.close_due()
        return not await infra.pool.fetchval(
            "SELECT count(*) FROM conversations WHERE agency_id = $1 AND closed_at IS NULL", agency
        )

    await eventually(all_closed, what="every conversation stored")


async def whatsapp_outcome(infra: Any, agency: str, wamid: str, refused: dict[str, str], logs: str) -> str:
    part = report_id(agency, wamid)
    stored = await infra.pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM reports WHERE report_id = $1)"
        " OR EXISTS (SELECT 1 FROM conversation_parts p JOIN reports r USING (report_id)"
        " WHERE p.part_id = $1)"
        " OR EXISTS (SELECT 1 FROM report_revisions v JOIN reports r USING (report_id)"
        " WHERE v.external_id = $2 AND r.agency_id = $3)",
        part,
        wamid,
        agency,
    )
    if stored:
        return "stored"
    if str(part) in refused:
        return "refused"
    lines = [line for line in logs.splitlines() if wamid in line]
    return "ignored" if any("ignored" in line or "skipped" in line for line in lines) else "lost"


async def test_the_whatsapp_corpus_through_the_gateway_and_intake(
    platform: PlatformSettings,
    agency: str,
    intake: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    infra, handlers, conversations = intake
    submitted = await infra.js.pull_subscribe(
        infra.subjects.event(agency, "report.*"), stream=infra.subjects.stream("REPORTS")
    )
    refused: dict[str, str] = {}
    statuses: dict[str, int] = {}
    expected = EXPECTED["whatsapp"]
    caplog.set_level(logging.INFO)
    with TestClient(create_app(platform, SETTINGS)) as gateway:
        await create_key(platform, agency)  # after the gateway's start-up migrated its tables
        for phase in (1, 2):
            for name, want in expected.items():
                if want.get("phase", 1) != phase:
                    continue
                raw = (CORPUS / "whatsapp" / name).read_bytes()
                headers = {
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": meta.sign(APP_SECRET, raw),
                }
                statuses[name] = gateway.post(
                    f"/webhooks/whatsapp/{agency}", content=raw, headers=headers
                ).status_code
            # Intake reads what the gateway queued, as its consumers do, then the quiet
            # conversations become reports before the next phase's late changes arrive.
            while messages := await _fetch(submitted):
                for message in messages:
                    await deliver(handlers, decode(dict(message.headers or {}), message.data), refused)
                    await message.ack()
            await settle(infra, conversations, agency)

    logs = "\n".join(r.getMessage() for r in caplog.records)
    tally = Tally()
    mismatches = []
    for name, want in expected.items():
        accepted = statuses[name] == 200
        assert statuses[name] == want.get("status", 200), name
        if not accepted:
            tally.add("whatsapp", name, False, "refused", "refused")
        for wamid, outcome in want["messages"].items():
            actual = await whatsapp_outcome(infra, agency, wamid, refused, logs)
            tally.add("whatsapp", f"{name} {wamid.removeprefix('wamid.')}", accepted, outcome, actual)
            if actual != outcome:
                mismatches.append((name, wamid, outcome, actual))
    with capsys.disabled():
        print("\n" + tally.table())
    assert [r for r in tally.rows if r[4] == "lost"] == []
    assert mismatches == []

    # What the outcomes mean in the stored reports.
    reports = await infra.pool.fetch(
        "SELECT report_id, text, region_code, parts, fragments_only, withdrawn_at, location, contacts"
        " FROM reports WHERE agency_id = $1",
        agency,
    )
    by_id = {r["report_id"]: r for r in reports}
    first = by_id[report_id(agency, "wamid.C01")]
    assert first["parts"] == 2 and "Ini fotonya" in first["text"]  # text and photo: one report
    assert "RT 03" in first["text"]  # the late edit is a revision, not a rewrite of the evidence
    place = by_id[report_id(agency, "wamid.C03")]
    assert place["region_code"] == "33.75" and place["withdrawn_at"] is not None  # its card was revoked
    assert json.loads(place["contacts"])[0]["name"] == "Pak Darto (tim sukses)"
    fragments = by_id[report_id(agency, "wamid.C05")]
    assert fragments["fragments_only"] and fragments["parts"] == 3  # sticker, voice note, answer
    flow = by_id[report_id(agency, "wamid.C08")]
    assert "Spanduk paslon" in flow["text"] and not flow["fragments_only"]
    revised = await infra.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.report.revised' ORDER BY id", agency
    )
    assert [json.loads(r["body"])["change"] for r in revised] == ["edited", "withdrawn"]


async def _fetch(subscription: Any) -> list[Any]:
    try:
        return list(await subscription.fetch(100, timeout=1))
    except (TimeoutError, nats.errors.TimeoutError):
        return []


async def test_the_email_corpus_through_the_smtp_receiver_and_intake(
    agency: str, intake: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    infra, handlers, _ = intake
    refused: dict[str, str] = {}
    submitted: dict[str, list[ReportSubmitted]] = {}
    current = ""

    async def submit(report: ReportSubmitted) -> None:
        submitted.setdefault(current, []).append(report)
        await deliver(handlers, wrap(report), refused)

    receiver = SmtpReceiver(
        ReportMailHandler({MAILBOX: agency}, submit, check=SenderCheck(["mx.pantau.test"])),
        host="127.0.0.1",
        port=0,
        max_message_bytes=1_000_000,
    )
    replies: dict[str, bytes] = {}
    caplog.set_level(logging.INFO)
    async with receiver:
        for path in sorted((CORPUS / "email").glob("*.eml")):
            current = path.name
            replies[path.name] = await raw_smtp(receiver.port, path.read_bytes(), MAILBOX)

    tally = Tally()
    mismatches = []
    stored_ids: dict[str, set[Any]] = {}
    for name, want in EXPECTED["email"].items():
        reply = replies[name]
        accepted = reply.startswith(b"250")
        found = []
        for report in submitted.get(name, []):
            found += await infra.pool.fetch(
                "SELECT report_id, text, attachments, sender_auth FROM reports WHERE agency_id = $1"
                " AND external_id IS NOT DISTINCT FROM $2 AND content_digest = $3",
                agency,
                report.external_id,
                report.content_digest(),
            )
        if not accepted:
            actual = "refused"
        elif b"ignored" in reply:
            actual = "ignored"
        elif found and len(found) >= len(submitted.get(name, [])):
            actual = "stored"
        elif any(str(r.report_id) in refused for r in submitted.get(name, [])):
            actual = "refused"
        else:
            actual = "lost"
        tally.add("email", name, accepted, want["outcome"], actual)
        if actual != want["outcome"]:
            mismatches.append((name, want["outcome"], actual, reply))
            continue
        stored_ids[name] = {r["report_id"] for r in found}
        if "text" in want:
            assert want["text"] in (found[0]["text"] or ""), (name, found[0]["text"])
        if "attachment" in want:
            assert want["attachment"] in [a["filename"] for a in json.loads(found[0]["attachments"])], name
        if "sender_auth" in want:
            assert json.loads(found[0]["sender_auth"])["verdict"] == want["sender_auth"], name
        if "same_report_as" in want:
            assert stored_ids[name] == stored_ids[want["same_report_as"]], name
    with capsys.disabled():
        print("\n" + tally.table())
    assert [r for r in tally.rows if r[4] == "lost"] == []
    assert mismatches == []
    # A reused Message-ID with other content is a report of its own, not a silent 250.
    assert stored_ids["07-reused-message-id.eml"].isdisjoint(stored_ids["01-plain-utf8.eml"])
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "korpus-11@mx.google.com" in logs and "korpus-12@mail.gmail.com" in logs  # ignored, said


async def test_the_email_corpus_through_an_imap_mailbox_and_intake(
    dovecot: Dovecot, agency: str, intake: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    infra, handlers, _ = intake
    box = Mailbox(dovecot)
    files = sorted((CORPUS / "email").glob("*.eml"))
    for path in files:
        box.deliver(path.read_bytes())
    refused: dict[str, str] = {}
    rejections: list[str] = []
    check = SenderCheck(["mx.pantau.test"])

    async def submit(report: ReportSubmitted) -> None:
        await deliver(handlers, wrap(report), refused)

    async def rejected(uid: int, reason: str) -> None:
        rejections.append(reason)

    poller = ImapPoller(
        host=dovecot.host,
        port=dovecot.port,
        username=box.user,
        password=box.password,
        agency_id=agency,
        submit=submit,
        rejected=rejected,
        security="plain",
        timeout_s=10,
        check=check,
    )
    result = await poller.poll_once()
    # Every mail in the box was taken or flagged with its reason: none left, none lost.
    assert result.remaining == 0 and result.submitted + result.rejected == len(files)

    tally = Tally()
    reasons = list(rejections)
    for path in files:
        want = EXPECTED["email"][path.name]["outcome"]
        try:
            mail = parse_mail(path.read_bytes(), agency_id=agency, check=check)
        except MailError as error:
            # IMAP cannot answer the sender: the mail is flagged in the box and the reason logged.
            actual = _flagged(reasons, error.reason, "refused")
        else:
            if mail.automated:
                actual = _flagged(reasons, f"automated message: {mail.automated}", "ignored")
            else:
                report = mail.to_report()
                stored = await infra.pool.fetchval(
                    "SELECT count(*) FROM reports WHERE agency_id = $1"
                    " AND external_id IS NOT DISTINCT FROM $2 AND content_digest = $3",
                    agency,
                    report.external_id,
                    report.content_digest(),
                )
                actual = "stored" if stored else "lost"
        tally.add("imap", path.name, True, want, actual)
    with capsys.disabled():
        print("\n" + tally.table())
    assert [(r[1], r[3], r[4]) for r in tally.rows if r[3] != r[4]] == []
    assert reasons == [] and refused == {}


def _flagged(reasons: list[str], reason: str, outcome: str) -> str:
    """`outcome` if the poller flagged a mail for this reason (each flag counts once), else lost."""
    if reason not in reasons:
        return "lost"
    reasons.remove(reason)
    return outcome
