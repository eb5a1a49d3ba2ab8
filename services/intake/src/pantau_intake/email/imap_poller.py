"""Reports from an agency's existing mailbox, read over IMAP.

A mail is marked processed only after `submit` returned, and fetched with BODY.PEEK (a plain
RFC822 fetch would set \\Seen on its own). So a crash between submit and marking means the next
poll submits the mail again, and the stable report id makes that a duplicate downstream.
Mails that can never become a report get a keyword instead, so they are not retried forever.
"""

import asyncio
import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pantau_shared.contract import ReportSubmitted

from .parse import DEFAULT_MAX_ATTACHMENT_BYTES, MailError, ParsedMail, parse_mail
from .sender_auth import SenderCheck

log = logging.getLogger(__name__)

Submit = Callable[[ReportSubmitted], Awaitable[None]]
# Keeps a mail's attachment bytes as evidence before its report is submitted.
Keep = Callable[[Sequence[bytes]], Awaitable[None]]
Rejected = Callable[[int, str], Awaitable[None]]
REJECTED_KEYWORD = "$PantauRejected"
DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(RuntimeError):
    """The server refused a command (login, select, store): a setup or server problem."""


@dataclass(slots=True)
class PollResult:
    submitted: int = 0
    rejected: int = 0
    # Unprocessed mails left for the next poll (batch limit reached, or asked to stop).
    remaining: int = 0


@dataclass(frozen=True, slots=True)
class _Mailbox:
    client: imaplib.IMAP4
    keywords: bool  # the folder accepts custom keywords such as $PantauRejected
    move: bool


class ImapPoller:
    """Polls one mailbox of one agency. `password` is plain text: unwrap a SecretStr before."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        agency_id: str,
        submit: Submit,
        rejected: Rejected | None = None,
        mailbox: str = "INBOX",
        security: Literal["ssl", "starttls", "plain"] = "ssl",
        ssl_context: ssl.SSLContext | None = None,
        processed_folder: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        batch_size: int = 100,
        timeout_s: float = 30.0,
        check: SenderCheck | None = None,
        keep: Keep | None = None,
    ) -> None:
        self._check = check
        self._keep = keep
        self.host, self.port, self.agency_id = host, port, agency_id
        self._username, self._password = username, password
        self._submit, self._rejected = submit, rejected
        self._mailbox, self._processed_folder = mailbox, processed_folder
        self._security = security
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._max_message_bytes, self._max_attachment_bytes = max_message_bytes, max_attachment_bytes
        self._batch_size, self._timeout_s = batch_size, timeout_s

    async def run(self, stopping: asyncio.Event, interval_s: float = 60.0) -> None:
        """Poll until `stopping` is set; a failed poll is logged and retried at the next interval."""
        while not stopping.is_set():
            result = PollResult()
            try:
                result = await self.poll_once(stopping)
            except Exception:
                log.exception("polling %s@%s for %s failed", self._username, self.host, self.agency_id)
            if result.remaining and not stopping.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)

    async def poll_once(self, stopping: asyncio.Event | None = None) -> PollResult:
        """Submit every unprocessed mail (up to `batch_size`). An exception from `submit`
        propagates and leaves that mail and the ones after it unprocessed."""
        box = await asyncio.to_thread(self._open)
        result = PollResult()
        try:
            uids = await asyncio.to_thread(self._unprocessed, box)
            batch = uids[: self._batch_size]
            sizes = await asyncio.to_thread(self._sizes, box, batch)
            for index, uid in enumerate(batch):
                if stopping is not None and stopping.is_set():
                    result.remaining = len(uids) - index
                    return result
                if await self._process(box, uid, sizes.get(uid, 0)):
                    result.submitted += 1
                else:
                    result.rejected += 1
            result.remaining = len(uids) - len(batch)
            return result
        finally:
            await asyncio.to_thread(_close, box.client)

    async def _process(self, box: _Mailbox, uid: int, size: int) -> bool:
        """True when submitted, False when rejected; raises when it must be retried later."""
        if size > self._max_message_bytes:
            await self._reject(
                box, uid, f"message of {size} bytes is over the {self._max_message_bytes}-byte limit"
            )
            return False
        raw = await asyncio.to_thread(self._fetch, box, uid)
        if raw is None:  # expunged by someone else meanwhile
            return False
        try:
            mail: ParsedMail = await asyncio.to_thread(
                parse_mail,
                raw,
                agency_id=self.agency_id,
                max_attachment_bytes=self._max_attachment_bytes,
                check=self._check,
            )
        except MailError as exc:
            await self._reject(box, uid, exc.reason)
            return False
        if mail.automated:
            await self._reject(box, uid, f"automated message: {mail.automated}")
            return False
        if self._keep is not None:
            await self._keep(mail.files)
        await self._submit(mail.to_report())
        await asyncio.to_thread(self._mark_processed, box, uid)
        log.info("mail uid %s (%s) submitted for %s", uid, mail.message_id, self.agency_id)
        return True

    async def _reject(self, box: _Mailbox, uid: int, reason: str) -> None:
        log.warning("mail uid %s in %s@%s rejected: %s", uid, self._username, self.host, reason)
        await asyncio.to_thread(self._mark_rejected, box, uid)
        if self._rejected is not None:
            try:
                await self._rejected(uid, reason)
            except Exception:
                log.exception("the rejected-mail callback failed for uid %s", uid)

    # The methods below block: they run in a worker thread through asyncio.to_thread.

    def _open(self) -> _Mailbox:
        if self._security == "ssl":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                self.host, self.port, ssl_context=self._ssl_context, timeout=self._timeout_s
            )
        else:
            client = imaplib.IMAP4(self.host, self.port, timeout=self._timeout_s)
        try:
            if self._security == "starttls":
                client.starttls(ssl_context=self._ssl_context)
            client.login(self._username, self._password)
            _ok(client.select(_quote(self._mailbox)), f"SELECT {self._mailbox}")
            permanent = b" ".join(v for v in client.response("PERMANENTFLAGS")[1] if v)
            _, capabilities = client.capability()
            move = b"MOVE" in b" ".join(c for c in capabilities if c).upper().split()
            if self._processed_folder and move:
                client.create(_quote(self._processed_folder))  # NO when it exists: fine
            return _Mailbox(client, keywords=b"\\*" in permanent, move=move)
        except BaseException:
            _close(client)
            raise

    def _unprocessed(self, box: _Mailbox) -> list[int]:
        typ, data = box.client.uid("SEARCH", "UNSEEN", "UNKEYWORD", REJECTED_KEYWORD)
        _ok((typ, data), "UID SEARCH")
        return sorted(int(uid) for uid in b" ".join(d for d in data if d).split())

    def _sizes(self, box: _Mailbox, uids: list[int]) -> dict[int, int]:
        if not uids:
            return {}
        typ, data = box.client.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
        _ok((typ, data), "UID FETCH RFC822.SIZE")
        sizes = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            uid, size = _UID.search(line or b""), _SIZE.search(line or b"")
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    def _fetch(self, box: _Mailbox, uid: int) -> bytes | None:
        typ, data = box.client.uid("FETCH", str(uid), "(BODY.PEEK[])")
        _ok((typ, data), f"UID FETCH {uid}")
        for item in data:
            if isinstance(item, tuple) and (found := _UID.search(item[0])) and int(found.group(1)) == uid:
                return bytes(item[1])
        return None

    def _mark_processed(self, box: _Mailbox, uid: int) -> None:
        _ok(box.client.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Seen)"), f"UID STORE {uid}")
        if self._processed_folder and box.move:
            _ok(box.client.uid("MOVE", str(uid), _quote(self._processed_folder)), f"UID MOVE {uid}")

    def _mark_rejected(self, box: _Mailbox, uid: int) -> None:
        # Without custom keywords \Seen is the only way to stop retrying it.
        flags = REJECTED_KEYWORD if box.keywords else "\\Seen"
        _ok(box.client.uid("STORE", str(uid), "+FLAGS.SILENT", f"({flags})"), f"UID STORE {uid}")


def _ok(response: tuple[str, Sequence[object]], what: str) -> None:
    typ, data = response
    if typ != "OK":
        raise ImapError(f"{what} failed: {typ} {data!r}")


def _quote(name: str) -> str:
    # imaplib sends arguments as they are; a folder name with spaces must be quoted.
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _close(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()
