"""Receipts: a report that came by WhatsApp or email is answered with its number, where the
reporter wrote from. A receipt is a delivery like any alert (requested, then sent or failed)."""

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from pantau_shared.contract import (
    Envelope,
    EventData,
    NotificationChannel,
    NotificationRequested,
    ReportReceived,
)
from pantau_shared.outbox import Outbox

from . import repository
from .channels import Template

log = logging.getLogger(__name__)


class Receipts:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        channels: frozenset[NotificationChannel],
        hand_over: Callable[[Sequence[NotificationRequested]], asyncio.Task[None] | None],
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        self._channels = channels
        self._hand_over = hand_over

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        (outcome,) = await self.reports_received([envelope])
        if outcome is not None:
            raise outcome

    async def reports_received(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        """A fetched batch: the receipts of all its reports in one statement and their requests
        in one outbox insert (most reports, from the API or collectors, want none)."""
        wanted: dict[UUID, repository.Receipt] = {}
        for envelope in envelopes:
            report = envelope.data
            assert isinstance(report, ReportReceived)
            receipt = self._receipt(report)
            if receipt is not None:
                wanted.setdefault(report.report_id, receipt)  # a redelivery in the same batch
        if wanted:
            now = datetime.now(UTC)
            async with self._pool.acquire() as conn, conn.transaction():
                created = await repository.create_receipts(conn, list(wanted.values()))
                staged = [
                    NotificationRequested(
                        delivery_id=delivery_id,
                        agency_id=wanted[report_id].agency_id,
                        report_id=report_id,
                        channel=NotificationChannel(wanted[report_id].channel),
                        template=Template.REPORT_RECEIPT.value,
                        recipient_id=f"reporter:{wanted[report_id].reporter_id}",
                        requested_at=now,
                    )
                    for report_id, delivery_id in created.items()
                ]
                await self._outbox.stage_many(conn, staged)
            # Sent from here at once, as the fan-out's alerts are.
            self._hand_over(staged)
            self._outbox.committed()
        return [None] * len(envelopes)

    def _receipt(self, report: ReportReceived) -> repository.Receipt | None:
        channel = _reply_channel(report.channel.value)
        if report.reporter_id is None or channel is None or channel not in self._channels:
            return None
        if channel is NotificationChannel.EMAIL and (
            report.sender_auth is None or report.sender_auth.verdict != "pass"
        ):
            # A forged From must not make Pantau mail a stranger: receipts only to verified senders.
            log.info("no receipt for report %s: the sender's address is not verified", report.report_id)
            return None
        return repository.Receipt(
            report_id=report.report_id,
            agency_id=report.agency_id,
            reporter_id=report.reporter_id,
            channel=channel.value,
            content={
                "report_id": str(report.report_id),
                "external_id": report.external_id,
                # Only a sticker, a voice note or a tapped answer: the receipt asks for words.
                "fragments_only": report.fragments_only,
            },
        )


def _reply_channel(report_channel: str) -> NotificationChannel | None:
    try:
        return NotificationChannel(report_channel)
    except ValueError:
        return None  # an API or web report: nobody wrote to us to answer
