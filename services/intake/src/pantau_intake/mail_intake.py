"""Reports by email, in the intake process: the SMTP receiver and the IMAP pollers.

Each mail is published as a `report.submitted` event, exactly as the gateway publishes an API
report, and only then acknowledged to the mail server (250, or marked seen), so a crash in
between makes the sender or the poller try again; the report id derived from the Message-ID
makes that second try a duplicate the stream and intake drop.
"""

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from pantau_shared.bus import Publisher
from pantau_shared.contract import ReportSubmitted
from pantau_shared.objectstore import ObjectStore
from pantau_shared.sealing import Sealer, seal_report

from .email import ImapPoller, ReportMailHandler, SmtpReceiver
from .email.sender_auth import SenderCheck, default_dns
from .settings import IntakeSettings

log = logging.getLogger(__name__)


class MailIntake:
    def __init__(
        self,
        settings: IntakeSettings,
        publisher: Publisher,
        sealer: Sealer,
        drain_timeout_s: float,
        store: ObjectStore | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._sealer = sealer
        self._drain_timeout_s = drain_timeout_s
        self._check = SenderCheck(
            settings.email_trusted_authserv_ids, default_dns() if settings.email_verify_dkim else None
        )

    async def submit(self, report: ReportSubmitted) -> None:
        # The sender's address and name cross the bus sealed, as the gateway's reports do.
        event = seal_report(report, self._sealer)
        await self._publisher.publish(self._publisher.envelope(event, event_id=event.event_id()))

    async def keep(self, files: Sequence[bytes]) -> None:
        """The attachments' bytes, in the object store before the report is published: the
        evidence worker lists and stamps them once the report is stored."""
        if self._store is not None:
            for data in files:
                await self._store.put(data)

    async def rejected(self, uid: int, reason: str) -> None:
        log.warning("mail %s not taken as a report: %s", uid, reason)

    def tasks(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        settings = self._settings
        tasks: list[Coroutine[Any, Any, None]] = []
        if settings.email_smtp_enabled:
            tasks.append(self._receive(stopping))
        for box in settings.email_imap_mailboxes:
            poller = ImapPoller(
                host=box.host,
                port=box.port,
                username=box.username,
                password=box.password.get_secret_value(),
                agency_id=box.agency_id,
                submit=self.submit,
                rejected=self.rejected,
                mailbox=box.mailbox,
                security=box.security,
                processed_folder=box.processed_folder,
                max_message_bytes=settings.email_max_message_bytes,
                max_attachment_bytes=settings.email_max_attachment_bytes,
                check=self._check,
                keep=self.keep,
            )
            tasks.append(poller.run(stopping, interval_s=box.interval_s))
        return tasks

    async def _receive(self, stopping: asyncio.Event) -> None:
        settings = self._settings
        handler = ReportMailHandler(
            settings.email_recipients,
            self.submit,
            max_attachment_bytes=settings.email_max_attachment_bytes,
            check=self._check,
            keep=self.keep,
        )
        receiver = SmtpReceiver(
            handler,
            host=settings.email_smtp_host,
            port=settings.email_smtp_port,
            max_message_bytes=settings.email_max_message_bytes,
        )
        await receiver.start()
        log.info("receiving report mail on %s:%d", settings.email_smtp_host, receiver.port)
        try:
            await stopping.wait()
        finally:
            await receiver.stop(timeout_s=self._drain_timeout_s)
