"""A partner's news of a referral is handled concurrently (two batches in flight per consumer), so
it can be handled in any order: the origin's record of the partner ends the same whichever order.
Each order is delivered here deterministically, one message after the other."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import permutations
from uuid import UUID

from pantau_shared.bus import RpcClient
from pantau_shared.contract import (
    CaseState,
    Envelope,
    EventData,
    PartnerCaseStatus,
    PartnerEvent,
    ReferralAccepted,
    ReferralDeclined,
    Resolution,
    new_id,
)
from pantau_triage import repository as cases
from pantau_triage.federation import FederationHandlers
from pantau_triage.federation import repository as federation
from tests.integration.test_case_workflow import HOAX, case_of, received, triage  # noqa: F401
from tests.integration.test_referral_trail import partner_status_events, referral_of
from tests.integration.test_services import wrap


def partner_news(sent_to: str, owner: str, referral_id: UUID, actor: str) -> Callable[..., PartnerEvent]:
    """A partner's numbered messages about one referral, numbered and timed as it sent them."""
    start, partner_case = datetime.now(UTC), new_id()
    common = {"referral_id": referral_id, "agency_id": sent_to, "to_agency": owner, "actor": actor}

    def message(kind: type[PartnerEvent], sequence: int, **fields: object) -> PartnerEvent:
        at = start + timedelta(seconds=sequence)
        return kind(**common, partner_case_id=partner_case, sequence=sequence, at=at, **fields)

    return message


def accepted_and_handled(sent_to: str, owner: str, referral_id: UUID) -> list[PartnerEvent]:
    """What a partner says as it accepts, verifies and closes its case."""
    said = partner_news(sent_to, owner, referral_id, "Rina")
    return [
        said(ReferralAccepted, 1),
        said(PartnerCaseStatus, 2, state=CaseState.VERIFYING),
        said(PartnerCaseStatus, 3, state=CaseState.CLOSED, resolution=Resolution.TAKEN_DOWN),
    ]


def declined(sent_to: str, owner: str, referral_id: UUID) -> list[PartnerEvent]:
    """A decline closes the partner's case as referred elsewhere, in the same transaction."""
    said = partner_news(sent_to, owner, referral_id, "Budi")
    return [
        said(ReferralDeclined, 1),
        said(PartnerCaseStatus, 2, state=CaseState.CLOSED, resolution=Resolution.REFERRED_ELSEWHERE),
    ]


async def test_the_partners_record_ends_the_same_in_every_order_of_its_news(
    triage,  # noqa: F811
    agency: str,
) -> None:
    infra, handlers = triage
    report = received(agency, HOAX)
    await handlers.report_received(wrap(report))
    case_id = UUID(await case_of(handlers, agency, report))
    fed = FederationHandlers(infra.pool, infra.outbox, None, RpcClient(infra.nc, infra.subjects), "http://x")

    stories = [(accepted_and_handled, order, "done") for order in permutations(range(3))]
    stories += [(declined, order, "declined") for order in permutations(range(2))]
    expected: dict[str, str] = {}
    for number, (story, order, final) in enumerate(stories):
        # One partner agency per order: the same case is referred to each.
        sent_to = f"mitra-{number}"
        sent = referral_of(case_id, agency).model_copy(update={"referral_id": new_id(), "to_agency": sent_to})
        async with infra.pool.acquire() as conn:
            assert await federation.record_sent(conn, sent, case_id)
        news = story(sent_to, agency, sent.referral_id)
        for index in order:
            envelope: Envelope[EventData] = Envelope(data=news[index], source="/test", agency_id=sent_to)
            await fed.received(envelope)
        expected[sent_to] = final

    async with infra.pool.acquire() as conn:
        shown = {r.agency_id: r.state.value for r in await cases.referrals(conn, case_id, list(expected))}
    assert shown == expected, stories
    stored = await infra.pool.fetch(
        "SELECT to_agency, state, partner_state FROM referrals_out WHERE case_id = $1", case_id
    )
    assert {r["to_agency"]: (r["state"], r["partner_state"]) for r in stored} == {
        sent_to: ("accepted" if final == "done" else "declined", "closed")
        for sent_to, final in expected.items()
    }
    # In order, each step is news to the owner's subscribers; out of order the last news says
    # the final state, and a late step that changes nothing says nothing (it would tell the
    # owner's reporters a state the partner has left).
    events = await partner_status_events(infra.pool, agency, str(case_id))
    for sent_to, (_, order, final) in zip(expected, stories, strict=True):
        mine = [e["partner_referral_state"] for e in events if e["partner_agency"] == sent_to]
        assert mine[-1] == final, (order, mine)
        if list(order) == sorted(order):
            assert len(mine) == len(order), (order, mine)
    late_accept = [e for e in events if e["partner_agency"] == "mitra-5"]  # closed, verifying, accepted
    assert [e["partner_referral_state"] for e in late_accept] == ["done"]
