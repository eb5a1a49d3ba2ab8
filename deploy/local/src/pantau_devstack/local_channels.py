"""The public's channels on one machine: a WhatsApp Cloud API server that prints what Pantau
sends, and commands that send the running platform a WhatsApp message or an email."""

import asyncio
import json
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib

from pantau_shared.contract import stable_id
from pantau_shared.wording import number

from .whatsapp_cloud import Received, WhatsAppCloudPeer, post_webhook, text_message

ACCESS_TOKEN = "dev-whatsapp-access-token"


class LocalWhatsApp:
    """The Cloud API peer, served from its own thread so `pantau-dev up` can stay synchronous."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self._port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="local-whatsapp", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(20):
            raise TimeoutError("the local WhatsApp Cloud API did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with WhatsAppCloudPeer(access_token=ACCESS_TOKEN, port=self._port, on_send=_announce):
            self._ready.set()
            await self._stop.wait()


def _announce(sent: Received) -> None:
    body = sent.body.get("text", {}).get("body") or sent.body.get("template", {}).get("name")
    print(f"[whatsapp] to +{sent.to}: {body}", flush=True)


def _dev(home: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads((home / "dev.json").read_text())
        return found
    except FileNotFoundError:
        raise SystemExit("start the platform first: ./dev run") from None


def send_whatsapp(home: Path, text: str, sender: str, name: str) -> int:
    dev = _dev(home)
    payload = text_message(sender, text, name=name)
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    url = f"http://127.0.0.1:{dev['gateway_port']}/webhooks/whatsapp/bawaslu-3375"
    answer = asyncio.run(post_webhook(url, payload, dev["app_secret"].encode()))
    report_id = stable_id("whatsapp", f"bawaslu-3375:{wamid}")
    # The number the reporter is told in the receipt, then the whole id the API takes.
    print(f"webhook answered {answer.status_code}; report {number(report_id)} (id {report_id})")
    return 0 if answer.status_code == 200 else 1


def send_mail(home: Path, text: str, sender: str, subject: str) -> int:
    dev = _dev(home)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, dev["mailbox"], subject
    # As a mail program would: each mail its own Message-ID and date, so sending the same text
    # twice is two reports, not one taken for a redelivery.
    mail["Message-ID"] = make_msgid(domain="example.id")
    mail["Date"] = formatdate(localtime=True)
    # What the devstack's receiving server would add for a sender that passed DMARC.
    mail["Authentication-Results"] = "mx.pantau.local; dmarc=pass header.from=" + sender.rsplit("@", 1)[
        -1
    ].strip(">")
    mail.set_content(text)
    _, answer = asyncio.run(aiosmtplib.send(mail, hostname="127.0.0.1", port=dev["mail_port"]))
    print(f"mail server answered: {answer}")
    return 0
