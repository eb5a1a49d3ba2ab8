"""Nothing a citizen sends is lost silently: the WhatsApp webhook route and intake's duplicate
checks against real NATS and PostgreSQL, with Meta's payloads from the local Cloud API peer."""

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pantau_devstack import whatsapp_cloud as meta
from pantau_devstack.whatsapp_cloud import WhatsAppCloudPeer
from pantau_gateway.app import create_app
from pantau_gateway.settings import GatewaySettings
from pantau_gateway.whatsapp import report_id
from pantau_intake.conversations import Conversations
from pantau_intake.flood import FloodGuard
from pantau_intake.handlers import IntakeHandlers
from pantau_intake.media import MediaEvidence
from pantau_shared.bus import Reject
from pantau_shared.bus.deadletter import write_dead_letter
from pantau_shared.contract import (
    Attachment,
    Channel,
    Envelope,
    Location,
    Reporter,
    ReportSubmitted,
    stable_id,
)
from pantau_shared.contract.rpc import ReportQuery
from pantau_shared.sealing import DEV_PRIVATE_KEY, Keyring, open_report
from pantau_shared.settings import PlatformSettings
from pantau_shared.whatsapp import WhatsAppClient
from tests.conftest import connect
from tests.integration.test_gateway import issue_key, queued
from tests.integration.test_services import wrap
from tests.waiting import eventually

APP_SECRET = b"rahasia-aplikasi-meta"
SENDER = "6281234567890"
SETTINGS = GatewaySettings(
    default_rate_limit=1000, whatsapp_app_secret=APP_SECRET.decode(), whatsapp_verify_token="token-uji"
)


@pytest.fixture
def gateway(platform: PlatformSettings) -> Iterator[TestClient]:
    with TestClient(create_app(platform, SETTINGS), raise_server_exceptions=False) as client:
        yield client


def post(client: TestClient, agency: str, payload: dict[str, Any]) -> int:
    raw = meta.encode(payload)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(APP_SECRET, raw)}
    return client.post(f"/webhooks/whatsapp/{agency}", content=raw, headers=headers).status_code


def _first(payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


# The webhook route.


def test_a_message_with_errors_is_logged_and_skipped_and_the_rest_is_queued(
    gateway: TestClient, platform: PlatformSettings, agency: str, caplog: pytest.LogCaptureFixture
) -> None:
    issue_key(platform, agency)
    broken = meta.message(SENDER, "unsupported", None)
    _first(broken)["errors"] = [meta.error(131051, title="Message type unknown")]
    text = meta.text_message(SENDER, "Ada pembagian amplop di RT 03 Podosugih")
    with caplog.at_level(logging.WARNING):
        assert post(gateway, agency, meta.combine(broken, text)) == 200
    [report] = queued(platform, agency)
    assert report["text"] == "Ada pembagian amplop di RT 03 Podosugih"
    assert report["report_id"] == str(report_id(agency, _first(text)["id"]))
    assert any("skipped" in r.message and "131051" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("reaction", {"message_id": "wamid.X", "emoji": "👍"}),
        ("system", {"body": "Nomor berganti", "type": "user_changed_number"}),
        ("order", {"catalog_id": "1", "product_items": []}),
        ("unsupported", None),
    ],
)
def test_kinds_with_nothing_to_report_are_ignored_with_a_log_line(
    gateway: TestClient,
    platform: PlatformSettings,
    agency: str,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    content: dict[str, Any] | None,
) -> None:
    issue_key(platform, agency)
    with caplog.at_level(logging.INFO):
        assert post(gateway, agency, meta.message(SENDER, kind, content)) == 200
    assert queued(platform, agency) == []
    assert any(f"WhatsApp {kind}" in r.message and "ignored" in r.message for r in caplog.records)
    assert all(SENDER not in r.getMessage() for r in caplog.records)


def test_places_contacts_and_edits_are_queued_as_structured_content(
    gateway: TestClient, platform: PlatformSettings, agency: str
) -> None:
    issue_key(platform, agency)
    place = meta.message(
        SENDER, "location", {"latitude": -6.8886, "longitude": 109.6753, "name": "Balai RW 05"}
    )
    card = meta.message(SENDER, "contacts", None)
    _first(card)["contacts"] = [{"name": {"formatted_name": "Pak Darto"}, "phones": [{"phone": "0812"}]}]
    edit = meta.message(
        SENDER,
        "edit",
        {"original_message_id": "wamid.ASLI", "message": {"type": "text", "text": {"body": "RT 04"}}},
    )
    assert post(gateway, agency, meta.combine(place, card, edit)) == 200
    by_kind = {r["message_kind"]: r for r in queued(platform, agency)}
    assert by_kind["location"]["location"]["name"] == "Balai RW 05"
    # Contact cards are personal data: on the bus only sealed, opened by intake alone.
    assert "Pak Darto" not in json.dumps(by_kind["contacts"])
    cards = open_report(ReportSubmitted.model_validate(by_kind["contacts"]), Keyring([DEV_PRIVATE_KEY]))
    assert cards.contacts[0].name == "Pak Darto"
    assert (by_kind["edit"]["revises"], by_kind["edit"]["text"]) == ("wamid.ASLI", "RT 04")


# Intake: a content check on every duplicate.


@pytest.fixture
async def intake(platform: PlatformSettings):
    infra = await connect(platform, "intake")
    flood = FloodGuard(infra.redis, platform.subject_root, daily_limit=50)
    yield infra, IntakeHandlers(infra.pool, infra.outbox, b"test-pepper-0123456789", flood)
    await infra.close()


def mail_report(agency: str, text: str, message_id: str = "<dipakai-ulang@example.id>") -> ReportSubmitted:
    return ReportSubmitted(
        report_id=stable_id("email", f"{agency}:{message_id}"),
        agency_id=agency,
        channel=Channel.EMAIL,
        submitted_at=datetime.now(UTC),
        text=text,
        reporter=Reporter(email="rina@example.id"),
        external_id=message_id,
    )


async def stored(infra: Any, agency: str) -> list[Any]:
    return await infra.pool.fetch(
        "SELECT report_id, text, external_id FROM reports WHERE agency_id = $1 ORDER BY received_at", agency
    )


async def test_a_reused_channel_id_with_other_content_is_a_new_report(intake, agency: str) -> None:
    infra, handlers = intake
    first = mail_report(agency, "Amplop di RT 03")
    other = mail_report(agency, "Baliho di jembatan, laporan lain sama sekali")
    assert first.report_id == other.report_id and first.event_id() != other.event_id()
    for report in (first, other, first, other):  # and each delivered twice
        await handlers.report_submitted(wrap(report))
    rows = await stored(infra, agency)
    assert [r["text"] for r in rows] == ["Amplop di RT 03", "Baliho di jembatan, laporan lain sama sekali"]
    assert rows[0]["report_id"] == first.report_id != rows[1]["report_id"]
    assert {r["external_id"] for r in rows} == {"<dipakai-ulang@example.id>"}


async def test_a_refused_submission_replayed_late_is_not_refused_again(
    intake, agency: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, handlers = intake
    misrouted = mail_report(agency, "Amplop di RT 03")
    envelope = Envelope(data=misrouted, source="/test", agency_id="agency-lain")
    with pytest.raises(Reject):
        await handlers.report_submitted(envelope)
    with caplog.at_level(logging.INFO):
        await handlers.report_submitted(envelope)  # past the stream's dedup window: no new dead letter
    assert any("refused before" in r.message for r in caplog.records)


async def test_an_edit_is_a_revision_of_the_original_report(intake, agency: str) -> None:
    infra, handlers = intake
    original = ReportSubmitted(
        report_id=report_id(agency, "wamid.ASLI"),
        agency_id=agency,
        channel=Channel.WHATSAPP,
        submitted_at=datetime.now(UTC),
        text="Amplop di RT 03",
        reporter=Reporter(phone=SENDER),
        external_id="wamid.ASLI",
        message_kind="text",
    )
    edit = original.model_copy(
        update={
            "report_id": report_id(agency, "wamid.EDIT"),
            "external_id": "wamid.EDIT",
            "text": "Koreksi: RT 04",
            "message_kind": "edit",
            "revises": "wamid.ASLI",
        }
    )
    for report in (original, edit, edit):
        await handlers.report_submitted(wrap(report))
    assert [r["report_id"] for r in await stored(infra, agency)] == [original.report_id]
    revisions = await infra.pool.fetch(
        "SELECT external_id, text FROM report_revisions WHERE report_id = $1", original.report_id
    )
    assert [tuple(r) for r in revisions] == [("wamid.EDIT", "Koreksi: RT 04")]


async def test_a_place_alone_is_a_report(intake, agency: str) -> None:
    _, handlers = intake
    place = ReportSubmitted(
        report_id=report_id(agency, "wamid.TEMPAT"),
        agency_id=agency,
        channel=Channel.WHATSAPP,
        submitted_at=datetime.now(UTC),
        location=Location(latitude=-6.89, longitude=109.67, name="Balai RW 05"),
    )
    await handlers.report_submitted(wrap(place))
    view = await handlers.get_report(agency, ReportQuery(report_id=place.report_id))
    assert view.location is not None and view.location.name == "Balai RW 05"
    assert view.region_code == "33.75"  # offline, from the coordinates (Kota Pekalongan)


async def test_a_late_replay_does_not_download_the_media_again(
    platform: PlatformSettings, agency: str
) -> None:
    infra = await connect(platform, "intake")
    async with WhatsAppCloudPeer() as peer:
        media_id = peer.add_media(b"\xff\xd8 foto amplop", "image/jpeg")
        client = WhatsAppClient(peer.base_url, "", peer.access_token, api_version=peer.api_version)
        handlers = IntakeHandlers(
            infra.pool,
            infra.outbox,
            b"test-pepper-0123456789",
            FloodGuard(infra.redis, platform.subject_root, 50),
            media=MediaEvidence(client),
        )
        photo = mail_report(agency, "foto").model_copy(
            update={"channel": Channel.WHATSAPP, "attachments": (Attachment(media_id=media_id),)}
        )
        for _ in range(3):
            await handlers.report_submitted(wrap(photo))
        await handlers.close()
        assert peer.downloads(media_id) == 1
    await infra.close()


async def test_every_dead_letter_leaves_a_log_line(
    platform: PlatformSettings, caplog: pytest.LogCaptureFixture
) -> None:
    infra = await connect(platform, "intake")
    with caplog.at_level(logging.WARNING):
        await write_dead_letter(
            infra.js,
            infra.subjects,
            data=json.dumps({"text": ""}).encode(),
            headers={},
            subject=infra.subjects.event("bawaslu-3375", "report.submitted"),
            stream=infra.subjects.stream("REPORTS"),
            sequence=1,
            consumer="intake-submissions",
            deliveries=1,
            reason="rejected: kosong",
        )
    await infra.close()
    assert any("dead-lettered" in r.message and "kosong" in r.getMessage() for r in caplog.records)


# Conversations, not fragments.


@pytest.fixture
async def chat(platform: PlatformSettings):
    infra = await connect(platform, "intake")
    flood = FloodGuard(infra.redis, platform.subject_root, daily_limit=50)
    conversations = Conversations(infra.pool, infra.outbox, flood, quiet_s=0.3, longest_s=60)
    handlers = IntakeHandlers(
        infra.pool, infra.outbox, b"test-pepper-0123456789", flood, conversations=conversations
    )
    yield infra, handlers, conversations
    await infra.close()


def whatsapp(agency: str, wamid: str, kind: str, sender: str = SENDER, **fields: Any) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=report_id(agency, wamid),
        agency_id=agency,
        channel=Channel.WHATSAPP,
        submitted_at=datetime.now(UTC),
        reporter=Reporter(phone=sender, wants_updates=True),
        external_id=wamid,
        message_kind=kind,
        **fields,
    )


async def closed_reports(infra: Any, conversations: Conversations, agency: str, n: int) -> list[Any]:
    async def probe() -> list[Any] | None:
        await conversations.close_due()
        rows = await infra.pool.fetch(
            "SELECT report_id, text, attachments, location, parts, fragments_only FROM reports"
            " WHERE agency_id = $1 ORDER BY received_at",
            agency,
        )
        return rows if len(rows) >= n else None

    return await eventually(probe, what=f"{n} conversation(s) stored")


async def test_text_then_photo_then_place_is_one_report(chat, agency: str) -> None:
    infra, handlers, conversations = chat
    messages = [
        whatsapp(agency, "wamid.T1", "text", text="Ada pembagian amplop di RT 03"),
        whatsapp(
            agency, "wamid.T2", "image", attachments=(Attachment(media_id="m1", mime_type="image/jpeg"),)
        ),
        whatsapp(agency, "wamid.T3", "location", location=Location(latitude=-6.89, longitude=109.67)),
        whatsapp(
            agency, "wamid.T4", "voice", attachments=(Attachment(media_id="m2", mime_type="audio/ogg"),)
        ),
        whatsapp(
            agency, "wamid.T5", "sticker", attachments=(Attachment(media_id="m3", mime_type="image/webp"),)
        ),
    ]
    edit = whatsapp(agency, "wamid.T6", "edit", text="Ada pembagian amplop di RT 04", revises="wamid.T1")
    # A fetched batch, as the pull loop hands it over, then one at a time, and a redelivery.
    assert await handlers.reports_submitted([wrap(m) for m in messages[:3]]) == [None] * 3
    for message in [*messages[3:], edit, messages[0]]:
        await handlers.report_submitted(wrap(message))
    assert await stored(infra, agency) == []  # nothing is a report until the sender falls quiet
    [report] = await closed_reports(infra, conversations, agency, 1)
    assert report["report_id"] == messages[0].report_id and report["parts"] == 5
    assert report["text"] == "Ada pembagian amplop di RT 04" and not report["fragments_only"]
    assert [a["media_id"] for a in json.loads(report["attachments"])] == ["m1", "m2", "m3"]
    assert json.loads(report["location"])["latitude"] == -6.89
    events = await infra.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE subject LIKE '%.' || $1 || '.report.received'", agency
    )
    published = await infra.outbox.publish_pending(infra.pool, infra.js)
    assert events + published >= 1
    # A late redelivery of a part finds it stored: no second report.
    await handlers.report_submitted(wrap(messages[1]))
    assert len(await closed_reports(infra, conversations, agency, 1)) == 1


async def test_answers_and_stickers_alone_are_kept_but_open_no_case(chat, agency: str) -> None:
    infra, handlers, conversations = chat
    for message in (
        whatsapp(agency, "wamid.A1", "answer", text="Ya"),
        whatsapp(agency, "wamid.A2", "sticker", attachments=(Attachment(media_id="s1"),)),
    ):
        await handlers.report_submitted(wrap(message))
    [report] = await closed_reports(infra, conversations, agency, 1)
    assert report["fragments_only"] and report["parts"] == 2


async def test_two_senders_are_two_conversations(chat, agency: str) -> None:
    infra, handlers, conversations = chat
    await handlers.report_submitted(wrap(whatsapp(agency, "wamid.B1", "text", text="Baliho di jembatan")))
    await handlers.report_submitted(
        wrap(whatsapp(agency, "wamid.B2", "text", sender="6285700001111", text="Kades kampanye"))
    )
    rows = await closed_reports(infra, conversations, agency, 2)
    assert sorted(r["text"] for r in rows) == ["Baliho di jembatan", "Kades kampanye"]
