"""Notify's delivery across crashes, on real PostgreSQL, SMTP and a local WhatsApp Cloud API:
claim → commit → send → record, stable Message-IDs, and unknown WhatsApp outcomes."""

import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from pantau_devstack.servers import free_port
from pantau_devstack.whatsapp_cloud import WhatsAppCloudPeer
from pantau_notify import repository
from pantau_notify.__main__ import senders
from pantau_notify.fanout import FanOut
from pantau_notify.handlers import NotifyHandlers
from pantau_notify.requesting import Requests
from pantau_notify.settings import NotifySettings
from pantau_shared.bus import RetryLater, RpcClient
from pantau_shared.contract import NotificationChannel, NotificationRequested, NotificationStatus
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect
from tests.integration.conftest import LINKS
from tests.integration.test_services import opened, requested_events, wrap

WA_MEMBER = "6281200000001"


async def subscribe(infra, agency: str) -> None:
    await repository.add_subscription(
        infra.pool,
        agency_id=agency,
        name="Patroli",
        address=f"patroli@{agency}.id",
        region_prefix=None,
        categories=None,
        min_priority=0,
    )


async def one_request(infra, handlers, agency: str) -> NotificationRequested:
    """A case fanned out by an instance that died after its commit, before handing the delivery
    over: only the request, delivered here, leads to the send."""
    requests = Requests(infra.outbox, frozenset(NotificationChannel))
    dead = FanOut(infra.pool, infra.outbox, RpcClient(infra.nc, infra.subjects), requests, lambda _: None)
    await dead.case_changed(wrap(opened(agency)))
    (body,) = await requested_events(infra, agency)
    return NotificationRequested.model_validate(body)


async def crash_after_sending(pool: asyncpg.Pool, delivery_id) -> None:
    """What a process killed after the provider accepted, before recording, leaves behind: the
    claim, expired since nobody renews it."""
    await pool.execute(
        "UPDATE deliveries SET state = 'sending', sent_at = NULL, provider_message_id = NULL,"
        " claimed_until = now() - interval '1 second' WHERE delivery_id = $1",
        delivery_id,
    )


async def test_an_email_resent_after_a_crash_is_the_same_message(notify, agency: str) -> None:
    infra, handlers, sink = notify
    await subscribe(infra, agency)
    request = await one_request(infra, handlers, agency)
    await handlers.delivery.notification_requested(wrap(request))
    await crash_after_sending(infra.pool, request.delivery_id)
    await handlers.delivery.notification_requested(wrap(request))  # redelivered to another instance
    mails = [m for m in sink.messages() if m["To"] == f"patroli@{agency}.id"]
    assert [m["Message-ID"] for m in mails] == [f"<{request.delivery_id}@pantau.local>"] * 2
    row = await infra.pool.fetchrow(
        "SELECT state, attempts FROM deliveries WHERE delivery_id = $1", request.delivery_id
    )
    assert (row["state"], row["attempts"]) == ("sent", 2)


class Witness:
    """An SMTP handler that, while the message is being sent, checks from another connection that
    notify holds no lock on the delivery and has committed its claim."""

    def __init__(self, database_url: str, schema: str) -> None:
        self.database_url = database_url
        self.schema = schema
        self.seen: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": self.schema})
        try:
            async with conn.transaction():
                # NOWAIT fails at once if a transaction of notify still holds the row.
                rows = await conn.fetch("SELECT state FROM deliveries FOR UPDATE NOWAIT")
            self.seen.extend(r["state"] for r in rows)
        finally:
            await conn.close()
        return "250 OK"


async def test_no_transaction_is_open_while_the_mail_goes_out(
    platform: PlatformSettings, agency: str
) -> None:
    infra = await connect(platform, "notify")
    witness = Witness(platform.database_url, await infra.pool.fetchval("SELECT current_schema()"))
    controller = Controller(witness, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings = NotifySettings(smtp_port=controller.port)
    handlers = NotifyHandlers(
        infra.pool, infra.outbox, settings, senders(settings), LINKS, RpcClient(infra.nc, infra.subjects)
    )
    try:
        await subscribe(infra, agency)
        request = await one_request(infra, handlers, agency)
        await handlers.delivery.notification_requested(wrap(request))
        assert "sending" in witness.seen
        assert (
            await infra.pool.fetchval(
                "SELECT state FROM deliveries WHERE delivery_id = $1", request.delivery_id
            )
            == "sent"
        )
    finally:
        await handlers.close()
        await infra.close()
        controller.stop()


@pytest.fixture
async def whatsapp_notify(platform: PlatformSettings, tmp_path: Path):
    async with WhatsAppCloudPeer() as peer:
        settings = NotifySettings(
            smtp_port=free_port(),
            whatsapp_base_url=peer.base_url,
            whatsapp_phone_number_id=peer.phone_number_id,
            whatsapp_access_token=peer.access_token,
            whatsapp_api_version=peer.api_version,
            whatsapp_per_recipient_interval_s=0,
            whatsapp_timeout_s=0.3,
        )
        infra = await connect(platform, "notify")
        handlers = NotifyHandlers(
            infra.pool, infra.outbox, settings, senders(settings), LINKS, RpcClient(infra.nc, infra.subjects)
        )
        yield infra, handlers, peer
        await handlers.close()
        await infra.close()


async def member_on_whatsapp(infra, agency: str) -> None:
    team_id = await repository.add_team(
        infra.pool,
        agency_id=agency,
        name="Patroli WA",
        region_prefix=None,
        categories=None,
        min_priority=0,
        ack_minutes=15,
        supervisor_email=None,
    )
    await repository.add_member(
        infra.pool,
        team_id=team_id,
        name="Jaga",
        email=None,
        whatsapp=WA_MEMBER,
        position=0,
        shifts=[([1, 2, 3, 4, 5, 6, 7], datetime.min.time(), datetime.max.time().replace(microsecond=0))],
    )


async def test_a_whatsapp_send_without_answer_is_unknown_until_the_status_webhook(
    whatsapp_notify, agency: str
) -> None:
    infra, handlers, peer = whatsapp_notify
    await member_on_whatsapp(infra, agency)
    request = await one_request(infra, handlers, agency)
    assert request.channel is NotificationChannel.WHATSAPP
    peer.stall_next()  # the request arrives, the answer never does
    await handlers.delivery.notification_requested(wrap(request))
    await handlers.delivery.notification_requested(wrap(request))  # redelivered: not sent again
    state = await infra.pool.fetchval(
        "SELECT state FROM deliveries WHERE delivery_id = $1", request.delivery_id
    )
    assert state == "unknown"
    (sent,) = [r for r in peer.received if r.to == WA_MEMBER]
    assert sent.body["biz_opaque_callback_data"] == str(request.delivery_id)

    status = NotificationStatus(
        provider_message_id="wamid.HBgLNjI4MTIwMDAwMDAwMRUCABEYEjAwQUFCQkNDRERFRkYxMjM0AA==",
        agency_id=agency,
        channel=NotificationChannel.WHATSAPP,
        status="delivered",
        at=datetime.now(UTC),
        delivery_id=request.delivery_id,
    )
    await handlers.statuses.provider_status(wrap(status))
    row = await infra.pool.fetchrow(
        "SELECT state, provider_message_id, delivered_at FROM deliveries WHERE delivery_id = $1",
        request.delivery_id,
    )
    assert (row["state"], row["provider_message_id"]) == ("sent", status.provider_message_id)
    assert row["delivered_at"] is not None
    sent_events = await infra.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.sent'", agency
    )
    assert [json.loads(e["body"])["delivery_id"] for e in sent_events] == [str(request.delivery_id)]


async def test_a_whatsapp_send_abandoned_by_a_dead_instance_is_not_resent(
    whatsapp_notify, agency: str
) -> None:
    infra, handlers, peer = whatsapp_notify
    await member_on_whatsapp(infra, agency)
    request = await one_request(infra, handlers, agency)
    await handlers.delivery.notification_requested(wrap(request))
    await crash_after_sending(infra.pool, request.delivery_id)
    await handlers.delivery.notification_requested(wrap(request))
    assert len([r for r in peer.received if r.to == WA_MEMBER]) == 1
    state = await infra.pool.fetchval(
        "SELECT state FROM deliveries WHERE delivery_id = $1", request.delivery_id
    )
    assert state == "unknown"


async def test_a_batch_of_requests_is_claimed_sent_and_recorded_together(notify, agency: str) -> None:
    infra, handlers, sink = notify
    for name in ("satu", "dua", "tiga"):
        await repository.add_subscription(
            infra.pool,
            agency_id=agency,
            name=name,
            address=f"{name}@{agency}.id",
            region_prefix=None,
            categories=None,
            min_priority=0,
        )
    await handlers.fanout.case_changed(wrap(opened(agency)))
    requests = [NotificationRequested.model_validate(b) for b in await requested_events(infra, agency)]
    assert len(requests) == 3
    batch = [wrap(r) for r in (*requests, requests[0])]  # one redelivered within the batch
    assert await handlers.delivery.notifications_requested(batch) == [None] * 4
    assert await handlers.delivery.notifications_requested(batch[:2]) == [None, None]  # again: nothing
    mails = [m for m in sink.messages() if str(m["To"]).endswith(f"@{agency}.id")]
    assert sorted(str(m["Message-ID"]) for m in mails) == sorted(
        f"<{r.delivery_id}@pantau.local>" for r in requests
    )
    states = await infra.pool.fetch("SELECT state, attempts FROM deliveries WHERE agency_id = $1", agency)
    assert [(r["state"], r["attempts"]) for r in states] == [("sent", 1)] * 3
    sent = await infra.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.sent'", agency
    )
    assert sent == 3


async def test_a_delivery_another_instance_is_sending_comes_back_as_its_lease_runs_out(
    notify, agency: str
) -> None:
    infra, handlers, sink = notify
    await subscribe(infra, agency)
    request = await one_request(infra, handlers, agency)
    # Another instance claimed it with a lease that has 3 s left, then (perhaps) died.
    await infra.pool.execute(
        "UPDATE deliveries SET state = 'sending', claimed_until = now() + interval '3 seconds'"
        " WHERE delivery_id = $1",
        request.delivery_id,
    )
    (outcome,) = await handlers.delivery.notifications_requested([wrap(request)])
    assert isinstance(outcome, RetryLater)
    # Redelivered just after the lease ends: taken over then, not after a guessed backoff.
    assert outcome.delay is not None and 3.0 < outcome.delay <= 3.3
    assert [m for m in sink.messages() if m["To"] == f"patroli@{agency}.id"] == []


async def test_a_handed_over_whatsapp_send_without_answer_is_unknown_and_its_request_does_not_resend(
    whatsapp_notify, agency: str
) -> None:
    infra, handlers, peer = whatsapp_notify
    await member_on_whatsapp(infra, agency)
    peer.stall_next()  # the hand-over's request reaches the provider; the answer never comes
    await handlers.fanout.case_changed(wrap(opened(agency)))  # hands the delivery over
    (body,) = await requested_events(infra, agency)
    request = NotificationRequested.model_validate(body)
    assert await handlers.delivery.notifications_requested([wrap(request)]) == [None]
    assert await handlers.delivery.notifications_requested([wrap(request)]) == [None]
    state = await infra.pool.fetchval(
        "SELECT state FROM deliveries WHERE delivery_id = $1", request.delivery_id
    )
    assert state == "unknown"  # settled by the status webhook, never sent blindly again
    assert len([r for r in peer.received if r.to == WA_MEMBER]) == 1
