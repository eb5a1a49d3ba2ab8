"""Patrol alerts by email: Indonesian templates, proper MIME, and pooled SMTP connections."""

import asyncio
import functools
import html
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from importlib import resources
from string import Template
from typing import Any

import aiosmtplib

from pantau_shared.contract import TAXONOMY, Category, PriorityLevel
from pantau_shared.providers import PermanentFailure, TransientFailure
from pantau_shared.regions import local_time

from .settings import NotifySettings

PRIORITY_LABELS = {
    PriorityLevel.LOW: "rendah",
    PriorityLevel.MEDIUM: "sedang",
    PriorityLevel.HIGH: "tinggi",
    PriorityLevel.CRITICAL: "kritis",
}


def message_id(delivery_id: str) -> str:
    """Derived from the delivery alone, so a resend after a crash is the same message to every
    mail client (they collapse copies by Message-ID)."""
    return f"<{delivery_id}@pantau.local>"


@functools.cache
def _template(name: str) -> Template:
    return Template(resources.files("pantau_notify").joinpath(f"templates/{name}").read_text("utf-8"))


def render_case_alert(
    snapshot: dict[str, Any],
    *,
    settings: NotifySettings,
    recipient: str,
    delivery_id: str,
    template: str = "case_alert",
    ack_url: str | None = None,
    team: str = "",
    ack_minutes: int = 0,
) -> Message:
    categories = (
        ", ".join(TAXONOMY[Category(c["category"])].label for c in snapshot["categories"])
        or "belum terklasifikasi"
    )
    level = PRIORITY_LABELS[PriorityLevel(snapshot["priority_level"])]
    fields = {
        "priority_label": level,
        "priority": snapshot["priority"],
        "categories": categories,
        "region": snapshot.get("region_code") or "-",
        "platform": snapshot.get("platform") or "-",
        "url": snapshot.get("canonical_url") or "-",
        "opened_local": local_time(
            datetime.fromisoformat(snapshot["opened_at"]), snapshot.get("region_code")
        ),
        "report_count": snapshot["report_count"],
        "reporter_count": snapshot["reporter_count"],
        "summary": snapshot.get("summary") or "-",
        "reasons": "; ".join(snapshot.get("priority_reasons") or []),
        "case_link": settings.case_link_base + snapshot["case_id"],
        "agency_id": snapshot["agency_id"],
        "team": team,
        "ack_minutes": ack_minutes,
    }
    ack_text = f"Konfirmasi bahwa Anda menangani kasus ini: {ack_url}" if ack_url else ""
    ack_html = (
        f'<p><a href="{html.escape(ack_url)}"><strong>Saya tangani kasus ini</strong></a></p>'
        if ack_url
        else ""
    )
    # The compat32 MIME classes: the same RFC 5322/2045 output as EmailMessage, at a fraction
    # of the cost of its header registry, which dominated notify's profile.
    message = MIMEMultipart("alternative")
    prefix = "[Pantau] ESKALASI" if template == "case_escalation" else "[Pantau]"
    message["Subject"] = Header(f"{prefix} Prioritas {level}: {categories}", "utf-8")
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(delivery_id)
    message["X-Pantau-Case"] = snapshot["case_id"]
    message.attach(
        MIMEText(_template(f"{template}.txt").substitute(fields, ack_line=ack_text), "plain", "utf-8")
    )
    message.attach(
        MIMEText(
            _template(f"{template}.html").substitute(
                {k: html.escape(str(v)) for k, v in fields.items()}, ack_line=ack_html
            ),
            "html",
            "utf-8",
        )
    )
    return message


STATE_LABELS = {
    "new": "diterima",
    "verifying": "sedang diverifikasi",
    "follow_up": "ditindaklanjuti",
    "referred": "diteruskan ke instansi berwenang",
    "takedown_requested": "diajukan penurunan konten",
    "closed": "selesai",
}
RESOLUTION_LABELS = {
    "violation_handled": "Pelanggaran telah ditindaklanjuti.",
    "taken_down": "Konten telah diturunkan.",
    "not_a_violation": "Setelah diperiksa, konten tidak termasuk pelanggaran.",
    "duplicate": "Laporan digabung dengan kasus lain tentang konten yang sama.",
    "insufficient_evidence": "Bukti belum cukup untuk ditindaklanjuti.",
    "referred_elsewhere": "Laporan diteruskan kepada instansi yang berwenang.",
}


def report_back_text(snapshot: dict[str, Any], name: str | None) -> str:
    """The same news as the email, as one plain message (for WhatsApp)."""
    return _template("report_back.txt").substitute(_report_back_fields(snapshot, name)).strip()


def _report_back_fields(snapshot: dict[str, Any], name: str | None) -> dict[str, Any]:
    state = snapshot.get("state", "new")
    return {
        "reporter_name": name or "Pelapor",
        "agency_id": snapshot["agency_id"],
        "summary": (snapshot.get("summary") or "-")[:200],
        "state_label": STATE_LABELS.get(state, state),
        "resolution_line": RESOLUTION_LABELS.get(snapshot.get("resolution") or "", ""),
        "case_id": snapshot["case_id"],
    }


def render_report_back(
    snapshot: dict[str, Any], *, settings: NotifySettings, recipient: str, name: str | None, delivery_id: str
) -> Message:
    """Tells a reporter, who asked for it, what became of their report (no internal details)."""
    fields = _report_back_fields(snapshot, name)
    message = MIMEMultipart("alternative")
    message["Subject"] = Header(f"Perkembangan laporan Anda: {fields['state_label']}", "utf-8")
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(delivery_id)
    message.attach(MIMEText(_template("report_back.txt").substitute(fields), "plain", "utf-8"))
    message.attach(
        MIMEText(
            _template("report_back.html").substitute({k: html.escape(str(v)) for k, v in fields.items()}),
            "html",
            "utf-8",
        )
    )
    return message


def render_receipt(
    *,
    settings: NotifySettings,
    recipient: str,
    name: str | None,
    number: str,
    agency_id: str,
    in_reply_to: str | None,
    delivery_id: str,
) -> Message:
    """The answer to a reporter's mail: their report number, in the same thread."""
    text = (
        f"Yth. {name or 'Pelapor'},\n\nTerima kasih, laporan Anda kepada {agency_id} sudah "
        f"kami terima dengan nomor {number}. Petugas akan memeriksanya, dan kami kabari "
        "perkembangannya lewat email ini.\n\nPesan ini dikirim otomatis oleh Pantau."
    )
    message = MIMEText(text, "plain", "utf-8")
    message["Subject"] = Header(f"Laporan Anda diterima: nomor {number}", "utf-8")
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(delivery_id)
    # Keep the reply in the reporter's thread, and mark it automatic so it is never answered.
    message["Auto-Submitted"] = "auto-replied"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    return message


class SmtpSender:
    """A small pool of open SMTP connections, reopened when the server drops them."""

    def __init__(self, settings: NotifySettings) -> None:
        self._settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._slots = asyncio.Semaphore(settings.smtp_connections)

    async def send(self, message: Message) -> str:
        async with self._slots:
            client = self._idle.get_nowait() if not self._idle.empty() else None
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                await client.send_message(message)
            except aiosmtplib.SMTPRecipientsRefused as refused:
                self._idle.put_nowait(client)  # type: ignore[arg-type]
                codes = [r.code for r in refused.recipients]
                if all(code >= 500 for code in codes):
                    raise PermanentFailure(str(refused)) from refused
                raise TransientFailure(str(refused)) from refused
            except aiosmtplib.SMTPResponseException as response:
                await _close(client)
                if response.code >= 500:
                    raise PermanentFailure(f"{response.code} {response.message}") from response
                raise TransientFailure(f"{response.code} {response.message}") from response
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                await _close(client)
                raise TransientFailure(f"{type(error).__name__}: {error}") from error
            self._idle.put_nowait(client)
            return str(message["Message-ID"])

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            timeout=settings.smtp_timeout_s,
            start_tls=settings.smtp_starttls,
        )
        await client.connect()
        if settings.smtp_username and settings.smtp_password:
            await client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        return client

    async def close(self) -> None:
        while not self._idle.empty():
            await _close(self._idle.get_nowait())


async def _close(client: aiosmtplib.SMTP | None) -> None:
    if client is not None and client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
