"""Conversations, not fragments: a WhatsApp sender's messages within a short window (text, then a
photo, then a place) become one report, so the patrol is alerted for a report, not for each piece.

Each message is stored as a part of its sender's open conversation as it arrives (so nothing is
lost if the process dies); when the sender has been quiet for `quiet_s`, or the conversation is
`longest_s` old, one instance claims it and stores the report with its event in one transaction.
A conversation of answers, stickers and voice notes alone is kept as evidence but opens no case.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

from pantau_shared.contract import ReportSubmitted
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import normalise, repository
from .flood import FloodGuard

if TYPE_CHECKING:
    from .evidence.intake_events import EvidenceIntake

log = logging.getLogger(__name__)

# Kinds that say nothing on their own: quick-reply and list answers, stickers, voice notes.
FRAGMENT_KINDS = frozenset({"answer", "sticker", "voice"})
MAX_TEXT = 20_000


def gathered(report_id: object, parts: list[ReportSubmitted]) -> ReportSubmitted:
    """One report from a conversation's messages, in the order they came."""
    first = parts[0]
    texts = [p.text.strip() for p in parts if p.text and p.text.strip()]
    text = "\n".join(texts)[:MAX_TEXT] or None
    return first.model_copy(
        update={
            "report_id": report_id,
            "text": text,
            "url": next((p.url for p in parts if p.url), None),
            "attachments": tuple(a for p in parts for a in p.attachments)[:100],
            "location": next((p.location for p in reversed(parts) if p.location), None),
            "contacts": tuple(c for p in parts for c in p.contacts)[:20],
            "forwarded": any(p.forwarded for p in parts),
            "message_kind": "conversation",
            "revises": None,
        }
    )


def _checked(report: ReportSubmitted, kept: tuple[frozenset[str], frozenset[str]]) -> bool:
    """Whether every file of the report was among those looked at."""
    return all(a.sha256 is None or a.sha256 in kept[0] for a in report.attachments)


def fragments_only(parts: list[ReportSubmitted]) -> bool:
    return all(p.message_kind in FRAGMENT_KINDS for p in parts)


class Conversations:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        flood: FloodGuard,
        *,
        quiet_s: float,
        longest_s: float,
        evidence: "EvidenceIntake | None" = None,
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        # Writes the report's evidence (its links' jobs, the files intake kept) as it is stored.
        self._evidence = evidence
        self._flood = flood
        self.quiet_s = quiet_s
        self.longest_s = longest_s

    async def add(self, conn: Connection, report: ReportSubmitted, digest: str, reporter_id: str) -> None:
        async with conn.transaction():
            conversation, added = await repository.add_part(
                conn, report, digest, reporter_id, datetime.now(UTC)
            )
        if added:
            log.info("WhatsApp %s %s joins report %s", report.message_kind, report.external_id, conversation)

    async def close_due(self) -> int:
        """Store every conversation that fell quiet; returns how many this instance stored."""
        closed = 0
        for due in await repository.due_conversations(self._pool, self.quiet_s, self.longest_s):
            # Counted before the transaction (Redis is a network call); counting is idempotent.
            count = await self._flood.count(due.reporter_id, due.report_id)
            kept = await self._kept_files(due.report_id)
            async with self._pool.acquire() as conn, conn.transaction():
                parts = await repository.claim_conversation(conn, due.report_id)
                if not parts:
                    continue
                report = gathered(due.report_id, parts)
                if self._evidence is not None and not _checked(report, kept):
                    # A file came in after it was looked at: look again at the next pass.
                    continue
                record = normalise.received(
                    report, received_at=datetime.now(UTC), reporter_id=due.reporter_id
                ).model_copy(
                    update={
                        "parts": len(parts),
                        "fragments_only": fragments_only(parts),
                        "sender_reports_today": count,
                        "sender_flagged": self._flood.over(count),
                    }
                )
                stored = await repository.insert_report(
                    conn, record, report.content_digest(), self._outbox.row(record.on_bus())[1]
                )
                if stored and self._evidence is not None:
                    await self._evidence.report_stored(conn, record, kept[1])
                await repository.close_conversation(conn, due.report_id)
            self._outbox.committed()
            if self._evidence is not None:
                self._evidence.wake()
            closed += 1
            log.info(
                "conversation %s stored as one report of %d message(s)%s",
                due.report_id,
                len(parts),
                " (fragments only: no case)" if record.fragments_only else "",
            )
        return closed

    async def _kept_files(self, report_id: UUID) -> tuple[frozenset[str], frozenset[str]]:
        """(every file hash looked at, those whose bytes intake kept) of the conversation's
        messages, asked of the object store before the transaction that stores it."""
        if self._evidence is None:
            return frozenset(), frozenset()
        async with self._pool.acquire() as conn:
            parts = await repository.conversation_parts(conn, report_id)
        attachments = [a for part in parts for a in part.attachments]
        return frozenset(a.sha256 for a in attachments if a.sha256), await self._evidence.kept(attachments)

    async def run(self, stopping: asyncio.Event) -> None:
        interval = max(0.2, min(self.quiet_s / 4, 5.0))
        while not stopping.is_set():
            try:
                await self.close_due()
            except Exception:
                log.exception("closing quiet conversations failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)
