"""Receipts: a report that came by WhatsApp or email is answered with its number, where the
reporter wrote from. A receipt is a delivery like any alert (requested, then sent or failed)."""

import logging
from datetime import UTC, datetime

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
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, channels: frozenset[NotificationChannel]) -> None:
        self._pool = pool
        self._outbox = outbox
        self._channels = channels

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        report = envelope.data
        assert isinstance(report, ReportReceived)
        channel = _reply_channel(report.channel.value)
        if report.reporter_id is None or channel is None or channel not in self._channels:
            return
        if channel is NotificationChannel.EMAIL and (
            report.sender_auth is None or report.sender_auth.verdict != "pass"
        ):
            # A forged From must not make Pantau mail a stranger: receipts only to verified senders.
            log.info("no receipt for report %s: the sender's address is not verified", report.report_id)
            return
        async with self._pool.acquire() as conn, conn.transaction():
            delivery_id = await repository.create_receipt(
                conn,
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
            if delivery_id is None:
                return
            await self._outbox.stage(
                conn,
                NotificationRequested(
                    delivery_id=delivery_id,
                    agency_id=report.agency_id,
                    report_id=report.report_id,
                    channel=channel,
                    template=Template.REPORT_RECEIPT.value,
                    recipient_id=f"reporter:{report.reporter_id}",
                    requested_at=datetime.now(UTC),
                ),
            )
        self._outbox.committed()


def _reply_channel(report_channel: str) -> NotificationChannel | None:
    try:
        return NotificationChannel(report_channel)
    except ValueError:
        return None  # an API or web report: nobody wrote to us to answer
