"""Notification throughput: patrol emails over SMTP and WhatsApp messages through the Cloud API.

Emails go through notify's own path (render the Indonesian alert, send on the pooled SMTP
connections) to a local SMTP server; the baseline is aiosmtplib sending a one-line message on one
connection in the same run. WhatsApp messages go through notify's client (token bucket, pacing
per recipient, error classification) to the local Cloud API peer of the tests; the baseline is
bare httpx POSTs of the same JSON to the same peer.

    python bench/notifications.py [--emails 2000] [--messages 2000]
"""

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage, Message
from pathlib import Path

import aiosmtplib
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pantau_devstack.mailsink import MailSink
from pantau_devstack.servers import free_port
from pantau_devstack.whatsapp_cloud import WhatsAppCloudPeer
from pantau_notify.email import SmtpSender, render_case_alert
from pantau_notify.settings import NotifySettings
from pantau_shared.whatsapp import WhatsAppClient

SNAPSHOT = {
    "case_id": "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91",
    "agency_id": "bawaslu-3375",
    "opened_at": "2024-02-12T01:15:00+00:00",
    "region_code": "33.75",
    "platform": "facebook",
    "canonical_url": "https://facebook.com/groups/1/posts/2",
    "summary": "Amplop 100 ribu",
    "priority": 67,
    "priority_level": "high",
    "priority_reasons": ["Politik uang"],
    "categories": [{"category": "politik_uang", "score": 0.9, "reason": "uji"}],
    "report_count": 3,
    "reporter_count": 2,
}


async def emails(count: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sink = MailSink(Path(tmp), free_port())
        sink.start()
        try:
            settings = NotifySettings(smtp_port=sink.port, smtp_connections=4)
            sender = SmtpSender(settings)
            slots = asyncio.Semaphore(concurrency)

            def alert(i: int) -> Message:
                return render_case_alert(
                    SNAPSHOT,
                    settings=settings,
                    recipient=f"patroli{i % 50}@example.id",
                    delivery_id=f"bench-{i}",
                    case_url="http://127.0.0.1:8080/kasus/bawaslu-5201/1?t=0",
                )

            async def sent_through(send: Callable[[Message], Awaitable[object]]) -> tuple[float, float]:
                """Alerts/s, and CPU ms per alert of this thread only (the sink runs in its own)."""

                async def one(i: int) -> None:
                    async with slots:
                        await send(alert(i))

                start, cpu = time.perf_counter(), time.thread_time()
                await asyncio.gather(*(one(i) for i in range(count)))
                return count / (time.perf_counter() - start), (time.thread_time() - cpu) / count * 1000

            ours, ours_cpu = await sent_through(sender.send)
            await sender.close()

            # The same alerts, harness and number of connections through aiosmtplib's own
            # send_message (which flattens and parses the addresses itself).
            clients: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
            for _ in range(4):
                connected = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port)
                await connected.connect()
                clients.put_nowait(connected)

            async def library_send(message: Message) -> None:
                connected = await clients.get()
                await connected.send_message(message)
                clients.put_nowait(connected)

            _, library_cpu = await sent_through(library_send)
            client = await clients.get()
            while not clients.empty():
                await clients.get_nowait().quit()
            start = time.perf_counter()
            for i in range(count):
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = "a@b", f"c{i}@d", "x"
                message.set_content("x")
                await client.send_message(message)
            baseline = count / (time.perf_counter() - start)
            await client.quit()
        finally:
            sink.stop()
    print(
        f"email: {ours:8.1f} alerts/s rendered and sent (4 pooled connections); baseline "
        f"{baseline:8.1f}/s one-line messages on one connection; ratio {ours / baseline:.2f}"
    )
    print(
        f"email CPU: {ours_cpu:.2f} ms per alert rendered and sent by SmtpSender; the same alerts "
        f"through aiosmtplib's send_message (4 connections) {library_cpu:.2f} ms; "
        f"ratio {ours_cpu / library_cpu:.2f}"
    )


async def whatsapp(count: int, concurrency: int) -> None:
    async with WhatsAppCloudPeer(access_token="bench") as peer:
        client = WhatsAppClient(
            peer.base_url, peer.phone_number_id, "bench", rate_per_s=80.0, per_recipient_interval_s=0.0
        )
        slots = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with slots:
                await client.send_text(f"62812{i:07d}", "Laporan Anda kami terima, nomor 01A2")

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        ours = count / (time.perf_counter() - start)
        await client.aclose()

        url = f"{peer.base_url}/v21.0/{peer.phone_number_id}/messages"
        async with httpx.AsyncClient(headers={"Authorization": "Bearer bench"}) as raw:
            start = time.perf_counter()
            for i in range(count):
                await raw.post(
                    url,
                    json={
                        "messaging_product": "whatsapp",
                        "to": f"62813{i:07d}",
                        "type": "text",
                        "text": {"body": "x"},
                    },
                )
            baseline = count / (time.perf_counter() - start)
    print(
        f"whatsapp: {ours:8.1f} messages/s through the client, held to the configured 80/s per "
        f"number; baseline {baseline:8.1f}/s bare httpx posts; ratio {ours / baseline:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(emails(args.emails, args.concurrency))
    asyncio.run(whatsapp(args.messages, args.concurrency))
