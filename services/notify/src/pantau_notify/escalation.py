"""Escalation: a team alert nobody acknowledged in time goes to the next member on duty, then
to the supervisor."""

import asyncio
import logging

import asyncpg

from pantau_shared.outbox import Outbox

from . import repository
from .channels import Template
from .requesting import Requests

log = logging.getLogger(__name__)


class Escalation:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, requests: Requests, sweep_s: float) -> None:
        self._pool = pool
        self._outbox = outbox
        self._requests = requests
        self._sweep_s = sweep_s

    async def escalate_due(self) -> int:
        """Escalate every team alert whose acknowledgement deadline has passed."""
        escalated = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for due in await repository.due_escalations(conn):
                await repository.mark_escalated(conn, due.delivery_id)
                if await repository.team_case_acknowledged(conn, due.case_id, due.team.team_id):
                    continue
                if due.template == Template.CASE_ESCALATION:
                    continue  # the supervisor was the last step
                escalated += await self._requests.alert_team(
                    conn,
                    due.team,
                    due.case_id,
                    due.snapshot,
                    level=due.escalation_level + 1,
                    after=due.position if due.position is not None else -1,
                )
        if escalated:
            self._outbox.committed()
        return escalated

    async def escalate_until(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.escalate_due()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("escalation sweep will retry: %s", error)
            try:
                await asyncio.wait_for(stopping.wait(), self._sweep_s)
            except TimeoutError:
                pass
