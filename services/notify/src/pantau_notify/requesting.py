"""Asking for messages: delivery rows and their notification.requested events, written in the
caller's transaction in one statement each; and the team roster walk (first member on duty,
else the supervisor)."""

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from pantau_shared.contract import NotificationChannel, NotificationRequested
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import repository
from .channels import Template
from .models import CaseSnapshot, DeliveryRequest, Team
from .roster import on_duty

log = logging.getLogger(__name__)


class Requests:
    def __init__(self, outbox: Outbox, channels: frozenset[NotificationChannel]) -> None:
        self._outbox = outbox
        self._whatsapp = NotificationChannel.WHATSAPP in channels

    async def request_many(
        self, conn: Connection, requests: Sequence[DeliveryRequest]
    ) -> list[NotificationRequested]:
        """New deliveries and their requests; a (case, recipient, template) that had one is left
        alone. Returns the requests staged (the new deliveries)."""
        created = await repository.create_deliveries(conn, requests)
        now = datetime.now(UTC)
        staged = [
            NotificationRequested(
                delivery_id=delivery_id,
                agency_id=request.agency_id,
                case_id=request.case_id,
                channel=request.channel,
                template=request.template,
                recipient_id=request.recipient_key,
                requested_at=now,
                escalation_level=request.escalation_level,
            )
            for request, delivery_id in created
        ]
        await self._outbox.stage_many(conn, staged)
        return staged

    def team_alert(
        self,
        team: Team,
        case_id: UUID,
        snapshot: CaseSnapshot,
        *,
        level: int,
        after: int,
        alerted: Collection[UUID] = (),
        now: datetime | None = None,
    ) -> DeliveryRequest | None:
        """The alert for the first member on duty after position `after` not alerted yet;
        else for the supervisor; None when the team has neither."""
        moment = now or datetime.now(UTC)
        for member in team.members:
            if member.position <= after or member.member_id in alerted:
                continue
            # Patrol members on shift see WhatsApp first; email stays the fallback.
            by_whatsapp = bool(member.whatsapp) and self._whatsapp
            if not (member.email or by_whatsapp):
                continue
            if not on_duty(list(member.shifts), moment, team.audience.region_prefix):
                continue
            return DeliveryRequest(
                case_id=case_id,
                agency_id=team.agency_id,
                recipient_key=f"member:{member.member_id}",
                channel=NotificationChannel.WHATSAPP if by_whatsapp else NotificationChannel.EMAIL,
                address=(member.whatsapp if by_whatsapp else member.email) or "",
                template=Template.CASE_ALERT.value,
                snapshot=snapshot,
                escalation_level=level,
                team_id=team.team_id,
                member_id=member.member_id,
                ack_minutes=team.ack_minutes,
            )
        if team.supervisor_email:
            return DeliveryRequest(
                case_id=case_id,
                agency_id=team.agency_id,
                recipient_key=f"supervisor:{team.team_id}",
                channel=NotificationChannel.EMAIL,
                address=team.supervisor_email,
                template=Template.CASE_ESCALATION.value,
                snapshot=snapshot,
                escalation_level=level,
                team_id=team.team_id,
            )
        log.warning("team %s has nobody on duty and no supervisor for case %s", team.name, case_id)
        return None

    async def alert_team(
        self, conn: Connection, team: Team, case_id: UUID, snapshot: CaseSnapshot, *, level: int, after: int
    ) -> bool:
        """Alert the next member on duty of `team` for a case (an escalation step)."""
        members = (await repository.members_of(conn, [team.team_id])).get(team.team_id, ())
        request = self.team_alert(
            replace(team, members=members),
            case_id,
            snapshot,
            level=level,
            after=after,
            alerted=await repository.alerted_members(conn, case_id, team.team_id),
        )
        return request is not None and bool(await self.request_many(conn, [request]))
