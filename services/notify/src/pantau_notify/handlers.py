"""What notify does with case events, delivery requests, and reads of deliveries."""

import json
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from pantau_shared.bus import RetryLater, RpcHandler, Subscription
from pantau_shared.contract import (
    CaseOpened,
    CaseUpdated,
    Envelope,
    EventData,
    NotificationChannel,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    NotificationView,
)
from pantau_shared.outbox import Outbox

from . import repository
from .email import PermanentFailure, SmtpSender, TransientFailure, render_case_alert
from .settings import NotifySettings

log = logging.getLogger(__name__)

CASE_ALERT = "case_alert"


class NotifyHandlers:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, settings: NotifySettings,
                 sender: SmtpSender) -> None:
        self._pool = pool
        self._outbox = outbox
        self._settings = settings
        self._sender = sender

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(durable="notify-cases", stream="CASES", subject_suffix="case.>",
                         handler=self.case_changed, events=(CaseOpened, CaseUpdated)),
            Subscription(durable="notify-deliveries", stream="NOTIFICATIONS",
                         subject_suffix=NotificationRequested.SUBJECT,
                         handler=self.notification_requested, events=(NotificationRequested,)),
        ]

    def reads(self) -> dict[str, RpcHandler]:
        return {"notification.list": self.list_for_case}

    async def close(self) -> None:
        await self._sender.close()

    async def case_changed(self, envelope: Envelope[EventData]) -> None:
        case = envelope.data
        assert isinstance(case, CaseOpened | CaseUpdated)
        fields = case.model_dump(mode="json", exclude_none=True)
        async with self._pool.acquire() as conn, conn.transaction():
            snapshot = await repository.merge_case(
                conn, case.case_id, case.agency_id, fields, opened=isinstance(case, CaseOpened))
            if snapshot is None:
                raise RetryLater(f"case {case.case_id} updated before its opening was seen")
            matches = await repository.matching_subscriptions(
                conn, agencies=[case.agency_id, *snapshot.get("routed_to", [])],
                region_code=snapshot.get("region_code"),
                categories=[c["category"] for c in snapshot.get("categories", [])],
                priority=case.priority)
            for subscription in matches:
                delivery_id = await repository.create_delivery(
                    conn, case_id=case.case_id, subscription=subscription, template=CASE_ALERT,
                    snapshot=snapshot)
                if delivery_id is not None:
                    await self._outbox.stage(conn, NotificationRequested(
                        delivery_id=delivery_id, agency_id=subscription["agency_id"],
                        case_id=case.case_id,
                        channel=NotificationChannel(subscription["channel"]),
                        template=CASE_ALERT, recipient_id=str(subscription["subscription_id"]),
                        requested_at=datetime.now(UTC)))
        self._outbox.committed()

    async def notification_requested(self, envelope: Envelope[EventData]) -> None:
        request = envelope.data
        assert isinstance(request, NotificationRequested)
        retry: str | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock makes concurrent redeliveries of one request wait, then see 'sent'.
            delivery = await repository.lock_delivery(conn, request.delivery_id)
            if delivery is None or delivery["state"] != "pending":
                return
            message = render_case_alert(
                json.loads(delivery["case_snapshot"]), settings=self._settings,
                recipient=delivery["recipient"], delivery_id=str(request.delivery_id))
            now = datetime.now(UTC)
            try:
                message_id = await self._sender.send(message)
            except TransientFailure as error:
                attempts = await repository.mark_attempt_failed(
                    conn, request.delivery_id, str(error), at=now,
                    final=delivery["attempts"] + 1 >= self._settings.max_attempts)
                if attempts < self._settings.max_attempts:
                    retry = str(error)
                else:
                    await self._outbox.stage(conn, _failed(request, str(error), permanent=False))
            except PermanentFailure as error:
                await repository.mark_attempt_failed(conn, request.delivery_id, str(error),
                                                     final=True, at=now)
                await self._outbox.stage(conn, _failed(request, str(error), permanent=True))
            else:
                await repository.mark_sent(conn, request.delivery_id, now, message_id)
                await self._outbox.stage(conn, NotificationSent(
                    delivery_id=request.delivery_id, agency_id=request.agency_id,
                    case_id=request.case_id, channel=request.channel, template=request.template,
                    recipient_id=request.recipient_id, sent_at=now,
                    provider_message_id=message_id))
        self._outbox.committed()
        if retry is not None:
            # Raised after the commit, so the attempt count survives the redelivery.
            raise RetryLater(retry)

    async def list_for_case(self, agency_id: str, request: dict[str, Any]) -> list[NotificationView]:
        rows = await repository.deliveries_for_case(self._pool, agency_id,
                                                    UUID(request["case_id"]))
        return [NotificationView.model_validate(dict(row)) for row in rows]


def _failed(request: NotificationRequested, reason: str, *, permanent: bool) -> NotificationFailed:
    return NotificationFailed(
        delivery_id=request.delivery_id, agency_id=request.agency_id, case_id=request.case_id,
        channel=request.channel, template=request.template, recipient_id=request.recipient_id,
        failed_at=datetime.now(UTC), reason=reason, permanent=permanent)
