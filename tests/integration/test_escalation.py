"""Patrol rosters, acknowledgement and escalation in notify, on real PostgreSQL and SMTP."""

import json
from datetime import UTC, datetime, time

import pytest

from pantau_devstack.mailsink import MailSink
from pantau_notify import repository
from pantau_shared.contract import CaseState, CaseUpdated, NotificationRequested
from pantau_shared.contract.rpc import AcknowledgeNotification
from pantau_shared.links import ack_token_valid
from pantau_shared.regions import WIB
from tests.integration.conftest import LINKS
from tests.integration.test_services import notifications, opened, wrap
from tests.waiting import eventually

ALWAYS = ([1, 2, 3, 4, 5, 6, 7], time(0, 0), time(23, 59, 59))


def never_today() -> tuple[list[int], time, time]:
    today = datetime.now(WIB).isoweekday()
    return [d for d in range(1, 8) if d != today], time(0, 0), time(23, 59, 59)


async def team_with_members(pool, agency: str) -> dict[str, str]:
    team_id = await repository.add_team(
        pool,
        agency_id=agency,
        name="Patroli Siber Shift A",
        region_prefix="33.75",
        categories=None,
        min_priority=0,
        ack_minutes=0,
        supervisor_email=f"kepala@{agency}.id",
    )
    for position, (name, shift) in enumerate([("Andi", ALWAYS), ("Bela", ALWAYS), ("Citra", never_today())]):
        await repository.add_member(
            pool,
            team_id=team_id,
            name=name,
            email=f"{name.lower()}@{agency}.id",
            whatsapp=None,
            position=position,
            shifts=[shift],
        )
    return {"team_id": str(team_id)}


async def escalate(infra, handlers, agency: str) -> int:
    """One sweep; how many alerts it made for this agency's cases (a sweep covers every agency,
    and other tests leave team alerts behind that their fan-out sent)."""
    query = "SELECT count(*) FROM deliveries WHERE agency_id = $1"
    before = await infra.pool.fetchval(query, agency)
    await handlers.escalation.escalate_due()
    escalated: int = await infra.pool.fetchval(query, agency) - before
    return escalated


async def send_requested(infra, handlers, agency: str) -> list[str]:
    """Deliver every pending request of this agency, as the delivery consumer would."""
    rows = await infra.pool.fetch(
        "DELETE FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.requested' RETURNING body", agency
    )
    recipients = []
    for row in rows:
        request = NotificationRequested.model_validate(json.loads(row["body"]))
        await handlers.delivery.notification_requested(wrap(request))
        recipients.append(
            await infra.pool.fetchval(
                "SELECT recipient FROM deliveries WHERE delivery_id = $1", request.delivery_id
            )
        )
    return recipients


async def test_unacknowledged_alerts_go_to_the_next_on_duty_member_then_the_supervisor(
    notify, agency: str
) -> None:
    infra, handlers, sink = notify
    await team_with_members(infra.pool, agency)
    case = opened(agency)
    await handlers.fanout.case_changed(wrap(case))
    assert await send_requested(infra, handlers, agency) == [f"andi@{agency}.id"]

    assert await escalate(infra, handlers, agency) == 1
    assert await send_requested(infra, handlers, agency) == [f"bela@{agency}.id"]
    # Citra is not on duty today: the supervisor is next.
    assert await escalate(infra, handlers, agency) == 1
    assert await send_requested(infra, handlers, agency) == [f"kepala@{agency}.id"]
    assert await escalate(infra, handlers, agency) == 0

    mails = await eventually(lambda: _mails(sink, 3), what="three mails")
    subjects = {m["To"]: str(m["Subject"]) for m in mails}
    assert subjects[f"kepala@{agency}.id"].startswith("[Pantau] ESKALASI")
    andi = next(m for m in mails if m["To"] == f"andi@{agency}.id")
    assert "Saya tangani kasus ini" in andi.get_body(("html",)).get_content()
    listed = await notifications(handlers, agency, case.case_id)
    assert [n.escalation_level for n in listed] == [0, 1, 2]


async def _mails(sink: MailSink, n: int) -> list | None:
    found = sink.messages()
    return found if len(found) >= n else None


async def test_acknowledging_stops_the_escalation(notify, agency: str) -> None:
    infra, handlers, _ = notify
    await team_with_members(infra.pool, agency)
    case = opened(agency)
    await handlers.fanout.case_changed(wrap(case))
    await send_requested(infra, handlers, agency)
    first = (await notifications(handlers, agency, case.case_id))[0]
    answer = await handlers.acknowledgements.acknowledge(
        agency,
        AcknowledgeNotification(delivery_id=first.delivery_id, actor="Andi", via="link", principal="link"),
    )
    assert answer.acknowledged is True
    assert await escalate(infra, handlers, agency) == 0
    assert await send_requested(infra, handlers, agency) == []
    listed = await notifications(handlers, agency, case.case_id)
    assert [(n.acknowledged_by, n.acknowledged_principal, n.escalation_level) for n in listed] == [
        ("Andi", "link", 0)
    ]
    event = json.loads(
        await infra.pool.fetchval(
            "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.notification.acknowledged'", agency
        )
    )
    assert (event["acknowledged_by"], event["principal"]) == ("Andi", "link")
    # Another agency cannot acknowledge it.
    with pytest.raises(Exception, match="tidak ditemukan"):
        await handlers.acknowledgements.acknowledge(
            "other-agency", AcknowledgeNotification(delivery_id=first.delivery_id, actor="x")
        )


def test_ack_links_are_signed_per_agency_delivery_and_case() -> None:
    delivery, case = "018d9a1e-3c80-7c3b-8c1e-5f2a6b7c8d92", "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91"
    url = LINKS.ack_url("bawaslu-3375", delivery, case)
    token = url.rsplit("t=", 1)[1]
    assert url.startswith(f"http://127.0.0.1:8080/ack/bawaslu-3375/{delivery}?c={case}&t=")
    assert ack_token_valid(b"test-ack-secret", "bawaslu-3375", delivery, case, token)
    assert not ack_token_valid(b"test-ack-secret", "bawaslu-1771", delivery, case, token)
    assert not ack_token_valid(b"test-ack-secret", "bawaslu-3375", delivery, delivery, token)


async def test_updates_of_a_case_do_not_alert_the_team_again(notify, agency: str) -> None:
    infra, handlers, _ = notify
    await team_with_members(infra.pool, agency)
    case = opened(agency)
    await handlers.fanout.case_changed(wrap(case))
    update = CaseUpdated(
        case_id=case.case_id,
        agency_id=agency,
        updated_at=datetime.now(UTC),
        change="report_attached",
        state=CaseState.NEW,
        region_code=case.region_code,
        categories=case.categories,
        priority=case.priority + 10,
        priority_level=case.priority_level,
        report_count=2,
        reporter_count=2,
    )
    await handlers.fanout.case_changed(wrap(update))
    assert await send_requested(infra, handlers, agency) == [f"andi@{agency}.id"]
