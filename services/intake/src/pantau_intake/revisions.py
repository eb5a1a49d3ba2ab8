"""Late changes by a reporter to a message Pantau kept: edits and deletions (WhatsApp revokes).

What was received is evidence and is never overwritten or erased. An edit is kept beside the
original (`report_revisions`); a deletion marks the report withdrawn (`reports.withdrawn_at`).
While the message is still part of an open conversation, an edit simply becomes the text the
report is stored with. Once the report is stored (so triage has it), each change is told to
triage as a `report.revised` event, staged in the transaction that records it.
"""

import logging
from datetime import datetime

import asyncpg

from pantau_shared.contract import Envelope, EventData, MessageRevoked, ReportRevised
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import repository

log = logging.getLogger(__name__)


class Revisions:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self._pool = pool
        self._outbox = outbox

    async def edited(
        self, conn: Connection, agency_id: str, edit_id: str, revises: str, at: datetime, text: str | None
    ) -> bool:
        """Keep an edit as a revision of the report holding `revises`; False if there is none."""
        holder = await repository.report_with_message(conn, agency_id, revises)
        if holder is None:
            return False
        async with conn.transaction():
            added = await repository.add_revision(conn, holder.report_id, edit_id, revises, at, text)
            if added and holder.stored:
                await self._outbox.stage(
                    conn,
                    ReportRevised(
                        report_id=holder.report_id,
                        agency_id=agency_id,
                        change="edited",
                        revised_at=at,
                        external_id=edit_id,
                        revises=revises,
                        text=text,
                    ),
                )
        if added and holder.stored:
            self._outbox.committed()
        log.info(
            "edit %s kept as a revision of report %s (%s)",
            edit_id,
            holder.report_id,
            "told to triage" if holder.stored else "applied to the open conversation",
        )
        return True

    async def revoked(self, envelope: Envelope[EventData]) -> None:
        revoke = envelope.data
        assert isinstance(revoke, MessageRevoked)
        async with self._pool.acquire() as conn:
            holder = await repository.report_with_message(conn, revoke.agency_id, revoke.revises)
            if holder is None:
                log.info(
                    "revoke %s of message %s ignored: Pantau kept no report of it",
                    revoke.external_id,
                    revoke.revises,
                )
                return
            async with conn.transaction():
                added = await repository.add_revision(
                    conn,
                    holder.report_id,
                    revoke.external_id,
                    revoke.revises,
                    revoke.revoked_at,
                    None,
                    change="withdrawn",
                )
                if added:
                    await repository.mark_withdrawn(conn, holder.report_id, revoke.revoked_at)
                    # Told to triage even while the conversation is open: triage keeps revisions
                    # by report, whichever of the two events it reads first.
                    await self._outbox.stage(
                        conn,
                        ReportRevised(
                            report_id=holder.report_id,
                            agency_id=revoke.agency_id,
                            change="withdrawn",
                            revised_at=revoke.revoked_at,
                            external_id=revoke.external_id,
                            revises=revoke.revises,
                        ),
                    )
        if added:
            self._outbox.committed()
        log.info(
            "revoke %s applied: message %s of report %s withdrawn by its sender, evidence kept%s",
            revoke.external_id,
            revoke.revises,
            holder.report_id,
            "" if added else " (seen before)",
        )
