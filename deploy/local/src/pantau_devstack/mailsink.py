"""A local SMTP server that keeps every message as an .eml file and says so on the console."""

import email
import email.policy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from pantau_shared.contract import new_id


class MailSink:
    def __init__(
        self,
        directory: Path,
        port: int,
        on_message: Callable[[email.message.EmailMessage, Path], None] | None = None,
    ) -> None:
        self.directory = directory
        self.port = port
        self._on_message = on_message
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """Advertise PIPELINING (RFC 2920), as production relays do: aiosmtpd reads commands off
        a stream in order and answers each, so a client's pipelined group is handled as sent."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        path = self.directory / f"{new_id()}.eml"
        path.write_bytes(raw)
        if self._on_message is not None:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            self._on_message(message, path)
        return "250 OK"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(self.directory.glob("*.eml"))
        ]
