"""The four services as separate processes on real servers: what a user of the API sees."""

import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import httpx
import nats
import pytest

from pantau_devstack.mailsink import MailSink
from pantau_devstack.processes import Platform, ServiceProcesses
from pantau_devstack.servers import free_port
from pantau_devstack.whatsapp_cloud import (
    WhatsAppCloudPeer,
    image_message,
    message,
    post_webhook,
    status,
    text_message,
    verify_subscription,
)
from pantau_shared.bus import Publisher, stream_configs
from pantau_shared.contract import Channel, Reporter, ReportSubmitted, Subjects, new_id, stable_id
from pantau_shared.sealing import Keyring, Sealer, new_key_pair, seal_report
from pantau_shared.settings import PlatformSettings
from tests.waiting import eventually

# A module-scoped platform starts inside the first test's time: ten CLI processes and four
# services, each importing for seconds on a slow shared machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

AGENCY, OTHER = "bawaslu-3375", "bawaslu-1771"
PATROL = "patroli@bawaslu-pekalongan.example"


APP_SECRET = b"e2e-whatsapp-app-secret"
REPORT_MAILBOX = "lapor@bawaslu-pekalongan.example"
WA_REGION, WA_MEMBER = "33.76", "6285700011122"
FALLBACK_REGION, FALLBACK_MEMBER = "33.77", "6285700033344"
VERIFY_TOKEN = "e2e-verify-token"
# Reporters' contacts are sealed to intake's keys, mid-rotation: intake holds a new key (first,
# its mail channel seals to it) and the old one the gateway still seals to.
OLD_KEY, OLD_PUBLIC = new_key_pair()
NEW_KEY, _ = new_key_pair()


@dataclass
class Running:
    api: str
    key: str
    other_key: str
    sink: MailSink
    processes: ServiceProcesses
    platform: PlatformSettings
    log: Path
    whatsapp: WhatsAppCloudPeer
    mail_in_port: int


@pytest.fixture(scope="module")
async def running(
    platform: PlatformSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    home = tmp_path_factory.mktemp("e2e")
    sink = MailSink(home / "mail", free_port())
    sink.start()
    peer = WhatsAppCloudPeer(access_token="e2e-token")
    await peer.__aenter__()
    mail_in_port = free_port()
    stack = Platform(
        nats_url=platform.nats_url,
        database_url=platform.database_url,
        redis_url=platform.redis_url,
        smtp_port=sink.port,
        subject_root=platform.subject_root,
        gateway_port=free_port(),
        health_ports={name: free_port() for name in ("intake", "triage", "notify")},
        extra_env={
            "PANTAU_LOG_FORMAT": "text",
            "PANTAU_DRAIN_TIMEOUT_S": "5",
            "PANTAU_GATEWAY_WHATSAPP_APP_SECRET": APP_SECRET.decode(),
            "PANTAU_GATEWAY_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "PANTAU_NOTIFY_WHATSAPP_BASE_URL": peer.base_url,
            "PANTAU_NOTIFY_WHATSAPP_PHONE_NUMBER_ID": peer.phone_number_id,
            "PANTAU_NOTIFY_WHATSAPP_ACCESS_TOKEN": "e2e-token",
            "PANTAU_NOTIFY_WHATSAPP_PER_RECIPIENT_INTERVAL_S": "0.05",
            "PANTAU_INTAKE_WHATSAPP_BASE_URL": peer.base_url,
            "PANTAU_INTAKE_WHATSAPP_ACCESS_TOKEN": "e2e-token",
            "PANTAU_INTAKE_CONVERSATION_WINDOW_S": "1",
            "PANTAU_INTAKE_EMAIL_TRUSTED_AUTHSERV_IDS": '["mx.e2e.test"]',
            "PANTAU_INTAKE_EMAIL_SMTP_ENABLED": "true",
            "PANTAU_INTAKE_EMAIL_SMTP_PORT": str(mail_in_port),
            "PANTAU_INTAKE_EMAIL_RECIPIENTS": json.dumps({REPORT_MAILBOX: AGENCY}),
            "PANTAU_NOTIFY_AGENCY_NAMES": json.dumps({AGENCY: "Bawaslu Kota Pekalongan"}),
            "PANTAU_INTAKE_REPORTER_PRIVATE_KEYS": json.dumps([NEW_KEY, OLD_KEY]),
            "PANTAU_GATEWAY_REPORTER_PUBLIC_KEY": OLD_PUBLIC,
        },
    )
    for service in ("intake", "triage", "notify", "gateway"):
        stack.command(service, "setup")
    for agency, name, region in (
        (AGENCY, "Bawaslu Kota Pekalongan", "33.75"),
        (OTHER, "Bawaslu Kota Bengkulu", "17.71"),
    ):
        stack.command(
            "gateway",
            "create-agency",
            "--id",
            agency,
            "--name",
            name,
            "--kind",
            "bawaslu",
            "--region",
            region,
        )
    key = stack.command("gateway", "add-key", "--agency", AGENCY)
    other_key = stack.command("gateway", "add-key", "--agency", OTHER)
    stack.command(
        "notify",
        "add-subscription",
        "--agency",
        AGENCY,
        "--name",
        "Patroli",
        "--email",
        PATROL,
        "--region",
        "33.75",
    )
    for region, phone in ((WA_REGION, WA_MEMBER), (FALLBACK_REGION, FALLBACK_MEMBER)):
        team = stack.command(
            "notify",
            "add-team",
            "--agency",
            AGENCY,
            "--name",
            f"Tim {region}",
            "--region",
            region,
            "--ack-minutes",
            "30",
        )
        stack.command(
            "notify",
            "add-member",
            "--team-id",
            team,
            "--name",
            f"Jaga {region}",
            "--whatsapp",
            phone,
            "--email",
            f"jaga-{region}@example.id",
            "--shift",
            "* 00:00-00:00",
        )
    log = home / "services.log"
    with open(log, "wb") as output:  # noqa: ASYNC230 - set-up, before any test runs
        processes = ServiceProcesses(stack, stdout=output)
        processes.start()
        try:
            processes.wait_ready(180)
            yield Running(
                api=f"http://127.0.0.1:{stack.gateway_port}",
                key=key,
                other_key=other_key,
                sink=sink,
                processes=processes,
                platform=platform,
                log=log,
                whatsapp=peer,
                mail_in_port=mail_in_port,
            )
        finally:
            codes = processes.stop(timeout_s=20)
            sink.stop()
            await peer.__aexit__(None, None, None)
    # Every service drained and exited cleanly on SIGTERM.
    assert codes == {"intake": 0, "triage": 0, "notify": 0, "gateway": 0}, log.read_text()


@pytest.fixture
async def api(running: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=running.api, headers={"X-API-Key": running.key}, timeout=10
    ) as client:
        yield client


async def report_with_case(api: httpx.AsyncClient, report_id: str) -> dict | None:
    response = await api.get(f"/v1/reports/{report_id}")
    return response.json() if response.status_code == 200 and response.json()["case_id"] else None


REPORT = {
    "text": "Besok pagi serangan fajar di Kelurahan Podosugih, tiap rumah dapat amplop "
    "100 ribu asal coblos nomor 3",
    "url": "https://www.facebook.com/groups/123/posts/456?fbclid=abc",
    "region_code": "33.75",
}


async def test_a_report_becomes_a_case_and_a_patrol_alert(running: Running, api: httpx.AsyncClient) -> None:
    accepted = await api.post("/v1/reports", json=REPORT)
    assert accepted.status_code == 202
    report_id = accepted.json()["report_id"]

    report = await eventually(lambda: report_with_case(api, report_id), what="report triaged")
    assert report["canonical_url"] == "https://facebook.com/groups/123/posts/456"
    assert report["platform"] == "facebook"
    assert len(report["content_sha256"]) == 64

    case = (await api.get(f"/v1/cases/{report['case_id']}")).json()
    assert case["state"] == "new"
    assert case["categories"][0]["category"] == "politik_uang"
    assert case["priority"] > 0 and case["priority_reasons"]

    async def sent() -> list | None:
        listed = (await api.get(f"/v1/cases/{case['case_id']}/notifications")).json()
        return listed if listed and listed[0]["state"] == "sent" else None

    notifications = await eventually(sent, what="alert sent")
    assert [(n["recipient"], n["channel"]) for n in notifications] == [(PATROL, "email")]
    mails = [m for m in running.sink.messages() if m["X-Pantau-Case"] == case["case_id"]]
    assert len(mails) == 1 and mails[0]["Subject"].startswith("[Pantau] Prioritas")
    plain = mails[0].get_body(("plain",)).get_content()
    assert "Politik uang" in plain and "kepada tim patroli Bawaslu Kota Pekalongan." in plain

    # "Buka kasus" opens a page a person reads in a browser, without an API key.
    link = re.search(r"Buka kasus: (\S+)", plain)
    assert link is not None
    async with httpx.AsyncClient() as browser:
        page = await browser.get(link.group(1))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        quoted = f"{case['case_id'][:8]}-{case['case_id'][-4:]}".upper()
        for shown in (f"Kasus {quoted}", "Politik uang", "Podosugih", "Facebook"):
            assert shown in page.text
        tampered = await browser.get(link.group(1)[:-4] + "0000")
        assert tampered.status_code == 403 and "Tautan tidak berlaku" in tampered.text

    # Another agency's key sees none of it.
    async with httpx.AsyncClient(base_url=running.api, headers={"X-API-Key": running.other_key}) as other:
        assert (await other.get(f"/v1/cases/{case['case_id']}")).status_code == 404
        assert (await other.get(f"/v1/reports/{report_id}")).status_code == 404

    # Acknowledged by API: the record names the key that did it, besides the name typed.
    delivery = notifications[0]["delivery_id"]
    acked = await api.post(f"/v1/notifications/{delivery}/ack", json={"actor": "Andi"})
    assert acked.status_code == 200 and acked.json()["acknowledged"] is True
    listed = (await api.get(f"/v1/cases/{case['case_id']}/notifications")).json()
    key_id = running.key.split("_")[1]
    assert (listed[0]["acknowledged_by"], listed[0]["acknowledged_principal"]) == ("Andi", f"key:{key_id}")


async def test_the_same_link_reported_again_joins_the_case(api: httpx.AsyncClient) -> None:
    first = (
        await api.post(
            "/v1/reports",
            json={
                "url": "https://x.com/akun_palsu/status/99?s=20",
                "text": "Hoaks: surat suara sudah dicoblos",
                "reporter": {"email": "warga1@example.id"},
            },
        )
    ).json()["report_id"]
    second = (
        await api.post(
            "/v1/reports",
            json={"url": "https://twitter.com/akun_palsu/status/99", "reporter": {"phone": "081234567890"}},
        )
    ).json()["report_id"]
    one = await eventually(lambda: report_with_case(api, first), what="first triaged")
    two = await eventually(lambda: report_with_case(api, second), what="second triaged")
    assert one["case_id"] == two["case_id"]
    case = (await api.get(f"/v1/cases/{one['case_id']}")).json()
    assert (case["report_count"], case["reporter_count"]) == (2, 2)


async def test_a_malformed_message_is_dead_lettered_and_the_platform_keeps_working(
    running: Running, api: httpx.AsyncClient
) -> None:
    subjects = Subjects(running.platform.subject_root)
    nc = await nats.connect(running.platform.nats_url)
    js = nc.jetstream()
    await js.publish(
        subjects.event(AGENCY, "report.submitted"),
        b'{"report_id": 1}',
        headers={
            "ce-specversion": "1.0",
            "ce-type": "report.submitted.v1",
            "ce-id": "018d9a1e-3c00-7a3b-9c1e-5f2a6b7c8d99",
            "ce-time": "2024-02-12T01:00:00+00:00",
            "ce-agency": AGENCY,
        },
    )
    dead_subject = subjects.dead_letter(subjects.stream("REPORTS"), "intake-submissions")

    async def dead_letter() -> dict | None:
        try:
            message = await js.get_last_msg(subjects.stream("DEADLETTER"), dead_subject)
        except nats.js.errors.NotFoundError:
            return None
        return dict(message.headers or {}, data=message.data)

    record = await eventually(dead_letter, what="dead letter")
    assert record["Pantau-Dead-Reason"].startswith("rejected: invalid report.submitted.v1 data")
    assert json.loads(record["data"]) == {"report_id": 1}
    await nc.close()

    accepted = await api.post("/v1/reports", json={"text": "Kades dukung paslon 2 di grup WA"})
    await eventually(lambda: report_with_case(api, accepted.json()["report_id"]), what="later report triaged")


async def test_claims_workflow_and_history_through_the_api(api: httpx.AsyncClient) -> None:
    claims = await api.post(
        "/v1/claims",
        json={
            "claims": [
                {
                    "claim_id": "komdigi-2024-02-0042",
                    "verdict": "hoaks",
                    "source_url": "https://www.komdigi.go.id/berita/berita-hoaks/detail/surat-suara",
                    "text": "Kotak suara di Kota Pekalongan sudah berisi surat suara tercoblos untuk paslon "
                    "nomor 1 sebelum pemungutan suara",
                    "checked_on": "2024-02-10",
                }
            ]
        },
    )
    assert claims.status_code == 201 and claims.json() == {"imported": 1}
    accepted = await api.post(
        "/v1/reports",
        json={
            "text": "Viral! kotak suara di Kota Pekalongan sudah berisi surat suara tercoblos paslon "
            "nomor 1 sebelum pemungutan suara, sebarkan",
            "region_code": "33.75",
        },
    )
    report = await eventually(
        lambda: report_with_case(api, accepted.json()["report_id"]), what="hoax triaged"
    )
    case_url = f"/v1/cases/{report['case_id']}"
    case = (await api.get(case_url)).json()
    assert case["claims"][0]["claim_id"] == "komdigi-2024-02-0042"
    assert "komdigi" in case["routed_to"]

    refused = await api.post(f"{case_url}/transitions", json={"to": "closed", "actor": "Siti"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "alasan penyelesaian" in refused.json()["detail"]
    moved = await api.post(f"{case_url}/transitions", json={"to": "verifying", "actor": "Siti"})
    assert moved.status_code == 200 and moved.json()["state"] == "verifying"
    taken = await api.post(
        f"{case_url}/transitions",
        json={"to": "takedown_requested", "actor": "Siti", "note": "Diajukan ke Komdigi"},
    )
    assert taken.json()["state"] == "takedown_requested"
    history = (await api.get(f"{case_url}/history")).json()
    assert [h["to_state"] for h in history] == ["new", "verifying", "takedown_requested"]
    assert (
        await api.post(f"{case_url}/transitions", json={"to": "archived", "actor": "x"})
    ).status_code == 422


async def test_reporters_who_asked_hear_what_became_of_their_report(
    running: Running, api: httpx.AsyncClient
) -> None:
    accepted = await api.post(
        "/v1/reports",
        json={
            "text": "ASN Dinas Pendidikan unggah foto kampanye paslon di akun resmi sekolah",
            "url": "https://www.instagram.com/p/ReportBack1/",
            "region_code": "33.75",
            "reporter": {"name": "Dewi", "email": "dewi.pelapor@example.id", "wants_updates": True},
        },
    )
    silent = await api.post(
        "/v1/reports",
        json={
            "url": "https://instagram.com/p/ReportBack1",
            "reporter": {"email": "diam@example.id", "wants_updates": False},
        },
    )
    report = await eventually(lambda: report_with_case(api, accepted.json()["report_id"]), what="triaged")
    await eventually(lambda: report_with_case(api, silent.json()["report_id"]), what="joined")
    moved = await api.post(
        f"/v1/cases/{report['case_id']}/transitions", json={"to": "verifying", "actor": "Siti"}
    )
    assert moved.status_code == 200

    async def told() -> list | None:
        found = [m for m in running.sink.messages() if m["To"] == "dewi.pelapor@example.id"]
        return found or None

    mails = await eventually(told, what="report-back mail")
    assert mails[0]["Subject"] == "Perkembangan laporan Anda: sedang diverifikasi"
    assert "Yth. Dewi" in mails[0].get_body(("plain",)).get_content()
    assert not [m for m in running.sink.messages() if m["To"] == "diam@example.id"]
    listed = (await api.get(f"/v1/cases/{report['case_id']}/notifications")).json()
    backs = {n["state"] for n in listed if n["template"] == "report_back"}
    assert backs == {"sent", "skipped"}
    # The reporter's address is not what notify keeps: only the pseudonym.
    assert all("@example.id" not in n["recipient"] for n in listed if n["template"] == "report_back")


async def test_a_whatsapp_message_becomes_a_report_with_a_receipt_and_news(
    running: Running, api: httpx.AsyncClient
) -> None:
    hook = f"{running.api}/webhooks/whatsapp/{AGENCY}"
    handshake, challenge = await verify_subscription(hook, VERIFY_TOKEN)
    assert handshake.status_code == 200 and handshake.text == challenge
    wrong, _ = await verify_subscription(hook, "not-the-token")
    assert wrong.status_code == 403

    phone = "6281298765432"
    payload = text_message(
        phone,
        "Diteruskan: Kades Podosugih bagi amplop 100 ribu ke warga "
        "yang mau coblos paslon 2, lihat https://fb.com/reel/777",
        forwarded=True,
        name="Pak Slamet",
    )
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    forged = await post_webhook(hook, payload, b"someone-elses-secret")
    assert forged.status_code == 401
    for _ in range(2):  # Meta delivers the same webhook again
        assert (await post_webhook(hook, payload, APP_SECRET)).status_code == 200

    async def receipt() -> list | None:
        found = [r for r in running.whatsapp.received if r.to == phone]
        return found or None

    receipts = await eventually(receipt, what="WhatsApp receipt")
    assert "sudah kami terima dengan nomor" in receipts[0].body["text"]["body"]
    assert receipts[0].body["context"]["message_id"] == wamid
    # One report, one case, one receipt, however often Meta retried.
    report_id = str(stable_id("whatsapp", f"{AGENCY}:{wamid}"))
    report = await eventually(lambda: report_with_case(api, report_id), what="triaged")
    assert (report["channel"], report["forwarded"], report["url"]) == (
        "whatsapp",
        True,
        "https://fb.com/reel/777",
    )
    case = (await api.get(f"/v1/cases/{report['case_id']}")).json()
    assert case["report_count"] == 1 and len(await receipt() or []) == 1

    # The provider later reports the receipt delivered.
    delivered = status(receipts[0].wamid, "delivered", recipient=phone)
    assert (await post_webhook(hook, delivered, APP_SECRET)).status_code == 200

    async def recorded() -> bool:
        conn = await asyncpg.connect(running.platform.database_url)
        try:
            return bool(
                await conn.fetchval(
                    "SELECT delivered_at IS NOT NULL FROM notify.deliveries WHERE provider_message_id = $1",
                    receipts[0].wamid,
                )
            )
        finally:
            await conn.close()

    await eventually(recorded, what="delivery status recorded")

    moved = await api.post(
        f"/v1/cases/{report['case_id']}/transitions", json={"to": "verifying", "actor": "Siti"}
    )
    assert moved.status_code == 200

    async def news() -> list | None:
        found = [
            r
            for r in running.whatsapp.received
            if r.to == phone and "sedang diverifikasi" in r.body.get("text", {}).get("body", "")
        ]
        return found or None

    told = await eventually(news, what="report-back on WhatsApp")
    assert "Pak Slamet" in told[0].body["text"]["body"]


async def test_a_mail_from_the_public_becomes_a_report_with_a_receipt(
    running: Running, api: httpx.AsyncClient
) -> None:
    mail = EmailMessage()
    mail["From"] = "Budi Warga <budi.warga@example.id>"
    mail["To"] = REPORT_MAILBOX
    mail["Subject"] = "Laporan: ajakan rusuh setelah pemungutan suara"
    mail["Message-ID"] = "<e2e-laporan-1@example.id>"
    # As the trusted receiving server stamps it: the sender passed DMARC, so it gets a receipt.
    mail["Authentication-Results"] = (
        "mx.e2e.test; spf=pass smtp.mailfrom=example.id; dmarc=pass header.from=example.id"
    )
    mail.set_content(
        "Selamat siang,\n\nBeredar ajakan untuk menyerbu dan membakar kantor KPU "
        "Kota Pekalongan kalau paslon kalah: https://t.me/s/kanalrusuh/42\n\n"
        "Terima kasih.\nBudi"
    )
    for _ in range(2):  # a sender that did not see our 250 sends again
        answer = await aiosmtplib.send(mail, hostname="127.0.0.1", port=running.mail_in_port)
        assert answer[1].startswith("2.0.0 OK: report")

    report_id = str(stable_id("email", f"{AGENCY}:<e2e-laporan-1@example.id>"))
    report = await eventually(lambda: report_with_case(api, report_id), what="mail triaged")
    assert (report["channel"], report["url"]) == ("email", "https://t.me/s/kanalrusuh/42")
    assert report["reporter_id"] and "budi" not in report["reporter_id"]
    case = (await api.get(f"/v1/cases/{report['case_id']}")).json()
    assert case["report_count"] == 1
    assert "hasutan" in {c["category"] for c in case["categories"]}

    async def receipt() -> list | None:
        found = [m for m in running.sink.messages() if m["To"] == "budi.warga@example.id"]
        return found or None

    receipts = await eventually(receipt, what="receipt mail")
    assert len(receipts) == 1
    number = f"{report_id[:8]}-{report_id[-4:]}".upper()
    assert receipts[0]["Subject"] == f"Laporan Anda diterima: nomor {number}"
    assert receipts[0]["In-Reply-To"] == "<e2e-laporan-1@example.id>"


async def test_a_whatsapp_photo_is_fetched_and_hashed_as_evidence(
    running: Running, api: httpx.AsyncClient
) -> None:
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a JPEG's first bytes and a body
    media_id = running.whatsapp.add_media(photo, "image/jpeg")
    payload = image_message(
        "6281377788899",
        media_id,
        sha256=hashlib.sha256(photo).hexdigest(),
        caption="Foto amplop serangan fajar di RT 3 Podosugih",
    )
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    hook = f"{running.api}/webhooks/whatsapp/{AGENCY}"
    assert (await post_webhook(hook, payload, APP_SECRET)).status_code == 200
    report = await eventually(
        lambda: report_with_case(api, str(stable_id("whatsapp", f"{AGENCY}:{wamid}"))),
        what="photo report triaged",
    )
    assert report["text"] == "Foto amplop serangan fajar di RT 3 Podosugih"
    assert report["attachments"] == [
        {
            "media_id": media_id,
            "mime_type": "image/jpeg",
            "filename": None,
            "sha256": hashlib.sha256(photo).hexdigest(),
            "size": len(photo),
        }
    ]
    assert running.whatsapp.downloads(media_id) == 1


async def test_a_sticker_alone_is_kept_and_its_receipt_asks_for_words(running: Running) -> None:
    sticker = b"RIFF\x00\x00\x00\x00WEBPVP8 stiker"
    media_id = running.whatsapp.add_media(sticker, "image/webp")
    phone = "6281355500011"
    payload = message(phone, "sticker", {"id": media_id, "mime_type": "image/webp", "animated": False})
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert (
        await post_webhook(f"{running.api}/webhooks/whatsapp/{AGENCY}", payload, APP_SECRET)
    ).status_code == 200

    async def receipt() -> list | None:
        return [r for r in running.whatsapp.received if r.to == phone] or None

    [answer] = await eventually(receipt, what="receipt for a sticker")
    body = answer.body["text"]["body"]
    assert "belum berisi keterangan tertulis" in body and "Mohon balas" in body
    assert answer.body["context"]["message_id"] == wamid


async def test_patrol_alerts_on_whatsapp_are_acknowledged_with_the_button(
    running: Running, api: httpx.AsyncClient
) -> None:
    accepted = await api.post(
        "/v1/reports",
        json={
            "text": "Serangan fajar: tim sukses bagi amplop 50 ribu di Desa Sukamaju",
            "region_code": WA_REGION,
        },
    )
    report = await eventually(lambda: report_with_case(api, accepted.json()["report_id"]), what="triaged")

    async def alert() -> list | None:
        # Reports of unknown place from other tests reach this team too: find this case's.
        found = [
            r
            for r in running.whatsapp.received
            if r.to == WA_MEMBER and report["case_id"] in json.dumps(r.body)
        ]
        return found or None

    sent = (await eventually(alert, what="WhatsApp alert"))[0].body
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "pantau_peringatan_kasus"
    button = sent["template"]["components"][1]["parameters"][0]["payload"]
    assert button.startswith("ack:")

    tap = message(WA_MEMBER, "button", {"payload": button, "text": "Saya tangani"}, name="Jaga Kota")
    hook = f"{running.api}/webhooks/whatsapp/{AGENCY}"
    assert (await post_webhook(hook, tap, APP_SECRET)).status_code == 200

    async def acknowledged() -> list | None:
        listed = (await api.get(f"/v1/cases/{report['case_id']}/notifications")).json()
        found = [n for n in listed if n["acknowledged_by"] == "Jaga Kota"]
        return found or None

    (ack,) = await eventually(acknowledged, what="acknowledged from WhatsApp")
    assert (ack["channel"], ack["recipient"], ack["acknowledged_principal"]) == (
        "whatsapp",
        WA_MEMBER,
        "whatsapp",
    )
    # The button press was not taken as a new report.
    case = (await api.get(f"/v1/cases/{report['case_id']}")).json()
    assert case["report_count"] == 1


async def test_an_alert_whatsapp_refuses_goes_to_the_members_email(
    running: Running, api: httpx.AsyncClient
) -> None:
    running.whatsapp.fail_next(code=131026, to=FALLBACK_MEMBER)
    accepted = await api.post(
        "/v1/reports",
        json={"text": "Lurah bagi sembako dengan stiker caleg nomor 4", "region_code": FALLBACK_REGION},
    )
    report = await eventually(lambda: report_with_case(api, accepted.json()["report_id"]), what="triaged")

    async def by_email() -> list | None:
        found = [m for m in running.sink.messages() if m["To"] == f"jaga-{FALLBACK_REGION}@example.id"]
        return found or None

    mails = await eventually(by_email, what="email fallback")
    assert mails[0]["X-Pantau-Case"] == report["case_id"]
    listed = (await api.get(f"/v1/cases/{report['case_id']}/notifications")).json()
    assert [(n["channel"], n["state"]) for n in listed] == [("email", "sent")]

    # The acknowledgement link names the case being confirmed, then confirms it.
    plain = mails[0].get_body(("plain",)).get_content()
    ack = re.search(r"menangani kasus ini: (\S+)", plain)
    assert ack is not None
    async with httpx.AsyncClient() as browser:
        page = await browser.get(ack.group(1))
        assert page.status_code == 200
        quoted = f"{report['case_id'][:8]}-{report['case_id'][-4:]}".upper()
        for shown in (f"Nomor kasus</td><td>{quoted}", "sembako", "Saya tangani"):
            assert shown in page.text
        fields = dict(re.findall(r"name='(\w)' value='([^']*)'", page.text))
        done = await browser.post(ack.group(1).split("?")[0], data={**fields, "actor": "Rina"})
        assert done.status_code == 200 and "dicatat ditangani oleh Rina" in done.text
    listed = (await api.get(f"/v1/cases/{report['case_id']}/notifications")).json()
    assert (listed[0]["acknowledged_by"], listed[0]["acknowledged_principal"]) == ("Rina", "link")


async def raw_messages(js: nats.js.JetStreamContext, stream: str) -> list[tuple[dict[str, str], bytes]]:
    """Every message a stream keeps, read directly by sequence: its headers, and its subject,
    headers and data as stored, in one string of bytes."""
    try:
        state = (await js.stream_info(stream)).state
    except nats.js.errors.NotFoundError:
        return []
    found = []
    if not state.messages:
        return found
    for sequence in range(state.first_seq, state.last_seq + 1):
        try:
            stored = await js.get_msg(stream, sequence)
        except nats.js.errors.NotFoundError:
            continue  # deleted or aged out
        headers = dict(stored.headers or {})
        raw = (stored.subject or "").encode() + json.dumps(headers).encode() + (stored.data or b"")
        found.append((headers, raw))
    return found


async def test_no_contact_crosses_the_bus_in_clear_and_receipts_still_reach_reporters(
    running: Running, api: httpx.AsyncClient
) -> None:
    token = secrets.token_hex(4)
    digits = lambda: "".join(secrets.choice("0123456789") for _ in range(8))  # noqa: E731
    api_reporter = {
        "name": "Larasati Prameswari",
        "email": f"larasati.{token}@example.id",
        "phone": "0813" + digits(),
        "wants_updates": True,
    }
    mail_name, mail_address = "Sekar Ayuningtyas", f"sekar.ayu.{token}@example.id"
    wa_name, wa_phone = "Wulan Kencanawati", "62857" + digits()
    card_name, card_phone = "Sugeng Wiraatmaja", "62819" + digits()
    rogue_name, rogue_address = "Bambang Sutejo", f"bambang.{token}@example.id"

    # By API: the reporter asked to hear back.
    accepted = await api.post(
        "/v1/reports",
        json={
            "text": "Spanduk kampanye dipasang di pagar sekolah dasar saat masa tenang",
            "region_code": "33.75",
            "reporter": api_reporter,
        },
    )
    assert accepted.status_code == 202
    # By email, from a sender the trusted receiving server verified.
    mail = EmailMessage()
    mail["From"] = f"{mail_name} <{mail_address}>"
    mail["To"] = REPORT_MAILBOX
    mail["Subject"] = "Laporan: politik uang menjelang pemungutan suara"
    mail["Message-ID"] = f"<e2e-segel-{token}@example.id>"
    mail["Authentication-Results"] = (
        "mx.e2e.test; spf=pass smtp.mailfrom=example.id; dmarc=pass header.from=example.id"
    )
    mail.set_content("Beredar amplop berisi uang di RW 07 Podosugih untuk memilih paslon 1.")
    answer = await aiosmtplib.send(mail, hostname="127.0.0.1", port=running.mail_in_port)
    assert answer[1].startswith("2.0.0 OK: report")
    # By WhatsApp: a text, then a contact card of the man handing out envelopes.
    hook = f"{running.api}/webhooks/whatsapp/{AGENCY}"
    said = text_message(wa_phone, "Ini orang yang bagi amplop di Podosugih", name=wa_name)
    card = message(wa_phone, "contacts", None, name=wa_name)
    card["entry"][0]["changes"][0]["value"]["messages"][0]["contacts"] = [
        {"name": {"formatted_name": card_name}, "phones": [{"phone": card_phone}]}
    ]
    for payload in (said, card):
        assert (await post_webhook(hook, payload, APP_SECRET)).status_code == 200

    # Receipts and news still reach each of them: intake opened what was sealed and keeps it.
    async def wa_receipt() -> list | None:
        return [r for r in running.whatsapp.received if r.to == wa_phone] or None

    async def mail_receipt() -> list | None:
        return [m for m in running.sink.messages() if m["To"] == mail_address] or None

    assert (
        "sudah kami terima" in (await eventually(wa_receipt, what="WhatsApp receipt"))[0].body["text"]["body"]
    )
    assert len(await eventually(mail_receipt, what="mail receipt")) == 1
    report = await eventually(lambda: report_with_case(api, accepted.json()["report_id"]), what="triaged")
    moved = await api.post(
        f"/v1/cases/{report['case_id']}/transitions", json={"to": "verifying", "actor": "Siti"}
    )
    assert moved.status_code == 200
    api_phone = "62" + api_reporter["phone"][1:]

    async def news() -> list | None:
        by_whatsapp = [r for r in running.whatsapp.received if r.to == api_phone]
        by_mail = [m for m in running.sink.messages() if m["To"] == api_reporter["email"]]
        return by_whatsapp + by_mail or None

    await eventually(news, what="report-back to the API reporter")
    # The card is kept by intake and read through the API: in the text's report, or in a report
    # of its own when the conversation fell quiet between the two (a loaded machine).
    wa_reports = [
        str(
            stable_id(
                "whatsapp", f"{AGENCY}:{payload['entry'][0]['changes'][0]['value']['messages'][0]['id']}"
            )
        )
        for payload in (said, card)
    ]

    async def card_kept() -> list[str] | None:
        names = []
        for report_id in wa_reports:
            answer = await api.get(f"/v1/reports/{report_id}")
            if answer.status_code == 200:
                names += [c["name"] for c in answer.json()["contacts"]]
        return names or None

    assert await eventually(card_kept, what="contact card stored") == [card_name]

    # A submission sealed to a key intake does not hold is dead-lettered, still sealed.
    subjects = Subjects(running.platform.subject_root)
    nc = await nats.connect(running.platform.nats_url)
    js = nc.jetstream()
    stranger = Sealer(new_key_pair()[1])
    rogue = seal_report(
        ReportSubmitted(
            report_id=new_id(),
            agency_id=AGENCY,
            channel=Channel.API,
            submitted_at=datetime.now(UTC),
            text="Laporan yang disegel dengan kunci lain",
            reporter=Reporter(name=rogue_name, email=rogue_address, wants_updates=True),
        ),
        stranger,
    )
    publisher = Publisher(js, subjects, source="/pantau/e2e")
    rogue_envelope = publisher.envelope(rogue, event_id=rogue.event_id())
    await publisher.publish(rogue_envelope)

    async def rogue_dead() -> dict[str, str] | None:
        letters = await raw_messages(js, subjects.stream("DEADLETTER"))
        return next((h for h, _ in letters if h.get("ce-id") == str(rogue_envelope.id)), None)

    dead = await eventually(rogue_dead, what="dead letter of the stranger's submission")
    assert f"sealed to key {stranger.key_id}, which intake does not hold" in dead["Pantau-Dead-Reason"]

    # Now every stream, byte for byte: no address, number or name of these reporters anywhere.
    clear = [
        api_reporter["name"],
        "Prameswari",
        api_reporter["email"],
        f"larasati.{token}",
        api_reporter["phone"][-9:],
        mail_name,
        "Ayuningtyas",
        mail_address,
        f"sekar.ayu.{token}",
        wa_name,
        "Kencanawati",
        wa_phone[-9:],
        card_name,
        "Wiraatmaja",
        card_phone[-9:],
        rogue_name,
        "Sutejo",
        rogue_address,
    ]
    sealed_to: set[str] = set()
    scanned: dict[str, int] = {}
    for config in stream_configs(subjects):
        name = config.name or ""
        for headers, raw in await raw_messages(js, name):
            scanned[name] = scanned.get(name, 0) + 1
            for value in clear:
                assert value.encode() not in raw, (value, name, raw[:400])
            if headers.get("ce-type") == "report.submitted.v1":
                sealed_to.update(re.findall(r'"key_id": ?"([0-9a-f]{16})"', raw.decode()))
    await nc.close()
    assert scanned[subjects.stream("REPORTS")] > 5 and scanned[subjects.stream("DEADLETTER")] >= 1
    # The gateway sealed to the old key, intake's mail channel to the new one: both were opened.
    assert {Sealer(OLD_PUBLIC).key_id, Keyring([NEW_KEY]).sealer().key_id} <= sealed_to
