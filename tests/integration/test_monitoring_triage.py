"""The registries reaching intake's schedule over NATS (`monitoring.watchlist`), and triage of
observed posts on real PostgreSQL: every post kept in the day-partitioned table, a finding
staged as a monitoring report, retention by dropping whole days."""

import json
import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pantau_intake.monitoring.watchlist import WatchlistSync
from pantau_intake.settings import MonitoredAgency
from pantau_shared.bus import RpcClient, RpcError
from pantau_shared.bus.rpc import NotFound
from pantau_shared.bus.rpc import serve as serve_rpc
from pantau_shared.contract import Envelope, Platform, PostObserved, ReportReceived
from pantau_shared.contract.queue import CaseListQuery, CaseSource
from pantau_shared.contract.rpc import CaseQuery, ErrorCode, ReportQuery
from pantau_shared.settings import PlatformSettings
from pantau_triage.analysis import Analyser
from pantau_triage.casework import CaseWork
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.classify import TriageClassifier
from pantau_triage.election_rules import ElectionRules
from pantau_triage.elections import Calendar
from pantau_triage.handlers import TriageHandlers
from pantau_triage.observed import ObservedPostsTriage
from pantau_triage.observed_partitions import Partitions, partition_name
from pantau_triage.queue import CaseQueue
from pantau_triage.registries import parse_accounts, parse_officials
from pantau_triage.registry_store import import_accounts, import_officials
from pantau_triage.routing import Router
from tests.conftest import connect
from tests.integration.test_services import wrap
from tests.waiting import eventually

WITA = timezone(timedelta(hours=8))
QUIET = datetime(2024, 2, 12, 10, 0, tzinfo=WITA)  # masa tenang Pemilu 2024
CAMPAIGN = datetime(2024, 1, 20, 10, 0, tzinfo=WITA)


@pytest.fixture
def region() -> str:
    """A village code of this test alone (Lombok Barat's calendar applies), so the registry's
    accounts of other tests in the same database are not in its watchlist."""
    return f"52.01.{secrets.randbelow(90) + 10}.{secrets.randbelow(9000) + 1000}"


@pytest.fixture
async def services(platform: PlatformSettings):
    triage, intake = await connect(platform, "triage"), await connect(platform, "intake")
    yield triage, intake
    await intake.close()
    await triage.close()


async def _registry(
    pool, region: str, suffix: str, *, replace: bool = False, without_x: bool = False
) -> None:
    rows = ["participant,party,election_id,region_code,platform,handle,url"]
    rows.append(f"Lalu Budi,PKB,pemilu-2024,{region},youtube,@budi{suffix},")
    if not without_x:
        rows.append(f"Lalu Budi,PKB,pemilu-2024,{region},x,@budi{suffix},")
    rows.append(f"Lalu Budi,PKB,pemilu-2024,{region},tiktok,@budi{suffix},")
    await import_accounts(pool, parse_accounts(rows).rows, replace=replace)
    officials = ["name,role,institution,region_code,platform,handle,url"]
    officials.append(f"Ahmad Kades,kepala_desa,Desa Gerung,{region},x,kades{suffix},")
    await import_officials(pool, parse_officials(officials).rows)


def _triage(infra, clock=lambda: QUIET) -> ObservedPostsTriage:
    classifier, claims = TriageClassifier.packaged(), ClaimRegistry()
    calendar = Calendar.load()
    return ObservedPostsTriage(
        infra.pool,
        infra.outbox,
        Analyser(classifier, claims),
        claims,
        ElectionRules(calendar),
        calendar,
        retention_days=400,
        clock=clock,
    )


async def test_the_watchlist_reaches_the_schedule_over_nats_in_pages_and_follows_the_registry(
    services, agency: str, region: str
) -> None:
    triage, intake = services
    suffix = secrets.token_hex(3)
    await _registry(triage.pool, region, suffix)
    served = await serve_rpc(triage.nc, triage.subjects, "triage", _triage(triage).answers())
    await triage.nc.flush()  # subscribed at the server before intake's connection asks
    feed = "https://berita.example/rss.xml"
    agencies = {
        agency: MonitoredAgency(regions=[region], youtube_api_key="k", x_bearer_token="t", feeds=[feed])
    }
    sync = WatchlistSync(
        intake.pool,
        RpcClient(intake.nc, intake.subjects),
        agencies,
        interval_s=60,
        page_size=1,
        clock=lambda: QUIET,
    )
    try:
        # Triage's subscription can take a moment to be seen by the server intake asks.
        assert await eventually(
            lambda: _answered(sync.sync(agency)), timeout=30, what="triage answering"
        ) == (4, 0)
        assert sync.periods[agency] == "quiet"
        rows = await intake.pool.fetch(
            "SELECT platform, account_id, kind, region_code, state FROM watched_accounts WHERE agency_id = $1"
            " ORDER BY platform, account_id",
            agency,
        )
        # TikTok is in the registry but the agency holds no TikTok credential.
        assert [tuple(r) for r in rows] == [
            ("web", feed, "feed", "", "active"),
            ("x", f"budi{suffix}", "participant", region, "active"),
            ("x", f"kades{suffix}", "official", region, "active"),
            ("youtube", f"budi{suffix}", "participant", region, "active"),
        ]
        assert await sync.sync(agency) == (0, 0)  # the same list changes nothing

        await _registry(triage.pool, region, suffix, replace=True, without_x=True)
        assert await sync.sync(agency) == (0, 1)
        state = await intake.pool.fetchval(
            "SELECT state FROM watched_accounts WHERE agency_id = $1 AND platform = 'x' AND account_id = $2",
            agency,
            f"budi{suffix}",
        )
        assert state == "unlisted"
    finally:
        for subscription in served:
            await subscription.unsubscribe()


async def _answered(call):
    try:
        return await call
    except RpcError as error:
        if error.code is not ErrorCode.UNAVAILABLE:
            raise
        return None


def _post(agency: str, region: str | None, account: str, text: str, at: datetime, **fields) -> Envelope:
    platform = fields.pop("platform", Platform.X)
    post_id = fields.pop("post_id", secrets.token_hex(6))
    data = PostObserved(
        observation_id=PostObserved.observation_key(platform, account, post_id),
        agency_id=agency,
        platform=platform,
        account_id=account,
        account_handle=account,
        post_id=post_id,
        url=fields.pop("url", f"https://x.com/{account}/status/{int(post_id, 16)}"),
        text=text,
        posted_at=at,
        observed_at=at + timedelta(minutes=20),
        reach=321,
        evidence_sha256="ab" * 32,
        region_code=region,
        **fields,
    )
    return Envelope(data=data, source="/pantau/intake/monitoring", agency_id=agency)


async def test_every_post_is_kept_and_only_findings_become_monitoring_reports(
    services, agency: str, region: str
) -> None:
    triage, _ = services
    suffix = secrets.token_hex(3)
    await _registry(triage.pool, region, suffix)
    observed = _triage(triage)
    quiet_post = _post(agency, region, f"budi{suffix}", "Terima kasih warga Gerung atas dukungannya", QUIET)
    official = _post(
        agency,
        region,
        f"kades{suffix}",
        "Ayo coblos nomor 2, pilih Lalu Budi!",
        CAMPAIGN,
        account_kind="official",
    )
    plain = _post(
        agency,
        None,
        "https://berita.example/rss.xml",
        "Jadwal pemadaman listrik di Gerung hari Sabtu",
        CAMPAIGN,
        platform=Platform.WEB,
        url="https://berita.example/listrik",
        account_kind="feed",
    )
    outcomes = await observed.posts_observed([quiet_post, official, plain])
    assert outcomes == [None, None, None]
    assert await observed.posts_observed([quiet_post]) == [None]  # redelivered

    rows = await triage.pool.fetch(
        "SELECT account_id, finding, categories, reasons, report_id, posted_at FROM observed_posts"
        " WHERE agency_id = $1 ORDER BY posted_at",
        agency,
    )
    assert len(rows) == 3
    found = {r["account_id"]: r for r in rows}
    assert (
        found[f"budi{suffix}"]["finding"] and "kampanye_luar_jadwal" in found[f"budi{suffix}"]["categories"]
    )
    assert found[f"kades{suffix}"]["finding"] and "netralitas_asn" in found[f"kades{suffix}"]["categories"]
    assert not found["https://berita.example/rss.xml"]["finding"]
    assert found["https://berita.example/rss.xml"]["report_id"] is None

    staged = await triage.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.report.received' ORDER BY id", agency
    )
    reports = [ReportReceived.model_validate_json(bytes(r["body"])) for r in staged]
    assert len(reports) == 2  # the redelivery reported nothing more
    by_author = {r.author_handle: r for r in reports}
    quiet_report = by_author[f"budi{suffix}"]
    assert quiet_report.channel.value == "monitoring" and quiet_report.reporter_id is None
    # The post's own time, not when it was seen.
    assert quiet_report.submitted_at == QUIET and quiet_report.received_at == QUIET + timedelta(minutes=20)
    assert quiet_report.report_id == found[f"budi{suffix}"]["report_id"]
    assert quiet_report.canonical_url == quiet_post.data.url and quiet_report.reach == 321
    assert json.loads(quiet_report.model_dump_json())["raw_sha256"] == "ab" * 32

    listed = await observed.posts(agency, _posts_query(f"budi{suffix}"))
    assert [p.finding for p in listed.posts] == [True] and listed.posts[0].case_id is None

    # `GET /v1/reports/{id}` reads a monitoring report from triage: exactly as published, for
    # its own agency only.
    for published in reports:
        read = await observed.report(agency, ReportQuery(report_id=published.report_id))
        assert read.model_dump(exclude={"withdrawn_at"}) == published.model_dump() and not read.withdrawn_at
    with pytest.raises(NotFound):
        await observed.report("agency-other", ReportQuery(report_id=quiet_report.report_id))

    # Triage's own report path opens the case; the case's observed post says whose, posted when.
    handlers = TriageHandlers(
        triage.pool,
        triage.outbox,
        TriageClassifier.packaged(),
        Router.load(),
        ClaimRegistry(),
        ElectionRules(Calendar.load()),
    )
    await handlers.report_received(wrap(quiet_report))
    [post] = (await observed.posts(agency, _posts_query(f"budi{suffix}"))).posts
    assert post.case_id is not None
    # The queue tells monitoring's cases from the public's (`GET /v1/cases?source=monitoring`).
    queue = CaseQueue(triage.pool, CaseWork(triage.pool, triage.outbox, ClaimRegistry()))
    by_monitoring = await queue.list_cases(agency, CaseListQuery(source=CaseSource.MONITORING))
    assert [(c.case_id, c.source) for c in by_monitoring.cases] == [(post.case_id, CaseSource.MONITORING)]
    assert (await queue.list_cases(agency, CaseListQuery(source=CaseSource.REPORT))).cases == []
    [origin] = (await observed.case_posts(agency, CaseQuery(case_id=post.case_id))).posts
    assert (origin.platform, origin.account_id, origin.posted_at) == (Platform.X, f"budi{suffix}", QUIET)
    assert (await observed.case_posts("agency-other", CaseQuery(case_id=post.case_id))).posts == []


def _posts_query(account: str):
    from pantau_shared.contract.monitoring import PostsQuery

    return PostsQuery(platform=Platform.X, account_id=account)


async def test_days_are_partitions_made_ahead_filled_from_the_default_and_dropped_after_retention(
    services, agency: str
) -> None:
    triage, _ = services
    day = datetime(2031, 3, 1, tzinfo=UTC)
    await triage.pool.execute(
        "INSERT INTO observed_posts (observation_id, agency_id, platform, account_id, post_id, posted_at,"
        " observed_at, evidence_sha256, finding)"
        " VALUES (gen_random_uuid(), $1, 'x', 'a', 'p', $2, $2, $3, false)",
        agency,
        day + timedelta(hours=5),
        "ab" * 32,
    )
    where = "SELECT tableoid::regclass::text FROM observed_posts WHERE agency_id = $1"
    assert await triage.pool.fetchval(where, agency) == "observed_posts_default"

    clock = {"now": day + timedelta(hours=1)}
    partitions = Partitions(triage.pool, retention_days=30, ahead_days=2, clock=lambda: clock["now"])
    made, _ = await partitions.maintain()
    assert [d.isoformat() for d in made] == ["2031-03-01", "2031-03-02", "2031-03-03"]
    # The row that was early is now in its day.
    assert await triage.pool.fetchval(where, agency) == partition_name(day.date())
    assert (await partitions.maintain())[0] == []

    clock["now"] = day + timedelta(days=32)
    made, dropped = await partitions.maintain()
    assert [d.isoformat() for d in dropped][:1] == ["2031-03-01"] and "2031-03-03" not in {
        d.isoformat() for d in dropped
    }
    assert await triage.pool.fetchval("SELECT count(*) FROM observed_posts WHERE agency_id = $1", agency) == 0
    assert partition_name(day.date()) not in {partition_name(d) for d in await partitions.days()}
