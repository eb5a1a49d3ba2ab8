"""Notify's subscriptions and reads, as one table over its jobs: fan-out (case event → who
should hear), delivery (claim → commit → send → record), escalation, receipts, provider
statuses and acknowledgement, each in its own module."""

import asyncio
from collections.abc import Coroutine
from typing import Any

import asyncpg

from pantau_shared.bus import Answer, RpcClient, Subscription
from pantau_shared.contract import (
    CaseOpened,
    CaseUpdated,
    NotificationRequested,
    NotificationStatus,
    ReportReceived,
)
from pantau_shared.contract.queue import DELIVERY_LIST
from pantau_shared.contract.rpc import NOTIFICATION_ACK, NOTIFICATION_LIST, CaseQuery, Notifications
from pantau_shared.outbox import Outbox

from . import repository
from .acknowledgement import Acknowledgements
from .channels import Senders
from .delivery import AckLinks, Delivery
from .escalation import Escalation
from .fanout import FanOut
from .listing import DeliveryListing
from .receipts import Receipts
from .requesting import Requests
from .settings import NotifySettings
from .statuses import Statuses

__all__ = ["AckLinks", "NotifyHandlers"]


class NotifyHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        settings: NotifySettings,
        senders: Senders,
        links: AckLinks,
        rpc: RpcClient,
    ) -> None:
        self._pool = pool
        self._senders = senders
        channels = frozenset(senders)
        requests = Requests(outbox, channels)
        self.delivery = Delivery(pool, outbox, settings, senders, rpc, links)
        self.fanout = FanOut(pool, outbox, rpc, requests, self.delivery.hand_over)
        self.escalation = Escalation(pool, outbox, requests, settings.escalation_sweep_s)
        self.receipts = Receipts(pool, outbox, channels, self.delivery.hand_over)
        self.statuses = Statuses(pool, outbox)
        self.acknowledgements = Acknowledgements(pool, outbox)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="notify-cases",
                stream="CASES",
                subject_suffix="case.>",
                handler=self.fanout.case_changed,
                batch=self.fanout.cases_changed,
                events=(CaseOpened, CaseUpdated),
            ),
            Subscription(
                durable="notify-deliveries",
                stream="NOTIFICATIONS",
                subject_suffix=NotificationRequested.SUBJECT,
                handler=self.delivery.notification_requested,
                batch=self.delivery.notifications_requested,
                events=(NotificationRequested,),
            ),
            Subscription(
                durable="notify-statuses",
                stream="NOTIFICATIONS",
                subject_suffix=NotificationStatus.SUBJECT,
                handler=self.statuses.provider_status,
                batch=self.statuses.provider_statuses,
                events=(NotificationStatus,),
            ),
            Subscription(
                durable="notify-receipts",
                stream="REPORTS",
                subject_suffix=ReportReceived.SUBJECT,
                handler=self.receipts.report_received,
                batch=self.receipts.reports_received,
                events=(ReportReceived,),
            ),
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(NOTIFICATION_LIST, self.list_for_case),
            Answer(NOTIFICATION_ACK, self.acknowledgements.acknowledge),
            Answer(DELIVERY_LIST, DeliveryListing(self._pool).list_deliveries),
        ]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        return [self.escalation.escalate_until(stopping), self.delivery.finish_handovers(stopping)]

    async def close(self) -> None:
        await self.delivery.settle_handovers()  # their sends need the senders
        for sender in self._senders.values():
            await sender.close()

    async def list_for_case(self, agency_id: str, request: CaseQuery) -> Notifications:
        return Notifications(
            notifications=await repository.deliveries_for_case(self._pool, agency_id, request.case_id)
        )
