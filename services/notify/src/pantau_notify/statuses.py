"""What providers report later about sent messages (WhatsApp delivered, read, failed); the
report also settles a send whose outcome was unknown, with the same sent/failed events."""

from typing import Any

import asyncpg

from pantau_shared.contract import (
    Envelope,
    EventData,
    NotificationFailed,
    NotificationSent,
    NotificationStatus,
)
from pantau_shared.outbox import Outbox

from . import repository


class Statuses:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self._pool = pool
        self._outbox = outbox

    async def provider_status(self, envelope: Envelope[EventData]) -> None:
        status = envelope.data
        assert isinstance(status, NotificationStatus)
        reason = f"{status.error_code} {status.error_title}" if status.error_code else None
        async with self._pool.acquire() as conn, conn.transaction():
            settled = None
            if status.delivery_id is not None and status.status != "deleted":
                settled = await repository.resolve_unknown(
                    conn, status.delivery_id, status.provider_message_id, status.status, status.at, reason
                )
            await repository.record_provider_status(
                conn, status.provider_message_id, status.status, status.at, reason
            )
            if settled is None:
                return
            fields: dict[str, Any] = {
                "delivery_id": settled.delivery_id,
                "agency_id": settled.agency_id,
                "case_id": settled.case_id,
                "report_id": settled.report_id,
                "channel": settled.channel,
                "template": settled.template,
                "recipient_id": settled.recipient_key,
            }
            event: EventData
            if status.status == "failed":
                event = NotificationFailed(
                    **fields, failed_at=status.at, reason=reason or "failed", permanent=True
                )
            else:
                event = NotificationSent(
                    **fields, sent_at=status.at, provider_message_id=status.provider_message_id
                )
            await self._outbox.stage(conn, event)
        self._outbox.committed()
