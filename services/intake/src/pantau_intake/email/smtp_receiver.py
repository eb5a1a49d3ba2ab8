"""An SMTP receiver for mail forwarded to an agency's report address.

The reply to DATA is the only acknowledgement the sending server gets, so `250` is answered only
after `submit` returned: if this process dies before, the sender keeps the mail and retries, and
the stable report id turns the retry into a duplicate downstream.
"""

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from pantau_shared.contract import ReportSubmitted

from .parse import DEFAULT_MAX_ATTACHMENT_BYTES, MailError, parse_mail
from .sender_auth import SenderCheck

log = logging.getLogger(__name__)

Submit = Callable[[ReportSubmitted], Awaitable[None]]
# Keeps a mail's attachment bytes as evidence before its report is submitted.
Keep = Callable[[Sequence[bytes]], Awaitable[None]]
DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class ReportMailHandler:
    """aiosmtpd handler: `recipients` maps a report address to the agency that owns it."""

    def __init__(
        self,
        recipients: Mapping[str, str],
        submit: Submit,
        *,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        check: SenderCheck | None = None,
        keep: Keep | None = None,
    ) -> None:
        self._check = check
        self._keep = keep
        for address, agency in recipients.items():
            if not _AGENCY_ID.match(agency):
                raise ValueError(f"agency id {agency!r} for {address} is not a valid agency id")
        self._recipients = {address.strip().lower(): agency for address, agency in recipients.items()}
        self._submit = submit
        self._max_attachment_bytes = max_attachment_bytes
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def agency_for(self, address: str) -> str | None:
        return self._recipients.get(address.strip().strip("<>").lower())

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        agency = self.agency_for(address)
        if agency is None:
            return "550 5.1.1 Mailbox unavailable"
        # Several agencies in one transaction are fine: each gets a report of its own id.
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        agencies = list(dict.fromkeys(self.agency_for(rcpt) for rcpt in envelope.rcpt_tos))
        first = agencies[0]
        assert first is not None and None not in agencies  # RCPT let only known addresses through
        try:
            # A 25 MB mail takes a while to parse: off the loop, so other sessions keep going.
            mail = await asyncio.to_thread(
                parse_mail,
                raw,
                agency_id=first,
                max_attachment_bytes=self._max_attachment_bytes,
                check=self._check,
            )
        except MailError as exc:
            log.warning("refused mail from %s: %s", envelope.mail_from, exc.reason)
            return f"554 5.6.0 Message cannot be read as a report: {_one_line(exc.reason)}"
        if mail.automated:
            # Refusing an auto-reply would bounce it back and forth; accept and drop it.
            log.info("dropped automated mail %s for %s: %s", mail.message_id, first, mail.automated)
            return "250 2.0.0 OK: automated message ignored"
        reports = [replace(mail, agency_id=agency).to_report() for agency in agencies if agency]
        self.in_flight += 1
        self.idle.clear()
        try:
            if self._keep is not None:
                await self._keep(mail.files)
            for report in reports:
                await self._submit(report)
        except Exception:
            log.exception("submitting mail %s for %s failed", mail.message_id, agencies)
            return "451 4.3.0 Temporary failure storing the report, try again later"
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.idle.set()
        for report in reports:
            log.info(
                "mail %s accepted as report %s for %s", mail.message_id, report.report_id, report.agency_id
            )
        return f"250 2.0.0 OK: report {' '.join(str(r.report_id) for r in reports)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


class SmtpReceiver:
    """The handler served on the running event loop (aiosmtpd's Controller would run its own
    loop in a thread, away from the NATS connection `submit` uses)."""

    def __init__(
        self,
        handler: ReportMailHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        hostname: str | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self._options: dict[str, Any] = {
            "data_size_limit": max_message_bytes,
            "hostname": hostname or "pantau-intake",
            "timeout": timeout_s,
            "enable_SMTPUTF8": True,
        }
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        # With port 0 the OS picks one; report the real one.
        self.port = self._server.sockets[0].getsockname()[1]

    def _protocol(self) -> SMTP:
        session = _TrackedSMTP(self.handler, loop=asyncio.get_running_loop(), **self._options)
        session.sessions = self._sessions
        return session

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop accepting, let messages being submitted finish up to `timeout_s`, then hang up."""
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.handler.idle.wait(), timeout_s)
        sessions = list(self._sessions)
        tasks = [s._handler_coroutine for s in sessions if s._handler_coroutine is not None]
        for session in sessions:
            if session.transport is not None:
                session.transport.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> "SmtpReceiver":
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()


class _TrackedSMTP(SMTP):
    sessions: set[SMTP]

    def __init__(self, handler: ReportMailHandler, **options: Any) -> None:
        # Mail relayed with bare LF line ends arrives as one long "line": RFC 5321's 1,000-byte
        # limit would refuse it for good (500), so lines may be as long as a whole message.
        self.line_length_limit = options.get("data_size_limit") or DEFAULT_MAX_MESSAGE_BYTES
        super().__init__(handler, **options)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.sessions.discard(self)
        super().connection_lost(error)
