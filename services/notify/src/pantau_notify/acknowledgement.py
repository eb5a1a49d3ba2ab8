"""Acknowledgement: a patrol member confirms they handle an alert (API, signed link, or the
WhatsApp button); the team's other alerts for the case count as acknowledged, and escalation stops."""

from datetime import UTC, datetime

import asyncpg

from pantau_shared import metrics
from pantau_shared.bus import NotFound
from pantau_shared.contract import NotificationAcknowledged
from pantau_shared.contract.rpc import Acknowledged, AcknowledgeNotification
from pantau_shared.outbox import Outbox

from . import repository


class Acknowledgements:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self._pool = pool
        self._outbox = outbox

    async def acknowledge(self, agency_id: str, command: AcknowledgeNotification) -> Acknowledged:
        actor = command.actor.strip()
        delivery_id = command.delivery_id
        async with self._pool.acquire() as conn, conn.transaction():
            row = await repository.acknowledge(conn, agency_id, delivery_id, actor, command.principal)
            if row is None:
                raise NotFound(f"notifikasi {delivery_id} tidak ditemukan")
            if row.acknowledged_at is None:
                await self._outbox.stage(
                    conn,
                    NotificationAcknowledged(
                        delivery_id=delivery_id,
                        agency_id=agency_id,
                        case_id=row.case_id,
                        acknowledged_at=datetime.now(UTC),
                        acknowledged_by=actor,
                        via=command.via,
                        principal=command.principal,
                    ),
                )
        self._outbox.committed()
        if row.acknowledged_at is None and row.sent_at is not None:
            elapsed = datetime.now(UTC) - row.sent_at
            metrics.ACKNOWLEDGEMENT_SECONDS.labels(command.via).observe(elapsed.total_seconds())
        return Acknowledged(delivery_id=delivery_id, case_id=row.case_id, acknowledged=True)
