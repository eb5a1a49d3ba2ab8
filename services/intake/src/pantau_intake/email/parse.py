"""One inbound mail to one report: headers, readable body, links and attachment evidence.

Pure: no I/O. A mail that is merely odd (wrong charset, truncated multipart, broken headers) gives
a best-effort `ParsedMail`; one with nothing to report gives `MailError`, never another exception.
"""

import email
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime

from pantau_shared.contract import Attachment, Channel, Reporter, ReportSubmitted, SenderAuth, stable_id
from pantau_shared.contract.fields import is_public_url

from .body import clean, decode_bytes, html_to_text, links_in, strip_history, tidy
from .recovery import (
    BROKEN_NOTE,
    ORIGINAL_NAME,
    original_digest,
    readable_lines,
    undecoded,
    with_real_boundary,
    zip_members,
)
from .sender_auth import SenderCheck

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_TEXT_CHARS = 20_000
_MSG_ID = re.compile(r"<\s*([^<>\s]+)\s*>")
_BARE_ID = re.compile(r"^[^<>\s]+@[^<>\s]+$")
_MIME_LEFTOVER = re.compile(r"^(--\S+|content-[\w-]+:.*|mime-version:.*)$", re.IGNORECASE)
_BOUNCER = re.compile(r"mailer-daemon|postmaster|mail delivery (subsystem|system)")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed)|returned mail|failure notice"
    r"|mail delivery failed|tidak terkirim|gagal (terkirim|dikirim)",
    re.IGNORECASE,
)
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})
_MAX_DEPTH = 10  # nested multiparts; deeper is an attack, not a report


class MailError(ValueError):
    """The mail cannot become a report; `reason` says why (in protocol English, for logs/SMTP)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MailAttachment:
    filename: str | None
    content_type: str
    size: int
    # None when the file went over the size limit: it is listed, not kept as evidence.
    sha256: str | None
    too_large: bool = False
    inline: bool = False
    # The file itself (None over the size limit, or a zip member): kept in the object store.
    data: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    agency_id: str
    message_id: str
    from_name: str | None
    from_address: str | None
    subject: str
    date: datetime | None
    received_at: datetime
    in_reply_to: str | None
    references: tuple[str, ...]
    body: str
    links: tuple[str, ...]
    attachments: tuple[MailAttachment, ...]
    forwarded: bool
    # Why this is an auto-reply or a bounce (RFC 3834, RFC 3464), not a person's report; else None.
    automated: str | None
    # Whether the From address could be verified (SPF/DKIM/DMARC); None when nobody checked.
    sender_auth: SenderAuth | None = None

    @property
    def files(self) -> tuple[bytes, ...]:
        """The attachments' bytes that are kept as evidence (those within the size limit)."""
        return tuple(a.data for a in self.attachments if a.data is not None)

    @property
    def text(self) -> str:
        return "\n\n".join(part for part in (self.subject, self.body) if part).strip()[:MAX_TEXT_CHARS]

    def to_report(self) -> ReportSubmitted:
        reporter = Reporter.lenient(name=self.from_name, email=self.from_address, wants_updates=True)
        return ReportSubmitted(
            # Per agency: one mail to two agencies is two reports, neither hiding the other.
            report_id=stable_id("email", f"{self.agency_id}:{self.message_id}"),
            agency_id=self.agency_id,
            channel=Channel.EMAIL,
            submitted_at=self._submitted_at(),
            text=self.text or None,
            url=next((link for link in self.links if is_public_url(link)), None),
            reporter=reporter,
            external_id=self.message_id,
            forwarded=self.forwarded,
            sender_auth=self.sender_auth,
            attachments=tuple(
                Attachment(filename=a.filename, mime_type=a.content_type, sha256=a.sha256, size=a.size)
                for a in self.attachments
            ),
        )

    def _submitted_at(self) -> datetime:
        # The Date header is the sender's clock: trusted only when it is plausible.
        if self.date and self.received_at - timedelta(days=366) <= self.date <= self.received_at + timedelta(
            hours=1
        ):
            return self.date
        return self.received_at


def parse_mail(
    raw: bytes,
    *,
    agency_id: str,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    received_at: datetime | None = None,
    check: SenderCheck | None = None,
) -> ParsedMail:
    if not raw or not raw.strip():
        raise MailError("empty message")
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the stdlib parser is lenient; this is a safety net
        raise MailError(f"unreadable message: {type(exc).__name__}") from exc
    assert isinstance(message, EmailMessage)
    if not message.keys():
        raise MailError("no mail headers: not an email message")
    message = with_real_boundary(message, raw) or message
    try:
        mail = _parse(message, raw, agency_id, max_attachment_bytes, received_at or datetime.now(UTC))
    except MailError:
        raise
    except Exception as exc:  # malformed MIME reaching a stdlib edge case must not crash a receiver
        raise MailError(f"malformed message: {type(exc).__name__}: {exc}") from exc
    if not (mail.text or mail.links or mail.attachments):
        raise MailError("message has no text, link or attachment")
    if check is not None:
        domain = mail.from_address.rsplit("@", 1)[1] if mail.from_address else None
        mail = replace(mail, sender_auth=check(raw, domain))
    return mail


def _parse(
    message: EmailMessage, raw: bytes, agency_id: str, max_attachment_bytes: int, received_at: datetime
) -> ParsedMail:
    name, address = _sender(message)
    body_part, body = _body(message)
    attachments = []
    if undecoded(body) or (message.get_content_maintype() == "multipart" and not message.is_multipart()):
        # Nothing more the parser's policies recover: keep the mail whole, and say so.
        body = tidy(readable_lines(body) + "\n\n" + BROKEN_NOTE)
        attachments.append(
            MailAttachment(
                ORIGINAL_NAME, "message/rfc822", len(raw), original_digest(raw), inline=False, data=raw
            )
        )
    body, forwarded = strip_history(body)
    for part in _leaves(message):
        if part is body_part or _is_alternative_text(part):
            continue
        attachments.append(_attachment(part, max_attachment_bytes))
        if part.get_content_type() in ZIP_TYPES or (_filename(part) or "").lower().endswith(".zip"):
            archive = _filename(part) or "arsip.zip"
            attachments.extend(
                MailAttachment(f"{archive}/{member}", "application/octet-stream", size, sha, sha is None)
                for member, size, sha in zip_members(_payload_bytes(part), max_attachment_bytes)
            )
        if not body and part.get_content_type() == "message/rfc822":
            # "Forward as attachment": the attached mail is what is being reported.
            body, forwarded = _attached_mail_text(part), True
    subject = tidy(_header(message, "Subject") or "").replace("\n", " ")
    body = body[:MAX_TEXT_CHARS]
    references = tuple(_MSG_ID.findall(_header(message, "References") or ""))
    in_reply_to = next(iter(_MSG_ID.findall(_header(message, "In-Reply-To") or "")), None)
    derived = _derived_id(name, address, _raw_header(message, "Date"), subject, body, attachments)
    return ParsedMail(
        agency_id=agency_id,
        message_id=_message_id(message) or derived,
        from_name=name,
        from_address=address,
        subject=subject,
        date=_date(message),
        received_at=received_at,
        in_reply_to=f"<{in_reply_to}>" if in_reply_to else None,
        references=tuple(f"<{ref}>" for ref in references),
        body=body,
        links=tuple(links_in(subject + "\n" + body)),
        attachments=tuple(attachments),
        forwarded=forwarded,
        automated=_automated(message),
    )


def _raw_header(message: EmailMessage, name: str) -> str | None:
    """The header as sent (unfolded), for fields the structured parser may mangle."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return clean(str(value)).replace("\n", " ").strip()
    return None


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a header the structured parser chokes on: fall back to its raw form
        return _raw_header(message, name)
    return None if value is None else clean(str(value)).strip() or None


def _message_id(message: EmailMessage) -> str | None:
    value = _raw_header(message, "Message-ID") or ""
    match = _MSG_ID.search(value)
    ident = match.group(1) if match else value if _BARE_ID.match(value) else ""
    return f"<{ident}>" if ident and len(ident) <= 400 else None


def _derived_id(
    name: str | None,
    address: str | None,
    date: str | None,
    subject: str,
    body: str,
    attachments: list[MailAttachment],
) -> str:
    """An id for a mail without a Message-ID, from what it says rather than its bytes: the
    same mail fetched again, with other line ends or transport headers, maps to one report."""
    parts = [name or "", address or "", date or "", subject, body]
    parts += [f"{a.filename}:{a.sha256}:{a.size}" for a in attachments]
    return f"<{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()}@pantau.derived>"


def _sender(message: EmailMessage) -> tuple[str | None, str | None]:
    raw = _raw_header(message, "From") or ""
    name, address = "", ""
    try:
        addresses = getattr(message.get("From"), "addresses", ())
        if addresses:
            name, address = addresses[0].display_name, addresses[0].addr_spec
    except Exception:
        name, address = parseaddr(raw)
    real_name, real_address = _real_address(raw)
    if real_address and real_address != address:
        # The structured parser was fooled by the name (or failed): the bracketed address wins.
        name, address = (name if name and "@" not in name else real_name), real_address
    name, address = clean(name).strip().strip('"').strip(), clean(address).strip()
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", address) or len(address) > 320:
        address = ""
    else:
        local, domain = address.rsplit("@", 1)
        address = f"{local}@{domain.lower()}"
    return (name[:200] or None), (address or None)


def _real_address(raw: str) -> tuple[str, str]:
    """The address in angle brackets is where the mail is from, whatever the name before it
    says: in `alice@example.com <bob@example.com>` it is bob (the stdlib's structured parser
    would take alice, CVE-2023-27043). The name is quoted first so the stdlib parses it as one."""
    start, end = raw.rfind("<"), raw.rfind(">")
    if start < 0 or end < start:
        return "", ""
    phrase = raw[:start].strip().strip('"').replace("\\", "").replace('"', "")
    name, address = parseaddr(f'"{phrase}" {raw[start : end + 1]}' if phrase else raw[start : end + 1])
    return name, address


def _date(message: EmailMessage) -> datetime | None:
    try:
        value = getattr(message.get("Date"), "datetime", None)
    except Exception:
        value = None
    if value is None:
        try:
            value = parsedate_to_datetime(_raw_header(message, "Date") or "")
        except (TypeError, ValueError, IndexError):
            return None
    # "-0000" means "zone unknown" and parses as naive: UTC is the best guess.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text_of(part: EmailMessage) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return clean(payload) if isinstance(payload, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:  # an undecodable RFC 2231 charset parameter
        charset = None
    return clean(decode_bytes(data, charset))


def _body(message: EmailMessage) -> tuple[EmailMessage | None, str]:
    for preference in (("plain",), ("html",)):
        try:
            part = message.get_body(preferencelist=preference)
        except Exception:
            part = None
        if isinstance(part, EmailMessage):
            text = _text_of(part)
            if part.get_content_subtype() == "html":
                text = html_to_text(text)
            if text.strip():
                return part, text
    if not message.is_multipart() and message.get_content_maintype() in ("multipart", "text"):
        # A multipart without a usable boundary: its payload is all we have; drop MIME debris.
        text = _text_of(message)
        if "<html" in text[:2000].lower():
            text = html_to_text(text)
        kept = [line for line in text.split("\n") if not _MIME_LEFTOVER.match(line.strip())]
        return message, tidy("\n".join(kept))
    return None, ""


def _leaves(part: EmailMessage, depth: int = 0) -> Iterator[EmailMessage]:
    if depth > _MAX_DEPTH:
        return
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for child in part.iter_parts():
            if isinstance(child, EmailMessage):
                yield from _leaves(child, depth + 1)
    elif depth > 0 or part.get_content_maintype() not in ("text", "multipart"):
        yield part


def _is_alternative_text(part: EmailMessage) -> bool:
    """A text/plain or text/html body (e.g. the other half of multipart/alternative)."""
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and part.get_content_disposition() != "attachment"
        and not _filename(part)
    )


def _filename(part: EmailMessage) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    # A name is a label, never a path.
    return clean(name).replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or None


def _payload_bytes(part: EmailMessage) -> bytes:
    if part.get_content_maintype() == "message" or part.is_multipart():
        inner = part.get_payload(0) if part.is_multipart() else part.get_payload()
        if isinstance(inner, EmailMessage):
            return inner.as_bytes(policy=policy.default.clone(linesep="\r\n"))
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _attachment(part: EmailMessage, max_bytes: int) -> MailAttachment:
    data = _payload_bytes(part)
    too_large = len(data) > max_bytes
    return MailAttachment(
        filename=_filename(part),
        content_type=part.get_content_type(),
        size=len(data),
        sha256=None if too_large else hashlib.sha256(data).hexdigest(),
        too_large=too_large,
        inline=part.get_content_disposition() != "attachment",
        data=None if too_large else data,
    )


def _attached_mail_text(part: EmailMessage) -> str:
    inner = part.get_payload(0) if part.is_multipart() else None
    if not isinstance(inner, EmailMessage):
        return ""
    text = _body(inner)[1]
    return strip_history(text)[0]


def _automated(message: EmailMessage) -> str | None:
    auto = (_header(message, "Auto-Submitted") or "no").lower()
    sender = (_raw_header(message, "From") or "").lower()
    subject = _header(message, "Subject") or ""
    if message.get_content_type() == "multipart/report" or _header(message, "X-Failed-Recipients"):
        return "bounce (delivery status report)"
    if any(part.get_content_type() == "message/delivery-status" for part in _leaves(message)):
        return "bounce (delivery status report)"
    if _BOUNCER.search(sender) and _BOUNCE_SUBJECT.search(subject):
        return "bounce (from a mailer daemon)"
    if auto != "no":
        return f"auto-submitted ({auto})"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "auto-reply"
    return None
