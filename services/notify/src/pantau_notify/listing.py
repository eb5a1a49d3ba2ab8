"""Pages of the agency's alerts and news (`notification.deliveries`), newest first.

Only deliveries about a case are listed: a reporter's receipt names the reporter by pseudonym,
and the contact a message went to stays inside notify's sending path.
"""

from datetime import datetime
from uuid import UUID

import asyncpg

from pantau_shared import paging
from pantau_shared.contract import NotificationView
from pantau_shared.contract.queue import DeliveryListQuery, DeliveryPage

COLUMNS = (
    "delivery_id, case_id, channel, template, recipient, state, attempts, last_error,"
    " provider_message_id, created_at, sent_at, escalation_level, acknowledged_at, acknowledged_by"
)
KIND = "deliveries"


class DeliveryListing:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_deliveries(self, agency_id: str, query: DeliveryListQuery) -> DeliveryPage:
        where = paging.Where([agency_id], ["agency_id = $1", "case_id IS NOT NULL"])
        if query.state:
            where.add(f"state = ANY({where.param(list(query.state))}::text[])")
        if query.channel:
            where.add(f"channel = ANY({where.param([c.value for c in query.channel])}::text[])")
        if query.unacknowledged:
            where.add("team_id IS NOT NULL AND acknowledged_at IS NULL")
        if query.created_from is not None:
            where.add(f"created_at >= {where.param(query.created_from)}")
        if query.created_to is not None:
            where.add(f"created_at < {where.param(query.created_to)}")
        if query.cursor is not None:
            where.after("created_at, delivery_id", query.cursor, KIND, (datetime, UUID), descending=True)
        rows = await self._pool.fetch(
            f"SELECT {COLUMNS} FROM deliveries WHERE {where.sql()}"
            f" ORDER BY created_at DESC, delivery_id DESC LIMIT {where.param(query.limit + 1)}",
            *where.args,
        )
        return DeliveryPage(
            notifications=[NotificationView.model_validate(dict(row)) for row in rows[: query.limit]],
            next_cursor=paging.next_cursor(rows, query.limit, KIND, ("created_at", "delivery_id")),
        )
