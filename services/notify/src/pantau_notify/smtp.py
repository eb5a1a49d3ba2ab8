"""One SMTP client connection, sending each message as a pipelined group (RFC 2920) when the
server advertises PIPELINING.

aiosmtplib waits for every reply before the next command: four round trips a message (MAIL,
RCPT, DATA, the content), each a write, a wake-up and a parsed reply in notify, and each a wait on
the network to a provider that is not on loopback. Pipelined, MAIL, RCPT and DATA go in one write
and their three replies are read together; the content follows the 354 (DATA ends a group, as
the RFC requires): two round trips. A server that does not advertise PIPELINING gets the same
commands one at a time.
"""

import asyncio
import base64
import functools
import re
import socket
import ssl
from typing import NamedTuple

from .settings import NotifySettings

# Every bare CR or LF becomes CRLF, and a line that starts with a dot gets another (RFC 5321
# 4.5.2), so the content cannot end the message early.
LINE_ENDING = re.compile(rb"\r\n|\n|\r")
LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


@functools.cache
def local_hostname() -> bytes:
    """The name EHLO gives, looked up once: getfqdn may ask the resolver, which blocks."""
    return socket.getfqdn().encode("idna")


def crlf_stuffed(content: bytes) -> bytes:
    """The content as it goes after DATA: CRLF lines, a leading dot doubled, ending in CRLF. The
    regular expressions only where they have something to do (a flattened message has bare LF
    lines and seldom a line starting with a dot): they were a send's largest own cost."""
    if b"\r" in content:
        content = LINE_ENDING.sub(b"\r\n", content)
    else:
        content = content.replace(b"\n", b"\r\n")
    if content.startswith(b".") or b"\n." in content:
        content = LEADING_DOT.sub(b"..", content)
    return content if content.endswith(b"\r\n") else content + b"\r\n"


class Reply(NamedTuple):
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


class SmtpRefused(Exception):
    """The server refused the message (`reply` says how); the connection is reset and reusable
    when `reusable`."""

    def __init__(self, reply: Reply, *, recipient: bool, reusable: bool) -> None:
        super().__init__(str(reply))
        self.reply = reply
        self.recipient = recipient
        self.reusable = reusable


class Dropped(ConnectionError):
    """The server closed an idle connection before answering anything of this message: nothing
    was accepted, so the message can go on a new connection at once."""


class SmtpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self.extensions: dict[str, str] = {}

    @classmethod
    async def open(cls, settings: NotifySettings) -> "SmtpConnection":
        timeout = settings.smtp_timeout_s
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(settings.smtp_host, settings.smtp_port), timeout
        )
        connection = cls(reader, writer, timeout)
        try:
            await connection._expect(await connection._reply(), 220)
            await connection._ehlo()
            if settings.smtp_starttls:
                if "starttls" not in connection.extensions:
                    raise ConnectionError("the SMTP server does not offer STARTTLS")
                await connection._expect(await connection._command(b"STARTTLS"), 220)
                await writer.start_tls(ssl.create_default_context(), server_hostname=settings.smtp_host)
                await connection._ehlo()
            if settings.smtp_username and settings.smtp_password:
                await connection._login(settings.smtp_username, settings.smtp_password.get_secret_value())
        except BaseException:
            connection.close()
            raise
        return connection

    @property
    def pipelining(self) -> bool:
        return "pipelining" in self.extensions

    @property
    def usable(self) -> bool:
        return not (self._writer.is_closing() or self._reader.at_eof())

    async def send(self, sender: str, recipient: str, content: bytes) -> Reply:
        """One message to one recipient; raises `SmtpRefused` for a refusal, `Dropped` when the
        server had closed the connection, OSError or TimeoutError when it broke."""
        commands = [
            b"MAIL FROM:<%s>\r\n" % sender.encode(),
            b"RCPT TO:<%s>\r\n" % recipient.encode(),
            b"DATA\r\n",
        ]
        replies: list[Reply] = []
        try:
            if self.pipelining:
                self._writer.write(b"".join(commands))
                # Every command sent gets its reply, whatever the one before said.
                for _ in commands:
                    replies.append(await self._reply())
            else:
                for command in commands:
                    self._writer.write(command)
                    replies.append(await self._reply())
                    if replies[-1].code >= 400:
                        break
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            if not replies:
                raise Dropped(str(error) or "connection closed by the SMTP server") from error
            raise
        mail, rcpt, data = (replies + [Reply(503, "not sent")] * 3)[:3]
        if data.code == 354 and (mail.code >= 400 or rcpt.code >= 400):
            # A server that opened the content despite refusing the sender or the recipient gets
            # an empty message ended at once (RFC 2920 3.1), then the reset below.
            self._writer.write(b".\r\n")
            await self._reply()
        if mail.code >= 400 or rcpt.code >= 400 or data.code != 354:
            refusal = mail if mail.code >= 400 else rcpt if rcpt.code >= 400 else data
            reusable = refusal.code != 421 and await self._reset()
            raise SmtpRefused(refusal, recipient=refusal is rcpt, reusable=reusable)
        self._writer.write(crlf_stuffed(content) + b".\r\n")
        accepted = await self._reply()
        if accepted.code >= 400:
            raise SmtpRefused(accepted, recipient=False, reusable=accepted.code != 421)
        return accepted

    async def quit(self) -> None:
        try:
            await self._command(b"QUIT")
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        self.close()

    def close(self) -> None:
        self._writer.close()

    async def _reset(self) -> bool:
        """RSET after a refused transaction; whether the connection can take the next message."""
        try:
            return (await self._command(b"RSET")).code == 250
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return False

    async def _ehlo(self) -> None:
        reply = await self._command(b"EHLO " + local_hostname())
        await self._expect(reply, 250)
        self.extensions = {}
        for line in reply.text.split("\n")[1:]:
            keyword, _, parameters = line.partition(" ")
            self.extensions[keyword.lower()] = parameters

    async def _login(self, username: str, password: str) -> None:
        mechanisms = self.extensions.get("auth", "").upper().split()
        if "PLAIN" in mechanisms:
            token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
            await self._expect(await self._command(f"AUTH PLAIN {token}".encode()), 235)
        elif "LOGIN" in mechanisms:
            await self._expect(await self._command(b"AUTH LOGIN"), 334)
            await self._expect(await self._command(base64.b64encode(username.encode())), 334)
            await self._expect(await self._command(base64.b64encode(password.encode())), 235)
        else:
            raise ConnectionError(f"the SMTP server offers no login notify can use: {mechanisms}")

    async def _command(self, line: bytes) -> Reply:
        self._writer.write(line + b"\r\n")
        return await self._reply()

    async def _reply(self) -> Reply:
        """One reply, its continuation lines ("250-...") joined with newlines."""
        lines: list[str] = []
        async with asyncio.timeout(self._timeout):
            while True:
                line = await self._reader.readline()
                if not line.endswith(b"\n"):
                    raise ConnectionError("connection closed by the SMTP server")
                if len(line) < 4 or not line[:3].isdigit():
                    raise ConnectionError(f"not an SMTP reply: {line[:80]!r}")
                lines.append(line[4:].strip().decode("utf-8", "replace"))
                if line[3:4] != b"-":
                    return Reply(int(line[:3]), "\n".join(lines))

    async def _expect(self, reply: Reply, code: int) -> None:
        if reply.code != code:
            raise SmtpRefused(reply, recipient=False, reusable=False)
