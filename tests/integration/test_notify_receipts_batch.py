"""Notify's receipts and provider statuses taking a fetched batch in one transaction, on real
PostgreSQL: each reporter who wrote in gets one receipt, whatever the batch holds; statuses are
applied in the order they arrived."""

from datetime import UTC, datetime, timedelta

from pantau_notify.receipts import Receipts
from pantau_shared.contract import Channel, NotificationChannel, NotificationStatus, SenderAuth, new_id
from tests.integration.test_case_workflow import received
from tests.integration.test_services import requested_events, wrap


def receipts_of(infra) -> Receipts:
    """Receipts on both channels (the fixture's notify has no WhatsApp sender), left to the
    deliveries consumer (nothing handed over)."""
    return Receipts(infra.pool, infra.outbox, frozenset(NotificationChannel), lambda _: None)


async def test_a_batch_of_reports_gets_one_receipt_per_reporter_who_wrote_in(notify, agency: str) -> None:
    infra, _, _ = notify
    whatsapp = [
        received(agency, f"laporan {n}", channel=Channel.WHATSAPP, reporter_id=f"r{n}") for n in range(3)
    ]
    verified = received(
        agency, "surel", channel=Channel.EMAIL, reporter_id="r-mail", sender_auth=SenderAuth(verdict="pass")
    )
    forged = received(
        agency,
        "surel palsu",
        channel=Channel.EMAIL,
        reporter_id="r-forged",
        sender_auth=SenderAuth(verdict="fail"),
    )
    from_api = received(agency, "dari API", channel=Channel.API, reporter_id="r-api")
    batch = [*whatsapp, verified, forged, from_api, whatsapp[0]]  # the first redelivered in the batch
    outcomes = await receipts_of(infra).reports_received([wrap(r) for r in batch])
    assert outcomes == [None] * len(batch)
    receipts = await infra.pool.fetch(
        "SELECT report_id, channel, recipient_key FROM deliveries WHERE agency_id = $1"
        " AND template = 'report_receipt' ORDER BY recipient_key",
        agency,
    )
    assert [(r["report_id"], r["channel"], r["recipient_key"]) for r in receipts] == [
        (report.report_id, report.channel.value, f"reporter:{report.reporter_id}")
        for report in sorted([*whatsapp, verified], key=lambda r: f"reporter:{r.reporter_id}")
    ]
    requested = await requested_events(infra, agency)
    assert sorted(e["report_id"] for e in requested) == sorted(str(r["report_id"]) for r in receipts)
    # Handled again (a redelivery of the whole batch): nothing more.
    await receipts_of(infra).reports_received([wrap(r) for r in batch])
    assert len(await requested_events(infra, agency)) == len(receipts)


async def test_a_batch_of_statuses_is_applied_in_order(notify, agency: str) -> None:
    infra, handlers, _ = notify
    report = received(agency, "laporan", channel=Channel.WHATSAPP, reporter_id="r-status")
    await receipts_of(infra).reports_received([wrap(report)])
    delivery_id = await infra.pool.fetchval(
        "UPDATE deliveries SET state = 'unknown' WHERE report_id = $1 RETURNING delivery_id", report.report_id
    )
    at = datetime.now(UTC)
    message = f"wamid.{new_id().hex}"

    def status(kind: str, later: int) -> NotificationStatus:
        return NotificationStatus(
            provider_message_id=message,
            agency_id=agency,
            channel=NotificationChannel.WHATSAPP,
            status=kind,
            at=at + timedelta(seconds=later),
            delivery_id=delivery_id,
        )

    batch = [status("sent", 0), status("delivered", 1), status("read", 2), status("delivered", 3)]
    assert await handlers.statuses.provider_statuses([wrap(s) for s in batch]) == [None] * len(batch)
    row = await infra.pool.fetchrow(
        "SELECT state, provider_message_id, sent_at, delivered_at, read_at FROM deliveries"
        " WHERE delivery_id = $1",
        delivery_id,
    )
    # The unknown send settled by the first status; the first delivered kept, not the later one.
    assert row["state"] == "sent" and row["provider_message_id"] == message
    assert (row["sent_at"], row["delivered_at"], row["read_at"]) == (
        at,
        at + timedelta(seconds=1),
        at + timedelta(seconds=2),
    )
    sent = await infra.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.sent'", agency
    )
    assert len(sent) == 1
