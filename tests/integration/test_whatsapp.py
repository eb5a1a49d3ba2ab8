"""WhatsApp: notify's Cloud API client and the gateway's webhook checks against a local Meta peer."""

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from pantau_devstack import whatsapp_cloud as meta
from pantau_devstack.servers import free_port
from pantau_devstack.whatsapp_cloud import WhatsAppCloudPeer
from pantau_gateway.whatsapp_webhook import (
    WebhookBatch,
    WebhookError,
    parse_webhook,
    signature_valid,
    verify_handshake,
)
from pantau_shared.whatsapp import (
    OutcomeUnknown,
    PermanentFailure,
    RecipientPacer,
    ReengagementRequired,
    Refused,
    RetryLater,
    TokenBucket,
    TransientFailure,
    WhatsAppClient,
)

TO = "6281234567890"
OTHER = "6285712345678"
APP_SECRET = b"rahasia-aplikasi-meta"
VERIFY_TOKEN = "token-verifikasi-pantau"


@pytest.fixture
async def peer() -> AsyncIterator[WhatsAppCloudPeer]:
    async with WhatsAppCloudPeer() as peer:
        yield peer


def client_for(peer: WhatsAppCloudPeer, **overrides: Any) -> WhatsAppClient:
    options: dict[str, Any] = {
        "api_version": peer.api_version,
        "per_recipient_interval_s": 0.0,
        "timeout_s": 5.0,
    }
    token = overrides.pop("access_token", peer.access_token)
    options.update(overrides)
    return WhatsAppClient(peer.base_url, peer.phone_number_id, token, **options)


@pytest.fixture
async def client(peer: WhatsAppCloudPeer) -> AsyncIterator[WhatsAppClient]:
    async with client_for(peer) as client:
        yield client


# Sending.


async def test_text_goes_out_as_the_documented_request(
    peer: WhatsAppCloudPeer, client: WhatsAppClient
) -> None:
    wamid = await client.send_text(TO, "Laporan baru di Kelurahan Podosugih", reply_to="wamid.ASAL")
    [sent] = peer.sent
    assert wamid == sent.wamid and wamid.startswith("wamid.")
    assert sent.phone_number_id == peer.phone_number_id
    assert sent.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "text",
        "text": {"preview_url": False, "body": "Laporan baru di Kelurahan Podosugih"},
        "context": {"message_id": "wamid.ASAL"},
    }


async def test_template_goes_out_with_language_and_components(
    peer: WhatsAppCloudPeer, client: WhatsAppClient
) -> None:
    components = [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "tinggi"}, {"type": "text", "text": "Politik uang"}],
        }
    ]
    wamid = await client.send_template(TO, "peringatan_kasus", components=components)
    [sent] = peer.sent
    assert wamid == sent.wamid
    assert sent.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "template",
        "template": {"name": "peringatan_kasus", "language": {"code": "id"}, "components": components},
    }


async def test_a_wrong_token_is_a_permanent_failure(peer: WhatsAppCloudPeer) -> None:
    async with client_for(peer, access_token="kedaluwarsa") as client:
        with pytest.raises(PermanentFailure) as caught:
            await client.send_text(TO, "halo")
    assert isinstance(caught.value, Refused) and caught.value.error is not None
    assert (caught.value.error.code, caught.value.error.http_status) == (190, 401)
    assert [r.status for r in peer.received] == [401] and peer.sent == []


async def test_an_invalid_parameter_is_a_permanent_failure(
    peer: WhatsAppCloudPeer, client: WhatsAppClient
) -> None:
    with pytest.raises(Refused) as caught:
        await client.send_text(TO, "x" * 4097)
    assert caught.value.error is not None and caught.value.error.code == 100
    assert "4096" in (caught.value.error.details or "")


async def test_outside_the_window_asks_for_a_template(
    peer: WhatsAppCloudPeer, client: WhatsAppClient
) -> None:
    peer.fail_next(to=TO, code=131047)
    # Only the named recipient is refused; others are unaffected.
    assert await client.send_text(OTHER, "halo")
    with pytest.raises(ReengagementRequired) as caught:
        await client.send_text(TO, "halo")
    assert isinstance(caught.value, PermanentFailure)
    assert await client.send_template(TO, "peringatan_kasus")
    assert [r.to for r in peer.sent] == [OTHER, TO]


@pytest.mark.parametrize("code", [131026, 131030, 368, 100])
async def test_refusals_are_permanent(peer: WhatsAppCloudPeer, client: WhatsAppClient, code: int) -> None:
    peer.fail_next(code=code)
    with pytest.raises(Refused) as caught:
        await client.send_text(TO, "halo")
    assert not isinstance(caught.value, ReengagementRequired)
    assert caught.value.error is not None and caught.value.error.code == code


async def test_throughput_limit_is_transient_with_retry_after(
    peer: WhatsAppCloudPeer, client: WhatsAppClient
) -> None:
    peer.rate_limit(1, retry_after=2)
    peer.rate_limit(1)
    for expected in (2.0, None):
        with pytest.raises(TransientFailure) as caught:
            await client.send_text(TO, "halo")
        assert isinstance(caught.value, RetryLater) and caught.value.retry_after == expected
        assert caught.value.error is not None and caught.value.error.code == 130429
        assert caught.value.error.http_status == 429
    assert await client.send_text(TO, "halo")


@pytest.mark.parametrize("code", [131056, 80007, 4, 17, 32, 613])
async def test_throttling_codes_are_transient(peer: WhatsAppCloudPeer, code: int) -> None:
    async with client_for(peer, per_recipient_interval_s=0.01) as client:
        peer.fail_next(code=code)
        with pytest.raises(RetryLater) as caught:
            await client.send_text(TO, "halo")
    # The pair rate limit says how long to wait even without a header: the pacing interval.
    assert caught.value.retry_after == (0.01 if code == 131056 else None)


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient(
    peer: WhatsAppCloudPeer, client: WhatsAppClient, status: int
) -> None:
    peer.server_error(1, http_status=status)
    with pytest.raises(TransientFailure):
        await client.send_text(TO, "halo")
    assert await client.send_text(TO, "halo")


async def test_a_send_that_times_out_after_going_out_has_an_unknown_outcome(peer: WhatsAppCloudPeer) -> None:
    # The request reached the server: sending again could deliver the message twice.
    peer.stall_next()
    async with client_for(peer, timeout_s=0.2) as client:
        with pytest.raises(OutcomeUnknown, match="timed out"):
            await client.send_text(TO, "halo")


async def test_a_send_that_cannot_connect_is_transient() -> None:
    async with WhatsAppClient(f"http://127.0.0.1:{free_port()}", "1", "t", timeout_s=0.5) as client:
        with pytest.raises(TransientFailure, match="unreachable"):
            await client.send_text(TO, "halo")


# Pacing.


async def test_a_second_message_to_one_recipient_waits_for_the_interval(peer: WhatsAppCloudPeer) -> None:
    interval = 0.2
    async with client_for(peer, per_recipient_interval_s=interval) as client:
        # Open two connections first, so connection set-up does not skew the first arrival.
        await asyncio.gather(
            client.send_text("6280000000001", "pemanasan"), client.send_text("6280000000002", "pemanasan")
        )
        started = time.monotonic()
        await asyncio.gather(
            client.send_text(TO, "pertama"), client.send_text(TO, "kedua"), client.send_text(OTHER, "lain")
        )
    arrivals = {(r.to, r.body["text"]["body"]): r.at for r in peer.sent}
    # The pacer releases the second send no earlier than one interval after the first was due;
    # arrivals can only be later than that, and the first one's transit narrows their gap a little.
    assert arrivals[TO, "kedua"] - started >= interval
    gap = arrivals[TO, "kedua"] - arrivals[TO, "pertama"]
    assert gap >= interval - 0.05, gap
    # Another recipient is not held behind the first.
    assert arrivals[OTHER, "lain"] < arrivals[TO, "kedua"]


async def test_pacer_reserves_consecutive_slots() -> None:
    clock = FakeClock()
    pacer = RecipientPacer(6.0, clock=clock.now, sleep=clock.sleep)
    for _ in range(3):
        await pacer.acquire("+62 812-3456")
    await pacer.acquire("62999")
    assert clock.waits == [6.0, 6.0]  # one more wait each, the other recipient none


async def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(80.0, clock=clock.now, sleep=clock.sleep)
    for _ in range(82):
        await bucket.acquire()
    assert clock.waits == pytest.approx([1 / 80, 1 / 80])


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 9))
        self.t += seconds


# Media.


async def test_media_download_is_checked_against_its_sha256(
    peer: WhatsAppCloudPeer, client: WhatsAppClient
) -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    media_id = peer.add_media(data, "image/jpeg")
    info, downloaded = await client.get_media(media_id)
    assert downloaded == data
    assert (info.id, info.mime_type, info.file_size) == (media_id, "image/jpeg", len(data))
    assert info.url.startswith(peer.base_url)


async def test_a_sha256_mismatch_is_detected(peer: WhatsAppCloudPeer, client: WhatsAppClient) -> None:
    media_id = peer.add_media(b"gambar asli", sha256="0" * 64)
    with pytest.raises(TransientFailure, match="SHA-256"):
        await client.get_media(media_id)
    assert peer.downloads(media_id) == 1


async def test_a_base64_sha256_as_webhooks_carry_it_is_accepted(
    peer: WhatsAppCloudPeer, client: WhatsAppClient
) -> None:
    data = b"suara pelapor"
    media_id = peer.add_media(
        data, "audio/ogg", sha256=base64.b64encode(hashlib.sha256(data).digest()).decode()
    )
    assert (await client.get_media(media_id))[1] == data


async def test_oversized_media_is_refused(peer: WhatsAppCloudPeer) -> None:
    declared = peer.add_media(b"x" * 2000)
    understated = peer.add_media(b"x" * 2000, file_size=10)
    async with client_for(peer, max_media_bytes=1000) as client:
        with pytest.raises(PermanentFailure, match="limit"):
            await client.get_media(declared)
        with pytest.raises(PermanentFailure, match="limit"):
            await client.get_media(understated)
    assert peer.downloads(declared) == 0  # refused on the metadata alone


async def test_unknown_media_is_refused(client: WhatsAppClient) -> None:
    with pytest.raises(Refused) as caught:
        await client.get_media("404404404")
    assert caught.value.error is not None and caught.value.error.code == 100


# Webhooks: a receiver built on the gateway's pure functions, fed by the peer as Meta would.


class Receiver:
    def __init__(self) -> None:
        self.batches: list[WebhookBatch] = []
        self.url = ""

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        challenge = verify_handshake(
            q.get("hub.mode"), q.get("hub.verify_token"), q.get("hub.challenge"), VERIFY_TOKEN
        )
        return web.Response(text=challenge) if challenge else web.Response(status=403)

    async def receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not signature_valid(APP_SECRET, raw, request.headers.get("X-Hub-Signature-256")):
            return web.Response(status=401)
        try:
            self.batches.append(parse_webhook(raw))
        except WebhookError as error:
            return web.Response(status=400, text=str(error))
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_get("/webhook", receiver.verify)
    app.router.add_post("/webhook", receiver.receive)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/webhook"
    yield receiver
    await runner.cleanup()


async def test_subscription_handshake(receiver: Receiver) -> None:
    response, challenge = await meta.verify_subscription(receiver.url, VERIFY_TOKEN)
    assert (response.status_code, response.text) == (200, challenge)
    response, _ = await meta.verify_subscription(receiver.url, "bukan-token-kami")
    assert response.status_code == 403


async def test_signature_accepts_meta_and_rejects_forgeries(receiver: Receiver) -> None:
    payload = meta.text_message(TO, "Serangan fajar besok pagi, amplop 100 ribu")
    assert (await meta.post_webhook(receiver.url, payload, APP_SECRET)).status_code == 200

    tampered = meta.text_message(TO, "Serangan fajar besok pagi, amplop 500 ribu")
    original_signature = meta.sign(APP_SECRET, meta.encode(payload))
    rejected = [
        await meta.post_webhook(receiver.url, tampered, APP_SECRET, signature=original_signature),
        await meta.post_webhook(receiver.url, payload, b"rahasia-lain"),
        await meta.post_webhook(receiver.url, payload, APP_SECRET, signed=False),
    ]
    assert [r.status_code for r in rejected] == [401, 401, 401]
    assert len(receiver.batches) == 1


async def test_realistic_payloads_parse_into_typed_messages_and_statuses(receiver: Receiver) -> None:
    failed_error = meta.error(131026)
    payload = meta.combine(
        meta.text_message(
            TO,
            "Kades ajak warga coblos nomor 2 ✅",
            wamid="wamid.TEKS",
            name="Siti Aminah",
            timestamp=1707700500,
        ),
        meta.text_message(
            TO, "Teruskan ke semua grup!", wamid="wamid.TERUS", forwarded=True, frequently_forwarded=True
        ),
        meta.image_message(
            OTHER,
            "1555000111",
            caption="Baliho di depan sekolah",
            sha256="a" * 64,
            wamid="wamid.FOTO",
            reply_to="wamid.ALERT",
        ),
        meta.status("wamid.KIRIM", "failed", [failed_error], recipient=OTHER),
        meta.status("wamid.KIRIM2", "read"),
        meta.message(TO, "location", {"latitude": -6.89, "longitude": 109.67}, wamid="wamid.LOKASI"),
    )
    assert (await meta.post_webhook(receiver.url, payload, APP_SECRET)).status_code == 200
    [batch] = receiver.batches
    text, forwarded, image, location = batch.messages
    assert (text.wamid, text.type, text.from_phone, text.profile_name) == (
        "wamid.TEKS",
        "text",
        TO,
        "Siti Aminah",
    )
    assert text.text == "Kades ajak warga coblos nomor 2 ✅"
    assert text.timestamp.isoformat() == "2024-02-12T01:15:00+00:00"
    assert text.phone_number_id == meta.PHONE_NUMBER_ID
    assert not text.forwarded and forwarded.forwarded and forwarded.frequently_forwarded
    assert image.type == "image" and image.media is not None
    assert (image.media.id, image.media.mime_type, image.media.caption) == (
        "1555000111",
        "image/jpeg",
        "Baliho di depan sekolah",
    )
    assert image.media.sha256 == "a" * 64 and image.reply_to == "wamid.ALERT"
    assert image.content == "Baliho di depan sekolah"
    assert location.type == "location" and location.location is not None
    assert location.raw["location"] == {"latitude": -6.89, "longitude": 109.67}
    failed, read = batch.statuses
    assert (failed.wamid, failed.status, failed.recipient) == ("wamid.KIRIM", "failed", OTHER)
    [err] = failed.errors
    assert (err.code, err.title, err.details) == (
        131026,
        "Message undeliverable",
        "Unable to deliver message.",
    )
    assert (read.status, read.errors) == ("read", ())


async def test_a_signed_but_malformed_body_is_rejected(receiver: Receiver) -> None:
    response = await meta.post_webhook(receiver.url, {"object": "page", "entry": []}, APP_SECRET)
    assert response.status_code == 400 and "envelope" in response.text
    assert receiver.batches == []
