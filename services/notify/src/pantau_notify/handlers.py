"""What notify does with case events, delivery requests, and reads of deliveries."""

import asyncio
import json
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.bus import Answer, NotFound, RetryLater, RpcClient, Subscription
from pantau_shared.contract import (
    TAXONOMY,
    CaseOpened,
    CaseUpdated,
    Category,
    Envelope,
    EventData,
    NotificationAcknowledged,
    NotificationChannel,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    NotificationStatus,
    NotificationView,
    PriorityLevel,
    ReportReceived,
)
from pantau_shared.contract.rpc import (
    CASE_REPORTERS,
    NOTIFICATION_ACK,
    NOTIFICATION_LIST,
    REPORTER_CONTACT,
    Acknowledged,
    AcknowledgeNotification,
    CaseQuery,
    Notifications,
    ReporterQuery,
)
from pantau_shared.links import ack_token
from pantau_shared.outbox import Outbox
from pantau_shared.providers import PermanentFailure, TransientFailure
from pantau_shared.whatsapp import ReengagementRequired, WhatsAppClient

from . import repository
from .email import (
    PRIORITY_LABELS,
    SmtpSender,
    render_case_alert,
    render_receipt,
    render_report_back,
    report_back_text,
)
from .roster import Shift, on_duty
from .settings import NotifySettings

log = logging.getLogger(__name__)

CASE_ALERT = "case_alert"
CASE_ESCALATION = "case_escalation"
REPORT_BACK = "report_back"


class AckLinks:
    """Links in alerts that acknowledge them without an API key (signed per delivery)."""

    def __init__(self, public_url: str, secret: bytes) -> None:
        self._base = public_url.rstrip("/")
        self._secret = secret

    def ack_url(self, agency_id: str, delivery_id: str) -> str:
        token = ack_token(self._secret, agency_id, delivery_id)
        return f"{self._base}/ack/{agency_id}/{delivery_id}?t={token}"


def alert_components(
    snapshot: dict[str, Any], delivery_id: str, settings: NotifySettings
) -> list[dict[str, Any]]:
    """Template parameters: priority, categories, summary and link; the button's payload
    carries the delivery, so the member's tap acknowledges exactly this alert."""
    categories = (
        ", ".join(TAXONOMY[Category(c["category"])].label for c in snapshot.get("categories", []))
        or "belum terklasifikasi"
    )
    texts = [
        PRIORITY_LABELS[PriorityLevel(snapshot["priority_level"])],
        categories,
        (snapshot.get("summary") or "-")[:200],
        settings.case_link_base + snapshot["case_id"],
    ]
    return [
        {"type": "body", "parameters": [{"type": "text", "text": t} for t in texts]},
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": f"ack:{delivery_id}"}],
        },
    ]


def _shift(text: str) -> Shift:
    weekdays, starts, ends = text.split("|")
    return Shift(
        frozenset(int(d) for d in weekdays.strip("{}").split(",")),
        time.fromisoformat(starts),
        time.fromisoformat(ends),
    )


class NotifyHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        settings: NotifySettings,
        sender: SmtpSender,
        links: AckLinks,
        rpc: RpcClient,
        whatsapp: WhatsAppClient | None = None,
    ) -> None:
        self._rpc = rpc
        self._whatsapp = whatsapp
        self._pool = pool
        self._outbox = outbox
        self._settings = settings
        self._sender = sender
        self._links = links

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="notify-cases",
                stream="CASES",
                subject_suffix="case.>",
                handler=self.case_changed,
                events=(CaseOpened, CaseUpdated),
            ),
            Subscription(
                durable="notify-deliveries",
                stream="NOTIFICATIONS",
                subject_suffix=NotificationRequested.SUBJECT,
                handler=self.notification_requested,
                events=(NotificationRequested,),
            ),
            Subscription(
                durable="notify-statuses",
                stream="NOTIFICATIONS",
                subject_suffix=NotificationStatus.SUBJECT,
                handler=self.provider_status,
                events=(NotificationStatus,),
            ),
            Subscription(
                durable="notify-receipts",
                stream="REPORTS",
                subject_suffix=ReportReceived.SUBJECT,
                handler=self.report_received,
                events=(ReportReceived,),
            ),
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return [Answer(NOTIFICATION_LIST, self.list_for_case), Answer(NOTIFICATION_ACK, self.acknowledge)]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        return [self.escalate_until(stopping)]

    async def close(self) -> None:
        await self._sender.close()
        if self._whatsapp is not None:
            await self._whatsapp.aclose()

    async def report_received(self, envelope: Envelope[EventData]) -> None:
        """Answer a WhatsApp or email report with its number, where the reporter wrote from."""
        report = envelope.data
        assert isinstance(report, ReportReceived)
        on_whatsapp = report.channel == "whatsapp" and self._whatsapp is not None
        if report.reporter_id is None or not (on_whatsapp or report.channel == "email"):
            return
        async with self._pool.acquire() as conn, conn.transaction():
            delivery = await repository.receipt(
                conn, report.report_id, report.agency_id, report.reporter_id, report.channel.value
            )
            if delivery["state"] != "pending":
                return
            contact = await self._rpc.call(
                report.agency_id, REPORTER_CONTACT, ReporterQuery(reporter_id=report.reporter_id)
            )
            address = contact.phone if on_whatsapp else contact.email
            if not address:
                await repository.mark_skipped(conn, delivery["delivery_id"], "tanpa kontak")
                return
            number = str(report.report_id).split("-")[0].upper()
            try:
                if on_whatsapp:
                    assert self._whatsapp is not None
                    sent = await self._whatsapp.send_text(
                        address,
                        f"Terima kasih, laporan Anda sudah kami terima dengan nomor "
                        f"{number}. Petugas akan memeriksanya, dan kami kabari "
                        "perkembangannya di sini.",
                        reply_to=report.external_id,
                    )
                else:
                    sent = await self._sender.send(
                        render_receipt(
                            settings=self._settings,
                            recipient=address,
                            name=contact.name,
                            number=number,
                            agency_id=report.agency_id,
                            in_reply_to=report.external_id,
                        )
                    )
            except TransientFailure as error:
                await repository.mark_attempt_failed(
                    conn, delivery["delivery_id"], str(error), final=False, at=datetime.now(UTC)
                )
                raise RetryLater(str(error)) from error
            except PermanentFailure as error:
                await repository.mark_attempt_failed(
                    conn, delivery["delivery_id"], str(error), final=True, at=datetime.now(UTC)
                )
                return
            await repository.mark_sent(conn, delivery["delivery_id"], datetime.now(UTC), sent)

    async def provider_status(self, envelope: Envelope[EventData]) -> None:
        status = envelope.data
        assert isinstance(status, NotificationStatus)
        reason = f"{status.error_code} {status.error_title}" if status.error_code else None
        await repository.record_provider_status(
            self._pool, status.provider_message_id, status.status, status.at, reason
        )

    async def case_changed(self, envelope: Envelope[EventData]) -> None:
        case = envelope.data
        assert isinstance(case, CaseOpened | CaseUpdated)
        fields = case.model_dump(mode="json", exclude_none=True)
        reporters: list[str] = []
        if isinstance(case, CaseUpdated) and case.change == "state_changed":
            # Asked before the transaction: a read from triage should not hold a row lock here.
            answer = await self._rpc.call(case.agency_id, CASE_REPORTERS, CaseQuery(case_id=case.case_id))
            reporters = answer.reporter_ids
        async with self._pool.acquire() as conn, conn.transaction():
            snapshot = await repository.merge_case(
                conn, case.case_id, case.agency_id, fields, opened=isinstance(case, CaseOpened)
            )
            if snapshot is None:
                raise RetryLater(f"case {case.case_id} updated before its opening was seen")
            matches = await repository.matching_subscriptions(
                conn,
                agencies=[case.agency_id, *snapshot.get("routed_to", [])],
                region_code=snapshot.get("region_code"),
                categories=[c["category"] for c in snapshot.get("categories", [])],
                priority=case.priority,
            )
            for subscription in matches:
                await self._request(
                    conn,
                    case.case_id,
                    snapshot,
                    agency_id=subscription["agency_id"],
                    recipient_key=str(subscription["subscription_id"]),
                    channel=subscription["channel"],
                    address=subscription["address"],
                    template=CASE_ALERT,
                    subscription_id=subscription["subscription_id"],
                )
            teams = await repository.matching_teams(
                conn,
                agencies=[case.agency_id, *snapshot.get("routed_to", [])],
                region_code=snapshot.get("region_code"),
                categories=[c["category"] for c in snapshot.get("categories", [])],
                priority=case.priority,
            )
            for team in teams:
                # A team is alerted once per case; later steps are the escalation's.
                if not await repository.team_alerted(conn, case.case_id, team["team_id"]):
                    await self._alert_team(conn, team, case.case_id, snapshot, level=0, after=-1)
            for reporter_id in reporters:
                # Keyed by state, so each step of the case is told once; the contact is looked
                # up only when sending, so notify never stores it.
                await self._request(
                    conn,
                    case.case_id,
                    snapshot,
                    agency_id=case.agency_id,
                    recipient_key=f"reporter:{reporter_id}:{snapshot['state']}",
                    channel="email",
                    address=reporter_id,
                    template=REPORT_BACK,
                )
        self._outbox.committed()

    async def _request(
        self,
        conn: asyncpg.Connection,
        case_id: UUID,
        snapshot: dict[str, Any],
        *,
        agency_id: str,
        recipient_key: str,
        channel: str,
        address: str,
        template: str,
        level: int = 0,
        **target: Any,
    ) -> bool:
        delivery_id = await repository.create_delivery(
            conn,
            case_id=case_id,
            agency_id=agency_id,
            recipient_key=recipient_key,
            channel=channel,
            address=address,
            template=template,
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
                channel=NotificationChannel(channel),
                template=template,
                recipient_id=recipient_key,
                requested_at=datetime.now(UTC),
                escalation_level=level,
            ),
        )
        return True

    async def _alert_team(
        self,
        conn: asyncpg.Connection,
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
            shifts = [_shift(text) for text in member["shifts"]]
            reachable = member["email"] or (member["whatsapp"] and self._whatsapp is not None)
            if not reachable or not on_duty(shifts, now, team["region_prefix"]):
                continue
            # Patrol members on shift see WhatsApp first; email stays the fallback.
            by_whatsapp = bool(member["whatsapp"]) and self._whatsapp is not None
            return await self._request(
                conn,
                case_id,
                snapshot,
                agency_id=team["agency_id"],
                recipient_key=f"member:{member['member_id']}",
                channel="whatsapp" if by_whatsapp else "email",
                address=member["whatsapp"] if by_whatsapp else member["email"],
                template=CASE_ALERT,
                level=level,
                team_id=team["team_id"],
                member_id=member["member_id"],
                ack_minutes=team["ack_minutes"],
            )
        if team["supervisor_email"]:
            return await self._request(
                conn,
                case_id,
                snapshot,
                agency_id=team["agency_id"],
                recipient_key=f"supervisor:{team['team_id']}",
                channel="email",
                address=team["supervisor_email"],
                template=CASE_ESCALATION,
                level=level,
                team_id=team["team_id"],
            )
        log.warning("team %s has nobody on duty and no supervisor for case %s", team["name"], case_id)
        return False

    async def escalate_due(self) -> int:
        """Escalate every team alert whose acknowledgement deadline has passed."""
        escalated = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for due in await repository.due_escalations(conn):
                await repository.mark_escalated(conn, due["delivery_id"])
                if await repository.team_case_acknowledged(conn, due["case_id"], due["team_id"]):
                    continue
                if due["template"] == CASE_ESCALATION:
                    continue  # the supervisor was the last step
                # `due` carries the team's columns too (agency, region, supervisor, deadline).
                escalated += await self._alert_team(
                    conn,
                    due,
                    due["case_id"],
                    json.loads(due["case_snapshot"]),
                    level=due["escalation_level"] + 1,
                    after=due["position"] if due["position"] is not None else -1,
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
                await asyncio.wait_for(stopping.wait(), self._settings.escalation_sweep_s)
            except TimeoutError:
                pass

    async def acknowledge(self, agency_id: str, command: AcknowledgeNotification) -> Acknowledged:
        actor = command.actor.strip()
        delivery_id = command.delivery_id
        async with self._pool.acquire() as conn, conn.transaction():
            row = await repository.acknowledge(conn, agency_id, delivery_id, actor)
            if row is None:
                raise NotFound(f"notifikasi {delivery_id} tidak ditemukan")
            if row["acknowledged_at"] is None:
                await self._outbox.stage(
                    conn,
                    NotificationAcknowledged(
                        delivery_id=delivery_id,
                        agency_id=agency_id,
                        case_id=row["case_id"],
                        acknowledged_at=datetime.now(UTC),
                        acknowledged_by=actor,
                        via=command.via,
                    ),
                )
        self._outbox.committed()
        return Acknowledged(delivery_id=delivery_id, case_id=row["case_id"], acknowledged=True)

    async def notification_requested(self, envelope: Envelope[EventData]) -> None:
        request = envelope.data
        assert isinstance(request, NotificationRequested)
        retry: str | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock makes concurrent redeliveries of one request wait, then see 'sent'.
            delivery = await repository.lock_delivery(conn, request.delivery_id)
            if delivery is None or delivery["state"] != "pending":
                return
            now = datetime.now(UTC)
            try:
                message_id = await self._send(conn, delivery, str(request.delivery_id))
                if message_id is None:
                    await repository.mark_skipped(
                        conn, request.delivery_id, "pelapor tidak meminta kabar atau tanpa kontak"
                    )
                    return
            except TransientFailure as error:
                attempts = await repository.mark_attempt_failed(
                    conn,
                    request.delivery_id,
                    str(error),
                    at=now,
                    final=delivery["attempts"] + 1 >= self._settings.max_attempts,
                )
                if attempts < self._settings.max_attempts:
                    retry = str(error)
                else:
                    await self._outbox.stage(conn, _failed(request, str(error), permanent=False))
            except PermanentFailure as error:
                await repository.mark_attempt_failed(
                    conn, request.delivery_id, str(error), final=True, at=now
                )
                await self._outbox.stage(conn, _failed(request, str(error), permanent=True))
            else:
                await repository.mark_sent(conn, request.delivery_id, now, message_id)
                await self._outbox.stage(
                    conn,
                    NotificationSent(
                        delivery_id=request.delivery_id,
                        agency_id=request.agency_id,
                        case_id=request.case_id,
                        channel=request.channel,
                        template=request.template,
                        recipient_id=request.recipient_id,
                        sent_at=now,
                        provider_message_id=message_id,
                    ),
                )
        self._outbox.committed()
        if retry is not None:
            # Raised after the commit, so the attempt count survives the redelivery.
            raise RetryLater(retry)

    async def _send(self, conn: asyncpg.Connection, delivery: Any, delivery_id: str) -> str | None:
        """Send on the right channel; the provider's message id, or None when there is no one
        to send to (a reporter who did not ask for news)."""
        snapshot = json.loads(delivery["case_snapshot"])
        if delivery["channel"] == "whatsapp" and delivery["template"] == CASE_ALERT:
            assert self._whatsapp is not None
            try:
                return await self._whatsapp.send_template(
                    delivery["recipient"],
                    self._settings.whatsapp_alert_template,
                    self._settings.whatsapp_template_language,
                    alert_components(snapshot, delivery_id, self._settings),
                )
            except PermanentFailure:
                # WhatsApp refused for good: the member's email, where the roster has one.
                email = await repository.switch_to_email(conn, delivery["delivery_id"], delivery["member_id"])
                if email is None:
                    raise
                delivery = {**dict(delivery), "recipient": email, "channel": "email"}
        if delivery["template"] != REPORT_BACK:
            return await self._sender.send(
                render_case_alert(
                    snapshot,
                    settings=self._settings,
                    recipient=delivery["recipient"],
                    delivery_id=delivery_id,
                    template=delivery["template"],
                    ack_url=self._links.ack_url(delivery["agency_id"], delivery_id)
                    if delivery["team_id"]
                    else None,
                    team=delivery["team_name"] or "",
                    ack_minutes=delivery["ack_minutes"] or 0,
                )
            )
        contact = await self._rpc.call(
            delivery["agency_id"], REPORTER_CONTACT, ReporterQuery(reporter_id=delivery["recipient"])
        )
        if not contact.wants_updates:
            return None
        if contact.phone and self._whatsapp is not None:
            try:
                return await self._whatsapp.send_text(contact.phone, report_back_text(snapshot, contact.name))
            except ReengagementRequired:
                # Outside WhatsApp's 24-hour window free text is refused: email if we can.
                if not contact.email:
                    raise
        if not contact.email:
            return None
        return await self._sender.send(
            render_report_back(
                snapshot,
                settings=self._settings,
                recipient=contact.email,
                name=contact.name,
                delivery_id=delivery_id,
            )
        )

    async def list_for_case(self, agency_id: str, request: CaseQuery) -> Notifications:
        rows = await repository.deliveries_for_case(self._pool, agency_id, request.case_id)
        return Notifications(notifications=[NotificationView.model_validate(dict(row)) for row in rows])


def _failed(request: NotificationRequested, reason: str, *, permanent: bool) -> NotificationFailed:
    return NotificationFailed(
        delivery_id=request.delivery_id,
        agency_id=request.agency_id,
        case_id=request.case_id,
        channel=request.channel,
        template=request.template,
        recipient_id=request.recipient_id,
        failed_at=datetime.now(UTC),
        reason=reason,
        permanent=permanent,
    )
