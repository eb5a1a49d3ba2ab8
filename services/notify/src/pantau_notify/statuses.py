"""What providers report later about sent messages (WhatsApp delivered, read, failed); the
report also settles a send whose outcome was unknown, with the same sent/failed events."""

from collections.abc import Sequence
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
from pantau_shared.postgres import Connection

from . import repository


class Statuses:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self._pool = pool
        self._outbox = outbox

    async def provider_status(self, envelope: Envelope[EventData]) -> None:
        (outcome,) = await self.provider_statuses([envelope])
        if outcome is not None:
            raise outcome

    async def provider_statuses(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        """A fetched batch in one transaction, each status applied in the order it arrived (a
        message's delivered, read and failed), the settled sends' events in one outbox insert."""
        events: list[EventData] = []
        async with self._pool.acquire() as conn, conn.transaction():
            for envelope in envelopes:
                status = envelope.data
                assert isinstance(status, NotificationStatus)
                settled = await self._apply(conn, status)
                if settled is not None:
                    events.append(settled)
            await self._outbox.stage_many(conn, events)
        if events:
            self._outbox.committed()
        return [None] * len(envelopes)

    async def _apply(self, conn: Connection, status: NotificationStatus) -> EventData | None:
        """Record one status; the sent or failed event of a send it settles."""
        reason = f"{status.error_code} {status.error_title}" if status.error_code else None
        settled = None
        if status.delivery_id is not None and status.status != "deleted":
            settled = await repository.resolve_unknown(
                conn, status.delivery_id, status.provider_message_id, status.status, status.at, reason
            )
        await repository.record_provider_status(
            conn, status.provider_message_id, status.status, status.at, reason
        )
        if settled is None:
            return None
        fields: dict[str, Any] = {
            "delivery_id": settled.delivery_id,
            "agency_id": settled.agency_id,
            "case_id": settled.case_id,
            "report_id": settled.report_id,
            "channel": settled.channel,
            "template": settled.template,
            "recipient_id": settled.recipient_key,
        }
        if status.status == "failed":
            return NotificationFailed(
                **fields, failed_at=status.at, reason=reason or "failed", permanent=True
            )
        return NotificationSent(**fields, sent_at=status.at, provider_message_id=status.provider_message_id)
