"""The takedown loop on real PostgreSQL against a local site that removes posts after a delay:
requests, the platform's answers, re-checks that see the content gone, time to removal in the
statistics, leases shared by replicas, refusals of private targets."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from pantau_devstack.posts_site import PostsSite
from pantau_notify import repository as notify_repository
from pantau_notify.requesting import Requests
from pantau_notify.takedown_alerts import TakedownAlerts
from pantau_shared.bus import RpcError
from pantau_shared.contract import (
    CaseState,
    CategoryScore,
    Platform,
    PriorityLevel,
    new_id,
)
from pantau_shared.contract.queue import StatisticsQuery, Tally
from pantau_shared.contract.rpc import CaseQuery
from pantau_shared.contract.takedowns import (
    RecheckOutcome,
    RecordTakedownResponse,
    RemovalKind,
    RequestTakedown,
    TakedownOverdue,
    TakedownQuery,
    TakedownStatisticsQuery,
    TakedownStatus,
    TakedownView,
)
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_triage import repository as cases
from pantau_triage.settings import TriageSettings
from pantau_triage.statistics import CaseFigures
from pantau_triage.takedowns_recheck import Rechecker
from pantau_triage.takedowns_service import takedown_loop
from tests.conftest import connect
from tests.integration.test_escalation import ALWAYS, send_requested
from tests.integration.test_services import opened, wrap
from tests.waiting import eventually

HOST = "posts.pantau.test"
LOCAL = ("127.0.0.1/32",)
FAST = TriageSettings(
    takedown_recheck_s=0.2,
    takedown_near_deadline_recheck_s=0.1,
    takedown_near_deadline_window_s=0.0,
    takedown_sweep_s=0.05,
    takedown_lease_s=5.0,
    takedown_fetch_timeout_s=3.0,
)


@pytest.fixture
async def triage(platform: PlatformSettings) -> AsyncIterator[Infrastructure]:
    infra = await connect(platform, "triage")
    yield infra
    await infra.close()


@pytest.fixture
async def site() -> AsyncIterator[PostsSite]:
    async with PostsSite() as running:
        yield running


def rechecker(infra: Infrastructure, allow: tuple[str, ...] = LOCAL) -> Rechecker:
    """A replica's re-checker; the site's public-looking name resolves to this machine, as a
    public name's DNS might be made to."""
    settings = FAST.model_copy(
        update={"takedown_fetch_test_allowlist": allow, "takedown_fetch_test_hosts": {HOST: "127.0.0.1"}}
    )
    return takedown_loop(infra.pool, infra.outbox, settings)


@pytest.fixture
async def loop(triage: Infrastructure) -> AsyncIterator[Rechecker]:
    made = rechecker(triage)
    yield made
    await made.close()


async def open_case(
    infra: Infrastructure,
    agency: str,
    state: CaseState = CaseState.VERIFYING,
    routed_to: tuple[str, ...] = (),
) -> UUID:
    now = datetime.now(UTC)
    case = cases.Case(
        case_id=new_id(),
        agency_id=agency,
        state=state,
        opened_at=now,
        updated_at=now,
        region_code="33.75",
        platform=Platform.FACEBOOK,
        canonical_url=None,
        content_sha256=None,
        summary="Hoaks surat suara tercoblos",
        categories=(CategoryScore(category="hoaks", score=0.9, reason="uji"),),
        priority=70,
        priority_level=PriorityLevel.HIGH,
        priority_reasons=(),
        report_count=1,
        reporter_count=1,
        routed_to=routed_to,
        claims=(),
        resolution=None,
        priority_factors=(),
        reach=None,
    )
    async with infra.pool.acquire() as conn:
        await cases.insert_case(conn, case, None)
    return case.case_id


def url_of(site: PostsSite, post_id: str) -> str:
    site.add(post_id, "Surat suara sudah dicoblos sebelum hari pemungutan")
    return f"http://{HOST}:{site.base_url.rsplit(':', 1)[1]}/posts/{post_id}"


def request(case_id: UUID, url: str, **fields: Any) -> RequestTakedown:
    return RequestTakedown.model_validate(
        {
            "case_id": case_id,
            "url": url,
            "platform": "facebook",
            "legal_basis": "uu_7_2017_pasal_280",
            "channel": "portal",
            "actor": "Rina (Patroli Siber Komdigi)",
            "principal": "user:rina",
        }
        | fields
    )


def answered(takedown_id: UUID, **response: Any) -> RecordTakedownResponse:
    return RecordTakedownResponse.model_validate(
        {"takedown_id": takedown_id, "response": response, "principal": "user:rina"}
    )


async def events(infra: Infrastructure, agency: str, suffix: str) -> list[dict[str, Any]]:
    rows = await infra.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.' || $2 ORDER BY id", agency, suffix
    )
    return [json.loads(row["body"]) for row in rows]


async def swept_until(
    loop: Rechecker, agency: str, takedown_id: UUID, status: TakedownStatus
) -> TakedownView:
    async def probe() -> TakedownView | None:
        await loop.sweep()
        view = await loop.work.get(agency, TakedownQuery(takedown_id=takedown_id))
        return view if view.status is status else None

    return await eventually(probe, timeout=15, what=f"takedown {status}")


@pytest.mark.parametrize(
    ("how", "kind", "status"),
    [
        ("404", RemovalKind.NOT_FOUND, 404),
        ("410", RemovalKind.GONE, 410),
        ("unavailable", RemovalKind.UNAVAILABLE_PAGE, 200),
    ],
)
async def test_a_takedown_is_seen_removed_by_the_recheck_and_timed_in_the_statistics(
    triage: Infrastructure,
    loop: Rechecker,
    site: PostsSite,
    agency: str,
    how: str,
    kind: RemovalKind,
    status: int,
) -> None:
    case_id = await open_case(triage, agency)
    url = url_of(site, "p1")
    taken = await loop.work.request(agency, request(case_id, url, urgent=True))
    assert taken.status is TakedownStatus.REQUESTED
    assert taken.deadline_at - taken.requested_at == timedelta(hours=4)
    assert (await cases.get_case(triage.pool, agency, case_id)).state is CaseState.TAKEDOWN_REQUESTED  # type: ignore[union-attr]

    await eventually(lambda: _checked(loop, agency, taken.takedown_id), what="a first re-check")
    site.remove_after("p1", 0.6, how)
    removed = await swept_until(loop, agency, taken.takedown_id, TakedownStatus.REMOVED)

    assert removed.removal_kind is kind
    assert removed.recent_checks[0].http_status == status
    assert removed.recent_checks[0].outcome is RecheckOutcome.REMOVED
    assert RecheckOutcome.LIVE in {c.outcome for c in removed.recent_checks[1:]}
    assert removed.last_seen_live_at is not None and removed.removed_at is not None
    assert 0.6 <= removed.time_to_removal_s < 8  # type: ignore[operator]
    # Dated within the re-check interval (0.2 s) and a fetch, not within the whole wait.
    assert removed.removal_precision_s is not None and removed.removal_precision_s < 1.5
    assert removed.within_deadline is True

    case = await cases.get_case(triage.pool, agency, case_id)
    assert case is not None and (case.state, case.resolution) == (CaseState.CLOSED, "taken_down")
    history = await cases.history(triage.pool, agency, case_id)
    assert [h.to_state for h in history if h.change == "state_changed"] == ["takedown_requested", "closed"]
    assert "konten tidak lagi tersedia" in (history[-1].note or "")
    removed_events = await events(triage, agency, "case.takedown.removed")
    assert [e["removal_kind"] for e in removed_events] == [kind.value]
    assert [e["state"] for e in await events(triage, agency, "case.updated")] == [
        "takedown_requested",
        "closed",
    ]

    # Further sweeps do not re-check a removed takedown or tell of it again.
    fetched = len(site.requests)
    await loop.sweep()
    assert len(site.requests) == fetched
    assert len(await events(triage, agency, "case.takedown.removed")) == 1

    figures = await loop.work.statistics(agency, TakedownStatisticsQuery())
    assert (figures.requested, figures.removed, figures.open, figures.removed_within_deadline) == (1, 1, 0, 1)
    of_cases = await CaseFigures(triage.pool).figures(agency, StatisticsQuery())
    assert of_cases.takedowns == [Tally(key="removed", count=1)]
    (facebook,) = figures.by_platform
    assert facebook.platform is Platform.FACEBOOK
    assert facebook.time_to_removal.count == 1
    assert facebook.time_to_removal.median_s == pytest.approx(removed.time_to_removal_s, abs=0.01)
    assert figures.time_to_removal.p90_s == pytest.approx(removed.time_to_removal_s, abs=0.01)


async def _checked(loop: Rechecker, agency: str, takedown_id: UUID) -> bool:
    await loop.sweep()
    return (await loop.work.get(agency, TakedownQuery(takedown_id=takedown_id))).checks > 0


async def test_a_retried_request_or_response_is_recorded_once(
    triage: Infrastructure, loop: Rechecker, site: PostsSite, agency: str
) -> None:
    case_id = await open_case(triage, agency)
    command = request(case_id, url_of(site, "p2"))
    first = await loop.work.request(agency, command)
    again = await loop.work.request(agency, command)
    assert first.takedown_id == again.takedown_id
    assert first.deadline_at - first.requested_at == timedelta(hours=24)
    listed = await loop.work.list_for_case(agency, CaseQuery(case_id=case_id))
    assert [t.takedown_id for t in listed.takedowns] == [first.takedown_id]
    assert len(await events(triage, agency, "case.takedown.requested")) == 1

    answer = answered(first.takedown_id, kind="acknowledged", platform_request_id="FB-LE-1", actor="Rina")
    await loop.work.respond(agency, answer)
    acknowledged = await loop.work.respond(agency, answer)
    assert acknowledged.status is TakedownStatus.ACKNOWLEDGED
    assert acknowledged.platform_request_id == "FB-LE-1"
    assert len(acknowledged.responses) == 1
    # The platform says it is gone: a re-check is due now, and only it may say so.
    claimed = await loop.work.respond(
        agency, answered(first.takedown_id, kind="claims_removed", actor="Rina")
    )
    assert claimed.status is TakedownStatus.ACKNOWLEDGED and claimed.removed_at is None
    assert claimed.next_check_at is not None and claimed.next_check_at <= datetime.now(UTC)

    refused = await loop.work.respond(
        agency,
        answered(first.takedown_id, kind="refused", reason="Tidak melanggar standar komunitas", actor="R"),
    )
    assert refused.status is TakedownStatus.REFUSED and refused.next_check_at is None
    assert refused.responses[-1].reason == "Tidak melanggar standar komunitas"
    with pytest.raises(RpcError, match="masa depan"):
        later = datetime.now(UTC) + timedelta(hours=2)
        await loop.work.respond(
            agency, answered(first.takedown_id, kind="acknowledged", responded_at=later, actor="R")
        )
    # A refusal without its reason is not a refusal the contract knows.
    with pytest.raises(ValidationError, match="reason"):
        answered(first.takedown_id, kind="refused", actor="Rina")
    # Another agency learns nothing of it.
    with pytest.raises(RpcError, match="tidak ditemukan"):
        await loop.work.get("agency-other", TakedownQuery(takedown_id=first.takedown_id))
    figures = await loop.work.statistics(agency, TakedownStatisticsQuery())
    assert (figures.requested, figures.refused, figures.open) == (1, 1, 0)


async def test_statistics_count_only_requests_within_since_and_until(
    triage: Infrastructure, loop: Rechecker, site: PostsSite, agency: str
) -> None:
    case_id = await open_case(triage, agency)
    now = datetime.now(UTC)
    for n, hours_ago in enumerate((30, 10, 1)):
        await loop.work.request(
            agency,
            request(
                case_id, url_of(site, f"s{n}"), requested_at=now - timedelta(hours=hours_ago), platform="x"
            ),
        )
    since = TakedownStatisticsQuery(since=now - timedelta(hours=12))
    assert (await loop.work.statistics(agency, since)).requested == 2
    window = TakedownStatisticsQuery(since=now - timedelta(hours=12), until=now - timedelta(hours=5))
    assert (await loop.work.statistics(agency, window)).requested == 1
    assert (await loop.work.statistics(agency, TakedownStatisticsQuery(platform="facebook"))).requested == 0
    empty = TakedownStatisticsQuery(since=now, until=now - timedelta(hours=1))
    assert (await loop.work.statistics(agency, empty)).requested == 0
    with pytest.raises(RpcError, match="masa depan"):
        await loop.work.request(
            agency, request(case_id, url_of(site, "f"), requested_at=now + timedelta(hours=1))
        )


async def test_replicas_share_the_rechecks_through_leases(
    triage: Infrastructure, site: PostsSite, agency: str
) -> None:
    one, two = rechecker(triage), rechecker(triage)
    case_id = await open_case(triage, agency)
    ids = {
        (await one.work.request(agency, request(case_id, url_of(site, f"r{n}")))).takedown_id
        for n in range(8)
    }
    first, second = await asyncio.gather(one.sweep(), two.sweep())
    mine = {r.takedown_id for r in first} & ids
    theirs = {r.takedown_id for r in second} & ids
    # Every due re-check was made, each by one replica only.
    assert mine | theirs == ids and not mine & theirs
    assert len([p for p in site.requests if p.startswith("/posts/r")]) == 8
    await one.close()
    await two.close()


async def test_the_recheck_refuses_a_private_target_outside_the_allowlist(
    triage: Infrastructure, site: PostsSite, agency: str
) -> None:
    production_like = rechecker(triage, allow=())
    case_id = await open_case(triage, agency)
    taken = await production_like.work.request(agency, request(case_id, url_of(site, "inside")))
    await eventually(lambda: _checked(production_like, agency, taken.takedown_id), what="a re-check")
    view = await production_like.work.get(agency, TakedownQuery(takedown_id=taken.takedown_id))
    assert view.recent_checks[0].outcome is RecheckOutcome.REFUSED
    assert "loopback" in (view.recent_checks[0].detail or "")
    assert view.status is TakedownStatus.REQUESTED and view.removed_at is None
    assert site.requests == []
    await production_like.close()


def test_production_refuses_a_recheck_allowlist() -> None:
    from pantau_shared.settings import production_errors

    errors = production_errors(
        TriageSettings(takedown_fetch_test_allowlist=LOCAL, takedown_fetch_test_hosts={HOST: "127.0.0.1"})
    )
    assert any("PANTAU_TRIAGE_TAKEDOWN_FETCH_TEST_ALLOWLIST" in e for e in errors)
    assert any("PANTAU_TRIAGE_TAKEDOWN_FETCH_TEST_HOSTS" in e for e in errors)
    assert production_errors(TriageSettings()) == []


async def patrol_team(pool: Any, agency: str) -> None:
    """One member always on duty; an hour to acknowledge, so no escalation sweep of another test
    (they sweep every agency) finds this test's case alert due."""
    team_id = await notify_repository.add_team(
        pool,
        agency_id=agency,
        name="Patroli Siber",
        region_prefix="33.75",
        categories=None,
        min_priority=0,
        ack_minutes=60,
        supervisor_email=None,
    )
    await notify_repository.add_member(
        pool,
        team_id=team_id,
        name="Andi",
        email=f"andi@{agency}.id",
        whatsapp=None,
        position=0,
        shifts=[ALWAYS],
    )


async def test_a_passed_deadline_is_overdue_once_and_alerts_the_patrol_team_in_indonesian(
    triage: Infrastructure, loop: Rechecker, site: PostsSite, notify: Any, agency: str
) -> None:
    notify_infra, handlers, sink = notify
    await patrol_team(notify_infra.pool, agency)
    case_id = await open_case(triage, agency)
    await handlers.fanout.case_changed(wrap(opened(agency).model_copy(update={"case_id": case_id})))
    # Sent 24 hours and a minute ago, by letter: the deadline has passed, the post is still up.
    late = datetime.now(UTC) - timedelta(hours=24, minutes=1)
    taken = await loop.work.request(
        agency, request(case_id, url_of(site, "late"), requested_at=late, channel="letter")
    )
    overdue = await swept_until(loop, agency, taken.takedown_id, TakedownStatus.OVERDUE)
    assert overdue.overdue_at is not None and overdue.last_seen_live_at is not None
    assert overdue.next_check_at is not None  # re-checks go on: a late removal is still dated
    await loop.sweep()
    (event,) = await events(triage, agency, "case.takedown.overdue")
    history = await cases.history(triage.pool, agency, case_id)
    assert [h.change for h in history].count("takedown_overdue") == 1

    alerts = TakedownAlerts(
        notify_infra.pool, notify_infra.outbox, Requests(notify_infra.outbox, frozenset())
    )
    overdue_event = TakedownOverdue.model_validate(event)
    # Delivered twice (a redelivery): the team hears once.
    await alerts.takedown_overdue(wrap(overdue_event))
    await alerts.takedown_overdue(wrap(overdue_event))
    await send_requested(notify_infra, handlers, agency)

    async def overdue_mails() -> list[Any] | None:
        found = [m for m in sink.messages() if "TENGGAT TERLEWATI" in str(m["Subject"])]
        return found or None

    (mail,) = await eventually(overdue_mails, what="the overdue alert")
    assert mail["To"] == f"andi@{agency}.id"
    body = mail.get_content()
    assert "Tenggat penurunan konten di Facebook terlewati" in body
    assert "UU 7/2017 Pasal 280" in body and "(1 x 24 jam)" in body and "WIB" in body
    statuses = await notify_infra.pool.fetch(
        "SELECT state FROM deliveries WHERE case_id = $1 AND template = 'takedown_overdue'", case_id
    )
    assert [r["state"] for r in statuses] == ["sent"]

    figures = await loop.work.statistics(agency, TakedownStatisticsQuery())
    assert (figures.overdue, figures.open, figures.removed) == (1, 1, 0)
    # Removed after all, late: dated, and not within the deadline.
    site.remove_after("late", 0, "410")
    removed = await swept_until(loop, agency, taken.takedown_id, TakedownStatus.REMOVED)
    assert removed.within_deadline is False and removed.overdue_at == overdue.overdue_at
    figures = await loop.work.statistics(agency, TakedownStatisticsQuery())
    assert (figures.overdue, figures.removed, figures.removed_within_deadline) == (1, 1, 0)


async def test_a_routed_agencys_removal_marks_its_referral_done_and_tells_the_owner(
    triage: Infrastructure, loop: Rechecker, site: PostsSite, agency: str
) -> None:
    komdigi = f"{agency}-komdigi"
    case_id = await open_case(triage, agency, routed_to=(komdigi,))
    taken = await loop.work.request(komdigi, request(case_id, url_of(site, "routed")))
    await eventually(lambda: _checked(loop, komdigi, taken.takedown_id), what="a first re-check")
    site.remove_after("routed", 0, "404")
    await swept_until(loop, komdigi, taken.takedown_id, TakedownStatus.REMOVED)

    # The owner's state is the owner's; Komdigi's record on the case is done, as taken down.
    case = await cases.get_case(triage.pool, agency, case_id)
    assert case is not None and case.state is CaseState.VERIFYING
    record = await triage.pool.fetchrow(
        "SELECT state, note FROM referrals WHERE case_id = $1 AND agency_id = $2", case_id, komdigi
    )
    assert record["state"] == "done" and "konten tidak lagi tersedia" in record["note"]
    (news,) = await events(triage, agency, "case.updated")
    assert (news["change"], news["partner_agency"], news["partner_state"], news["partner_resolution"]) == (
        "partner_status",
        komdigi,
        "closed",
        "taken_down",
    )
    # Both see the takedown; it counts in Komdigi's figures.
    listed = await loop.work.list_for_case(agency, CaseQuery(case_id=case_id))
    assert [t.agency_id for t in listed.takedowns] == [komdigi]
    assert (await loop.work.statistics(komdigi, TakedownStatisticsQuery())).removed == 1
    assert (await loop.work.statistics(agency, TakedownStatisticsQuery())).requested == 0
