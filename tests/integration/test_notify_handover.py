"""An alert in one hop, on real NATS, PostgreSQL and SMTP (aiosmtpd): the instance that fans a
case out sends the deliveries it created as the transaction commits; their notification.requested
events, staged with them, only settle what was sent, and lead to the send should that instance
die between its commit and the send."""

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pantau_devstack.mailsink import MailSink
from pantau_devstack.servers import free_port
from pantau_notify.__main__ import senders
from pantau_notify.fanout import FanOut
from pantau_notify.handlers import NotifyHandlers
from pantau_notify.requesting import Requests
from pantau_notify.settings import NotifySettings
from pantau_shared.bus import Answer, RpcClient, Subscription
from pantau_shared.contract import NotificationChannel, NotificationRequested
from pantau_shared.settings import PlatformSettings
from pantau_shared.worker import run_worker
from tests.conftest import connect
from tests.integration.conftest import LINKS
from tests.integration.test_bus import publish
from tests.integration.test_notify_delivery import subscribe
from tests.integration.test_services import opened, requested_events, wrap
from tests.waiting import eventually


def mails_to(sink: MailSink, agency: str) -> list:
    return [m for m in sink.messages() if m["To"] == f"patroli@{agency}.id"]


async def one_mail(sink: MailSink, agency: str) -> list | None:
    return mails_to(sink, agency) or None


async def test_an_alert_goes_out_as_its_fan_out_commits_and_its_request_only_settles_it(
    notify, agency: str
) -> None:
    infra, handlers, sink = notify
    await subscribe(infra, agency)
    await handlers.fanout.case_changed(wrap(opened(agency)))
    # No request has been handled yet: the fan-out's own instance sent it.
    (mail,) = await eventually(lambda: one_mail(sink, agency), what="the alert, before its request")
    (body,) = await requested_events(infra, agency)  # still staged: the durable trigger
    request = NotificationRequested.model_validate(body)
    assert mail["Message-ID"] == f"<{request.delivery_id}@pantau.local>"

    assert await handlers.delivery.notifications_requested([wrap(request)]) == [None]
    # The request redelivered, or delivered to another instance: settled, not sent again.
    assert await handlers.delivery.notifications_requested([wrap(request)]) == [None]
    assert len(mails_to(sink, agency)) == 1
    row = await infra.pool.fetchrow(
        "SELECT state, attempts FROM deliveries WHERE delivery_id = $1", request.delivery_id
    )
    assert (row["state"], row["attempts"]) == ("sent", 1)
    sent = await infra.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.sent'", agency
    )
    assert [json.loads(s["body"])["delivery_id"] for s in sent] == [str(request.delivery_id)]


class OneAgency:
    """Notify's handlers as a worker runs them, with durables of this agency only (other tests
    share the streams)."""

    def __init__(self, handlers: NotifyHandlers, agency: str) -> None:
        self.handlers, self._agency = handlers, agency

    def subscriptions(self) -> list[Subscription]:
        return [
            replace(s, durable=f"{s.durable}-{self._agency}", agency=self._agency)
            for s in self.handlers.subscriptions()
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return []

    def background(self, stopping: asyncio.Event) -> list:
        return self.handlers.background(stopping)

    async def close(self) -> None:
        await self.handlers.close()


async def run_notify(platform: PlatformSettings, agency: str, tmp_path: Path, *, dies_after_commit: bool):
    """A notify worker on real NATS until the alert of one case reached the mail server; with
    `dies_after_commit`, its fan-out hands nothing over, as an instance killed between the
    fan-out's commit and the send leaves things: only the staged request can lead to the send."""
    sink = MailSink(tmp_path / "mail", free_port())
    sink.start()
    settings = NotifySettings(smtp_port=sink.port)
    infra = await connect(platform, "notify")
    rpc = RpcClient(infra.nc, infra.subjects)
    handlers = NotifyHandlers(infra.pool, infra.outbox, settings, senders(settings), LINKS, rpc)
    if dies_after_commit:
        requests = Requests(infra.outbox, frozenset({NotificationChannel.EMAIL}))
        handlers.fanout = FanOut(infra.pool, infra.outbox, rpc, requests, lambda _: None)
    await subscribe(infra, agency)
    stopping = asyncio.Event()
    worker = asyncio.create_task(run_worker(infra, platform, settings, OneAgency(handlers, agency), stopping))
    try:
        await publish(infra, opened(agency))
        (mail,) = await eventually(lambda: one_mail(sink, agency), what="the alert", timeout=30)
        row = await eventually(
            lambda: infra.pool.fetchrow(
                "SELECT delivery_id, state, attempts FROM deliveries WHERE agency_id = $1 AND state = 'sent'",
                agency,
            ),
            what="the delivery recorded as sent",
        )

        async def requests_settled() -> bool | None:
            durable = f"notify-deliveries-{agency}"
            info = await infra.js.consumer_info(infra.subjects.stream("NOTIFICATIONS"), durable)
            return (
                info.delivered.stream_seq > 0 and info.num_pending == 0 and info.num_ack_pending == 0
            ) or None

        await eventually(requests_settled, what="the request acked")
        return mail, row, mails_to(sink, agency)
    finally:
        stopping.set()
        await asyncio.wait_for(worker, 30)  # run_worker closes `infra`
        sink.stop()
        cleaner = await connect(platform, "notify")
        for subscription in OneAgency(handlers, agency).subscriptions():
            stream = cleaner.subjects.stream(subscription.stream)
            await cleaner.js.delete_consumer(stream, subscription.durable)
        await cleaner.close()


# A worker sends an alert once and acks its request; the request of an instance killed between
# its commit and the send leads to the send, the same message.
@pytest.mark.parametrize("dies_after_commit", [False, True], ids=["handed-over", "killed-before-send"])
async def test_an_alert_is_sent_once_with_its_stable_message_id(
    platform: PlatformSettings, agency: str, tmp_path: Path, dies_after_commit: bool
) -> None:
    mail, row, mails = await run_notify(platform, agency, tmp_path, dies_after_commit=dies_after_commit)
    assert mail["Message-ID"] == f"<{row['delivery_id']}@pantau.local>"
    assert (row["state"], row["attempts"], len(mails)) == ("sent", 1, 1)
