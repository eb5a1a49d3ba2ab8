"""Asking for a message: the delivery row and its notification.requested event, written in the
caller's transaction; and the team roster walk (first member on duty, else the supervisor)."""

import logging
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.contract import NotificationChannel, NotificationRequested
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import repository
from .channels import Template
from .roster import Shift, on_duty

log = logging.getLogger(__name__)


class Requests:
    def __init__(self, outbox: Outbox, channels: frozenset[NotificationChannel]) -> None:
        self._outbox = outbox
        self._whatsapp = NotificationChannel.WHATSAPP in channels

    async def request(
        self,
        conn: Connection,
        case_id: UUID,
        snapshot: dict[str, Any],
        *,
        agency_id: str,
        recipient_key: str,
        channel: NotificationChannel,
        address: str,
        template: Template,
        level: int = 0,
        **target: Any,
    ) -> bool:
        """A new delivery and its request; False when (case, recipient, template) had one."""
        delivery_id = await repository.create_delivery(
            conn,
            case_id=case_id,
            agency_id=agency_id,
            recipient_key=recipient_key,
            channel=channel.value,
            address=address,
            template=template.value,
            snapshot=snapshot,
            escalation_level=level,
            **target,
        )
        if delivery_id is None:
            return False
        await self._outbox.stage(
            conn,
            NotificationRequested(
                delivery_id=delivery_id,
                agency_id=agency_id,
                case_id=case_id,
                channel=channel,
                template=template.value,
                recipient_id=recipient_key,
                requested_at=datetime.now(UTC),
                escalation_level=level,
            ),
        )
        return True

    async def alert_team(
        self,
        conn: Connection,
        team: asyncpg.Record,
        case_id: UUID,
        snapshot: dict[str, Any],
        *,
        level: int,
        after: int,
    ) -> bool:
        """Alert the first member on duty after position `after`; else the supervisor."""
        alerted = await repository.alerted_members(conn, case_id, team["team_id"])
        now = datetime.now(UTC)
        for member in await repository.members_with_shifts(conn, team["team_id"]):
            if member["position"] <= after or member["member_id"] in alerted:
                continue
            # Patrol members on shift see WhatsApp first; email stays the fallback.
            by_whatsapp = bool(member["whatsapp"]) and self._whatsapp
            if not (member["email"] or by_whatsapp):
                continue
            if not on_duty([_shift(text) for text in member["shifts"]], now, team["region_prefix"]):
                continue
            return await self.request(
                conn,
                case_id,
                snapshot,
                agency_id=team["agency_id"],
                recipient_key=f"member:{member['member_id']}",
                channel=NotificationChannel.WHATSAPP if by_whatsapp else NotificationChannel.EMAIL,
                address=member["whatsapp"] if by_whatsapp else member["email"],
                template=Template.CASE_ALERT,
                level=level,
                team_id=team["team_id"],
                member_id=member["member_id"],
                ack_minutes=team["ack_minutes"],
            )
        if team["supervisor_email"]:
            return await self.request(
                conn,
                case_id,
                snapshot,
                agency_id=team["agency_id"],
                recipient_key=f"supervisor:{team['team_id']}",
                channel=NotificationChannel.EMAIL,
                address=team["supervisor_email"],
                template=Template.CASE_ESCALATION,
                level=level,
                team_id=team["team_id"],
            )
        log.warning("team %s has nobody on duty and no supervisor for case %s", team["name"], case_id)
        return False


def _shift(text: str) -> Shift:
    weekdays, starts, ends = text.split("|")
    return Shift(
        frozenset(int(d) for d in weekdays.strip("{}").split(",")),
        time.fromisoformat(starts),
        time.fromisoformat(ends),
    )
