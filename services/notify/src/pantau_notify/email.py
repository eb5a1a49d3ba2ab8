"""Patrol alerts by email: Indonesian templates, proper MIME, and pooled SMTP connections."""

import asyncio
import functools
import html
import io
import re
from datetime import datetime
from email import quoprimime
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import Compat32
from email.utils import formatdate, parseaddr
from importlib import resources
from string import Template
from typing import Any

from pantau_shared.contract import TAXONOMY, Category, PriorityLevel
from pantau_shared.providers import PermanentFailure, TransientFailure
from pantau_shared.regions import local_time
from pantau_shared.wording import (
    PRIORITY_LABELS,
    agency_name,
    channel_label,
    excerpt,
    number,
    platform_label,
    state_label,
    team_label,
)

from .settings import NotifySettings
from .smtp import Dropped, SmtpConnection, SmtpRefused

# Quoted-printable rather than base64: the .eml reads as text in any tool, and a mail client
# shows the same words.
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP
QUOTE_LENGTH = 200


def message_id(delivery_id: str) -> str:
    """Derived from the delivery alone, so a resend after a crash is the same message to every
    mail client (they collapse copies by Message-ID)."""
    return f"<{delivery_id}@pantau.local>"


def boundary_of(delivery_id: str) -> str:
    """A multipart boundary of our own: with none the generator draws a random one and compiles
    a regex per message to check it is absent from the parts (a tenth of a send's CPU). "=_"
    cannot occur in quoted-printable text, so this one never needs the check, and a resend is
    the same bytes."""
    return f"=_{delivery_id}"


class ShortHeadersAsIs(Compat32):
    """compat32 as aiosmtplib writes it, without passing every header through email.header:
    a short ASCII value comes out of Header.encode unchanged, so it is written as it is (most
    headers; the Subject and long values still take the library's folding)."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= (self.max_line_length or 0)
            and "\n" not in value
            and "\r" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


WIRE_POLICY = ShortHeadersAsIs()


# What compat32's generator does to a text body: "From " at a line's start escaped (mbox), and
# every line ending written as its linesep.
FROM_LINE = re.compile(r"^From ", re.MULTILINE)
LINE_ENDINGS = re.compile(r"\r\n|\r|\n")


def wire_bytes(message: Message) -> bytes:
    """The message as sent: what aiosmtplib's send_message flattens, at less CPU."""
    flat = _flat(message)
    if flat is not None:
        return flat
    with io.BytesIO() as buffer:
        BytesGenerator(buffer, policy=WIRE_POLICY).flatten(message)
        return buffer.getvalue()


def _flat(message: Message) -> bytes | None:
    """The generator's output for the shapes notify builds (ASCII text parts, multiparts of them
    with their boundary set), joined directly rather than written line by line through a file,
    which was most of flattening; None for any other shape, which takes the generator."""
    payload = message.get_payload()
    if isinstance(payload, list):
        boundary = message.get_boundary()
        if boundary is None or message.preamble is not None or message.epilogue is not None:
            return None
        parts: list[bytes] = []
        for part in payload:
            flat = _flat(part) if isinstance(part, Message) else None
            if flat is None:
                return None
            parts.append(flat)
        delimiter = f"--{boundary}\n".encode("ascii")
        body = delimiter + (b"\n" + delimiter).join(parts) + f"\n--{boundary}--\n".encode("ascii")
    elif isinstance(payload, str) and payload.isascii():
        body = LINE_ENDINGS.sub("\n", FROM_LINE.sub(">From ", payload)).encode("ascii")
    else:
        return None
    head = b"".join(WIRE_POLICY.fold_binary(name, value) for name, value in message.raw_items())
    return head + b"\n" + body


@functools.cache
def _template(name: str) -> Template:
    return Template(resources.files("pantau_notify").joinpath(f"templates/{name}").read_text("utf-8"))


def text_part(body: str, subtype: str) -> Message:
    """What `MIMEText(body, subtype, UTF8_QP)` builds, header for header and byte for byte, set
    directly: its constructor parses and rewrites the Content-Type parameters and walks the
    charset machinery for every part (a fifth of rendering an alert)."""
    part = Message()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["MIME-Version"] = "1.0"
    part["Content-Transfer-Encoding"] = "quoted-printable"
    # As Charset.body_encode does it: quoted-printable over the UTF-8 bytes.
    part.set_payload(quoprimime.body_encode(body.encode("utf-8").decode("latin-1")))
    return part


def subject_header(text: str) -> str | Header:
    """An ASCII subject as it is (the wire fast path takes it); any other as RFC 2047 words. An
    ASCII one through Header came out encoded word by word, at a tenth of an alert's rendering."""
    return text if text.isascii() else Header(text, "utf-8")


def _alternative(
    name: str, plain: dict[str, Any], markup: dict[str, Any], boundary: str | None = None
) -> MIMEMultipart:
    """Both parts of a template: the plain fields as they are, the HTML ones escaped except the
    ones given as markup."""
    escaped = {k: html.escape(str(v)) for k, v in plain.items()}
    message = MIMEMultipart("alternative", boundary=boundary)
    message.attach(text_part(_template(f"{name}.txt").substitute(plain), "plain"))
    message.attach(text_part(_template(f"{name}.html").substitute(escaped | markup), "html"))
    return message


def category_labels(snapshot: dict[str, Any]) -> str:
    return (
        ", ".join(TAXONOMY[Category(c["category"])].label for c in snapshot.get("categories", []))
        or "belum terklasifikasi"
    )


def render_case_alert(
    snapshot: dict[str, Any],
    *,
    settings: NotifySettings,
    recipient: str,
    delivery_id: str,
    case_url: str,
    template: str = "case_alert",
    ack_url: str | None = None,
    team: str | None = None,
    ack_minutes: int = 0,
) -> Message:
    categories = category_labels(snapshot)
    level = PRIORITY_LABELS[PriorityLevel(snapshot["priority_level"])]
    agency = agency_name(snapshot["agency_id"], settings.agency_names)
    reasons = list(dict.fromkeys(snapshot.get("priority_reasons") or [])) or ["-"]
    if template == "case_escalation":
        audience = f"supervisor {team_label(team)}, {agency}"
    elif team is not None:
        audience = f"petugas jaga {team_label(team)}, {agency}"
    else:
        audience = f"tim patroli {agency}"
    fields = {
        "priority_label": level,
        "priority": snapshot["priority"],
        "case_number": number(snapshot["case_id"]),
        "categories": categories,
        "region": snapshot.get("region_code") or "-",
        "platform": platform_label(snapshot.get("platform")),
        "url": snapshot.get("canonical_url") or "-",
        "opened_local": local_time(
            datetime.fromisoformat(snapshot["opened_at"]), snapshot.get("region_code")
        ),
        "report_count": snapshot["report_count"],
        "reporter_count": snapshot["reporter_count"],
        "source": channel_label(snapshot.get("channel")),
        "summary": excerpt(snapshot.get("summary"), 2 * QUOTE_LENGTH) or "-",
        "reasons": "\n".join(f"- {reason}" for reason in reasons),
        "case_link": case_url,
        "team": team_label(team),
        "ack_minutes": ack_minutes,
        "audience": audience,
        "ack_line": f"Konfirmasi bahwa Anda menangani kasus ini: {ack_url}" if ack_url else "",
    }
    markup = {
        "reasons": "".join(f"<li>{html.escape(reason)}</li>" for reason in reasons),
        "ack_line": (
            f'<p><a href="{html.escape(ack_url)}"><strong>Saya tangani kasus ini</strong></a></p>'
            if ack_url
            else ""
        ),
    }
    # The compat32 MIME classes: the same RFC 5322/2045 output as EmailMessage, at a fraction
    # of the cost of its header registry, which dominated notify's profile.
    message = _alternative(template, fields, markup, boundary_of(delivery_id))
    prefix = "[Pantau] ESKALASI" if template == "case_escalation" else "[Pantau]"
    subject = subject_header(f"{prefix} Prioritas {level}: {categories}")
    message["Subject"] = subject  # type: ignore[assignment]  # compat32 takes a Header
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(delivery_id)
    message["X-Pantau-Case"] = snapshot["case_id"]
    return message


RESOLUTION_LABELS = {
    "violation_handled": "Pelanggaran telah ditindaklanjuti.",
    "taken_down": "Konten telah diturunkan.",
    "not_a_violation": "Setelah diperiksa, konten tidak termasuk pelanggaran.",
    "duplicate": "Laporan digabung dengan kasus lain tentang konten yang sama.",
    "insufficient_evidence": "Bukti belum cukup untuk ditindaklanjuti.",
    "referred_elsewhere": "Laporan diteruskan kepada instansi yang berwenang.",
}


def report_back_text(snapshot: dict[str, Any], name: str | None, settings: NotifySettings) -> str:
    """The same news as the email, as one plain message (for WhatsApp)."""
    fields = _report_back_fields(snapshot, name, settings)
    return _template("report_back.txt").substitute(fields).strip()


def _report_back_fields(
    snapshot: dict[str, Any], name: str | None, settings: NotifySettings
) -> dict[str, Any]:
    return {
        "reporter_name": name or "Pelapor",
        "agency_name": agency_name(snapshot["agency_id"], settings.agency_names),
        "summary": excerpt(snapshot.get("summary"), QUOTE_LENGTH) or "-",
        "state_label": state_label(snapshot.get("state")),
        "resolution_line": _resolution_line(snapshot, settings),
        "case_number": number(snapshot["case_id"]),
    }


def _resolution_line(snapshot: dict[str, Any], settings: NotifySettings) -> str:
    line = RESOLUTION_LABELS.get(snapshot.get("resolution") or "", "")
    partner = RESOLUTION_LABELS.get(snapshot.get("partner_resolution") or "", "")
    if partner:
        # What the agency the case was referred to (Komdigi, the province) did with it.
        line = f"{line}\n{agency_name(snapshot['partner_agency'], settings.agency_names)}: {partner}".strip()
    return line


def render_report_back(
    snapshot: dict[str, Any], *, settings: NotifySettings, recipient: str, name: str | None, delivery_id: str
) -> Message:
    """Tells a reporter what became of their report (no internal details)."""
    fields = _report_back_fields(snapshot, name, settings)
    message = _alternative("report_back", fields, {}, boundary_of(delivery_id))
    subject = subject_header(f"Perkembangan laporan Anda: {fields['state_label']}")
    message["Subject"] = subject  # type: ignore[assignment]  # compat32 takes a Header
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(delivery_id)
    return message


ASK_FOR_TEXT = (
    "Pesan Anda belum berisi keterangan tertulis, jadi belum dapat kami periksa. Mohon balas "
    "dengan penjelasan singkat: apa yang terjadi, di mana, kapan, dan siapa yang terlibat."
)


def receipt_text(number: str, *, fragments_only: bool = False) -> str:
    """The receipt on WhatsApp, in the reporter's chat; a report of a sticker, a voice note or a
    tapped answer alone opens no case, so its receipt asks for the words instead."""
    if fragments_only:
        return f"Terima kasih, pesan Anda sudah kami simpan dengan nomor {number}. {ASK_FOR_TEXT}"
    return (
        f"Terima kasih, laporan Anda sudah kami terima dengan nomor {number}. Petugas akan "
        "memeriksanya, dan kami kabari perkembangannya di sini."
    )


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
        f"Yth. {name or 'Pelapor'},\n\nTerima kasih, laporan Anda kepada "
        f"{agency_name(agency_id, settings.agency_names)} sudah kami terima dengan nomor {number}. "
        "Petugas akan memeriksanya, dan kami kabari perkembangannya lewat email ini.\n\n"
        "Pesan ini dikirim otomatis oleh Pantau."
    )
    message = text_part(text, "plain")
    subject = subject_header(f"Laporan Anda diterima: nomor {number}")
    message["Subject"] = subject  # type: ignore[assignment]  # compat32 takes a Header
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
    """A pool of open SMTP connections, reopened when the server drops them; each message is one
    pipelined group where the server allows it (`smtp.SmtpConnection`)."""

    def __init__(self, settings: NotifySettings) -> None:
        self._settings = settings
        self._from = parseaddr(settings.mail_from)[1]
        self._idle: list[SmtpConnection] = []
        self._slots = asyncio.Semaphore(settings.smtp_connections)

    async def send(self, message: Message) -> str:
        # The envelope from what we know and the bytes flattened once by us.
        content = wire_bytes(message)
        recipient = parseaddr(message["To"])[1]
        async with self._slots:
            connection = self._take()
            try:
                if connection is None:
                    connection = await self._connect()
                try:
                    await connection.send(self._from, recipient, content)
                except Dropped:
                    # Closed while idle, before any reply: nothing was accepted, so a new
                    # connection takes the message now rather than a redelivery later.
                    connection.close()
                    connection = await self._connect()
                    await connection.send(self._from, recipient, content)
            except SmtpRefused as refused:
                if connection is not None:
                    if refused.reusable:
                        self._idle.append(connection)
                    else:
                        connection.close()
                if refused.reply.code >= 500:
                    raise PermanentFailure(str(refused)) from refused
                raise TransientFailure(str(refused)) from refused
            except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as error:
                if connection is not None:
                    connection.close()
                raise TransientFailure(f"{type(error).__name__}: {error}") from error
            self._idle.append(connection)
            return str(message["Message-ID"])

    def _take(self) -> SmtpConnection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable:
                return connection
            connection.close()
        return None

    async def _connect(self) -> SmtpConnection:
        try:
            return await SmtpConnection.open(self._settings)
        except SmtpRefused as refused:
            # A greeting, STARTTLS or login refused is the server's or our configuration's
            # state, not this message's: retried, not given up.
            raise ConnectionError(f"SMTP server refused the session: {refused}") from refused

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().quit()
