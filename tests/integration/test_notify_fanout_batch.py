"""Notify's fan-out taking a fetched batch of case events in one transaction, on real PostgreSQL:
the events of one case merged in order, everyone who should hear told once, an update of a case
not seen yet retried alone."""

import json
from datetime import UTC, datetime

from pantau_notify import repository
from pantau_notify.repository import add_subscription
from pantau_shared.bus import RetryLater
from pantau_shared.contract import CaseState, CaseUpdated, new_id
from tests.integration.test_escalation import team_with_members
from tests.integration.test_services import opened, requested_events, wrap


def attached(case, **fields) -> CaseUpdated:
    return CaseUpdated(
        **{
            "case_id": case.case_id,
            "agency_id": case.agency_id,
            "updated_at": datetime.now(UTC),
            "change": "report_attached",
            "state": CaseState.NEW,
            "region_code": case.region_code,
            "categories": case.categories,
            "priority": case.priority + 10,
            "priority_level": case.priority_level,
            "report_count": 2,
            "reporter_count": 2,
        }
        | fields
    )


async def test_a_batch_of_case_events_tells_everyone_once_and_merges_each_case_in_order(
    notify, agency: str
) -> None:
    infra, handlers, _ = notify
    for name, region, least in (("kota", "33.75", 50), ("lombok", "52", 0)):
        await add_subscription(
            infra.pool,
            agency_id=agency,
            name=name,
            address=f"{name}@{agency}.id",
            region_prefix=region,
            categories=None,
            min_priority=least,
        )
    await team_with_members(infra.pool, agency)
    here, lombok = opened(agency), opened(agency, region="52.01")
    unseen = attached(opened(agency)).model_copy(update={"case_id": new_id()})
    batch = [here, attached(here), lombok, unseen, here]  # the opening of `here` redelivered last
    outcomes = await handlers.fanout.cases_changed([wrap(e) for e in batch])
    assert [type(o) for o in outcomes] == [type(None), type(None), type(None), RetryLater, type(None)]

    deliveries = await infra.pool.fetch(
        "SELECT case_id, recipient, template FROM deliveries WHERE agency_id = $1 ORDER BY recipient", agency
    )
    assert [(d["case_id"], d["recipient"], d["template"]) for d in deliveries] == [
        (here.case_id, f"andi@{agency}.id", "case_alert"),  # the team, once for its case
        (here.case_id, f"kota@{agency}.id", "case_alert"),  # once, though two events matched
        (lombok.case_id, f"lombok@{agency}.id", "case_alert"),
    ]
    assert len(await requested_events(infra, agency)) == 3
    # The update's fields stay: the opening seen again later does not turn the case back.
    snapshot = json.loads(
        await infra.pool.fetchval("SELECT snapshot FROM cases WHERE case_id = $1", here.case_id)
    )
    assert (snapshot["report_count"], snapshot["priority"]) == (2, here.priority + 10)
    assert await infra.pool.fetchval("SELECT count(*) FROM cases WHERE case_id = $1", unseen.case_id) == 0

    # The whole batch again (acks lost): nothing new to send.
    again = await handlers.fanout.cases_changed([wrap(e) for e in batch])
    assert isinstance(again[3], RetryLater) and again[:3] == [None, None, None]
    assert len(await requested_events(infra, agency)) == 3


async def test_teams_and_subscriptions_are_read_as_typed_audiences(notify, agency: str) -> None:
    infra, _, _ = notify
    team = await team_with_members(infra.pool, agency)
    async with infra.pool.acquire() as conn:
        (found,) = await repository.teams_of(conn, [agency])
    assert str(found.team_id) == team["team_id"] and found.audience.region_prefix == "33.75"
    assert [m.name for m in found.members] == ["Andi", "Bela", "Citra"]
    assert all(m.shifts for m in found.members)
