"""Notify's SMTP client against real servers: aiosmtpd (the mail sink, and servers that refuse),
and scripted servers that check how the commands arrive on the wire (RFC 2920 pipelining only
when advertised, every reply read, nothing of a refused message sent)."""

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pantau_devstack.mailsink import MailSink
from pantau_devstack.servers import free_port
from pantau_notify.email import SmtpSender, text_part, wire_bytes
from pantau_notify.settings import NotifySettings
from pantau_shared.providers import PermanentFailure, TransientFailure


def mail(to: str, body: str = "Kasus baru perlu ditangani.\n") -> email.message.Message:
    message = text_part(body, "plain")
    message["Subject"] = "[Pantau] uji"
    message["From"] = "Pantau <pantau@localhost>"
    message["To"] = to
    message["Message-ID"] = f"<{to}@pantau.local>"
    return message


def kept(directory: Path) -> list[bytes]:
    return [path.read_bytes() for path in directory.glob("*.eml")]


async def test_alerts_reach_the_sink_as_flattened_over_pipelined_groups(tmp_path: Path) -> None:
    sink = MailSink(tmp_path, free_port())
    sink.start()
    sender = SmtpSender(NotifySettings(smtp_port=sink.port, smtp_connections=2))
    # A body with lines a dot starts (stuffed on the wire, unstuffed by the server), a bare "."
    # line that would end the message early if it were not, and text outside ASCII.
    body = ".baris bertitik\n.\nAmplop “serangan fajar” 100 ribu\n" + "panjang " * 40 + "\n"
    messages = [mail(f"patroli{i}@example.id", body) for i in range(6)]
    try:
        await asyncio.gather(*(sender.send(m) for m in messages))
    finally:
        await sender.close()
        sink.stop()
    # What the server kept is the message as flattened, to the byte (in CRLF lines).
    stored = sorted(kept(tmp_path))
    assert stored == sorted(wire_bytes(m).replace(b"\n", b"\r\n") for m in messages)


class Scripted:
    """A raw SMTP server that answers a script and records each chunk read off the socket."""

    def __init__(self, *, pipelining: bool, answer: Callable[[bytes], bytes | None]) -> None:
        self.pipelining = pipelining
        self.answer = answer
        self.chunks: list[bytes] = []
        self.sessions = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        writer.write(b"220 scripted ESMTP\r\n")
        in_data = False
        pending = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                self.chunks.append(chunk)
                pending += chunk
                while True:
                    if in_data:
                        end = pending.find(b"\r\n.\r\n")
                        if end < 0 and not pending.startswith(b".\r\n"):
                            break
                        cut = 3 if pending.startswith(b".\r\n") else end + 5
                        pending, in_data = pending[cut:], False
                        reply = self.answer(b"<content>")
                    else:
                        line, found, rest = pending.partition(b"\r\n")
                        if not found:
                            break
                        pending = rest
                        if line.startswith(b"EHLO"):
                            extensions = b"250-PIPELINING\r\n" if self.pipelining else b""
                            writer.write(b"250-scripted\r\n" + extensions + b"250 HELP\r\n")
                            continue
                        reply = self.answer(line)
                        if line == b"DATA" and reply is not None and reply.startswith(b"354"):
                            in_data = True
                    if reply is None:
                        writer.close()
                        return
                    writer.write(reply + b"\r\n")
        finally:
            writer.close()


@asynccontextmanager
async def scripted(server: Scripted) -> AsyncIterator[int]:
    port = free_port()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", port)
    try:
        yield port
    finally:
        listening.close()


def accepting(line: bytes) -> bytes:
    if line == b"DATA":
        return b"354 go ahead"
    return b"221 bye" if line == b"QUIT" else b"250 OK"


@pytest.mark.parametrize(
    ("pipelining", "writes"),
    [
        # Advertised: the group in one write, its replies read together.
        (True, [b"MAIL FROM:<pantau@localhost>\r\nRCPT TO:<a@example.id>\r\nDATA\r\n"]),
        # Not advertised: each command waits for the reply to the one before.
        (False, [b"MAIL FROM:<pantau@localhost>\r\n", b"RCPT TO:<a@example.id>\r\n", b"DATA\r\n"]),
    ],
)
async def test_commands_are_pipelined_only_where_the_server_advertises_it(
    pipelining: bool, writes: list[bytes]
) -> None:
    server = Scripted(pipelining=pipelining, answer=accepting)
    async with scripted(server) as port:
        sender = SmtpSender(NotifySettings(smtp_port=port, smtp_timeout_s=5))
        await sender.send(mail("a@example.id"))
        await sender.close()
    start = next(i for i, c in enumerate(server.chunks) if c.startswith(b"MAIL"))
    assert server.chunks[start : start + len(writes)] == writes
    assert server.chunks[start + len(writes)].endswith(b"\r\n.\r\n")  # then the content


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize(
    ("refusing", "code", "failure"),
    [
        (b"RCPT", b"550 5.1.1 no such mailbox", PermanentFailure),
        (b"RCPT", b"450 4.2.1 mailbox busy", TransientFailure),
        (b"MAIL", b"451 4.3.0 try later", TransientFailure),
        (b"<content>", b"554 5.7.1 rejected as spam", PermanentFailure),
    ],
)
async def test_a_refused_message_sends_no_content_and_the_connection_takes_the_next(
    pipelining: bool, refusing: bytes, code: bytes, failure: type[Exception]
) -> None:
    contents: list[bytes] = []
    refused = {"once": False, "open": False}

    def answer(line: bytes) -> bytes:
        if line == b"RSET":
            refused["open"] = False
            return b"250 OK"
        if line == b"<content>":
            contents.append(line)
        if not refused["once"] and line.startswith(refusing):
            refused["once"] = True
            refused["open"] = refusing != b"<content>"
            return code
        if refused["open"]:
            # What a server answers to the rest of a group whose sender or only recipient it
            # refused.
            return b"554 5.5.1 no valid recipients" if line == b"DATA" else b"503 5.5.1 bad sequence"
        return accepting(line)

    server = Scripted(pipelining=pipelining, answer=answer)
    async with scripted(server) as port:
        sender = SmtpSender(NotifySettings(smtp_port=port, smtp_timeout_s=5))
        with pytest.raises(failure):
            await sender.send(mail("a@example.id"))
        await sender.send(mail("b@example.id"))
        await sender.close()
    # No content of a message refused before it; the next message on the same connection, after a
    # reset where the transaction was left open.
    assert len(contents) == (2 if refusing == b"<content>" else 1)
    assert server.sessions == 1
    assert any(c.startswith(b"RSET") for c in server.chunks) == (refusing != b"<content>")


async def test_content_opened_despite_a_refused_recipient_is_ended_empty() -> None:
    """RFC 2920 3.1: a server that answers DATA with 354 after refusing the recipient gets a lone
    '.', never the message."""
    ended: list[bytes] = []

    def answer(line: bytes) -> bytes:
        if line.startswith(b"RCPT"):
            return b"550 no such mailbox"
        if line == b"<content>":
            ended.append(line)
            return b"554 no valid recipients"
        return accepting(line)

    server = Scripted(pipelining=True, answer=answer)
    async with scripted(server) as port:
        sender = SmtpSender(NotifySettings(smtp_port=port, smtp_timeout_s=5))
        with pytest.raises(PermanentFailure):
            await sender.send(mail("a@example.id", "isi yang tidak boleh terkirim\n"))
        await sender.close()
    assert ended == [b"<content>"]
    assert not any(b"tidak boleh terkirim" in c for c in server.chunks)


async def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failure() -> None:
    messages = 0

    def answer(line: bytes) -> bytes | None:
        nonlocal messages
        if line == b"<content>":
            messages += 1
        if line.startswith(b"MAIL") and messages == 1 and server.sessions == 1:
            return None  # the server's idle timeout: gone without a word
        return accepting(line)

    server = Scripted(pipelining=True, answer=answer)
    async with scripted(server) as port:
        sender = SmtpSender(NotifySettings(smtp_port=port, smtp_timeout_s=5, smtp_connections=1))
        await sender.send(mail("a@example.id"))
        await sender.send(mail("b@example.id"))
        await sender.close()
    assert messages == 2 and server.sessions == 2


class Refusing:
    """An aiosmtpd handler refusing one recipient, keeping the rest."""

    def __init__(self) -> None:
        self.kept: list[tuple[str, bytes]] = []

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("hilang@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.kept.append((envelope.rcpt_tos[0], envelope.original_content))
        return "250 OK"


def authenticated(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"pantau",
        b"rahasia",
    )
    return AuthResult(success=ok, handled=False)


async def run(controller: Controller, work: Callable[[int], Awaitable[None]]) -> None:
    controller.start()
    try:
        await work(controller.port)
    finally:
        controller.stop()


async def test_aiosmtpd_takes_pipelined_groups_and_refuses_one_recipient_alone() -> None:
    handler = Refusing()

    async def work(port: int) -> None:
        sender = SmtpSender(NotifySettings(smtp_port=port, smtp_connections=1))
        await sender.send(mail("a@example.id"))
        with pytest.raises(PermanentFailure, match="550"):
            await sender.send(mail("hilang@example.id"))
        await sender.send(mail("b@example.id"))
        await sender.close()

    await run(Controller(handler, hostname="127.0.0.1", port=free_port()), work)
    assert [to for to, _ in handler.kept] == ["a@example.id", "b@example.id"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_login_with_the_configured_account(mechanism: str) -> None:
    handler = Refusing()

    async def work(port: int) -> None:
        good = SmtpSender(NotifySettings(smtp_port=port, smtp_username="pantau", smtp_password="rahasia"))
        await good.send(mail("a@example.id"))
        await good.close()
        wrong = SmtpSender(NotifySettings(smtp_port=port, smtp_username="pantau", smtp_password="salah"))
        with pytest.raises(TransientFailure, match="535"):
            await wrong.send(mail("b@example.id"))
        await wrong.close()

    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticated,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"] if mechanism == "PLAIN" else ["PLAIN"],
    )
    await run(controller, work)
    assert [to for to, _ in handler.kept] == ["a@example.id"]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, the certificate its own authority."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_starttls_then_login_then_a_pipelined_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate is checked (the test's authority trusted through SSL_CERT_FILE, as an
    operator would for a private one), and the login goes over TLS only."""
    import ssl

    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    handler = Refusing()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticated,
        auth_require_tls=True,
    )

    async def work(port: int) -> None:
        settings = NotifySettings(
            smtp_port=port, smtp_starttls=True, smtp_username="pantau", smtp_password="rahasia"
        )
        sender = SmtpSender(settings)
        await sender.send(mail("a@example.id"))
        await sender.send(mail("b@example.id"))
        await sender.close()

    await run(controller, work)
    assert [to for to, _ in handler.kept] == ["a@example.id", "b@example.id"]
