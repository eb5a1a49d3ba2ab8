"""Intake's monitoring as `__main__` builds it from settings: the watchlist pulled from triage
over NATS, the collector through the real connectors against the local platform servers,
and coverage showing gone, private and renamed accounts."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from pantau_devstack.platforms import PlatformsPeer, PlatformWorld, Status
from pantau_intake.monitoring.collector import Outcome
from pantau_intake.monitoring.service import Monitoring
from pantau_intake.settings import IntakeSettings
from pantau_shared.bus import RpcClient
from pantau_shared.bus.rpc import serve as serve_rpc
from pantau_shared.contract import Platform
from pantau_shared.contract.monitoring import CoverageQuery
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect
from tests.integration.test_monitoring_triage import _registry, _triage


@pytest.fixture
async def services(platform: PlatformSettings):
    triage, intake = await connect(platform, "triage"), await connect(platform, "intake")
    yield triage, intake
    await intake.close()
    await triage.close()


async def test_monitoring_built_from_settings_collects_the_registry_and_shows_account_states(
    services, platform: PlatformSettings, agency: str
) -> None:
    triage, intake = services
    suffix = secrets.token_hex(3)
    region = f"52.01.{secrets.randbelow(90) + 10}.{secrets.randbelow(9000) + 1000}"
    await _registry(triage.pool, region, suffix)  # budi on YouTube, X, TikTok; kades on X
    served = await serve_rpc(triage.nc, triage.subjects, "triage", _triage(triage).answers())
    await triage.nc.flush()  # subscribed at the server before intake's connection asks
    world = PlatformWorld()
    now = datetime.now(UTC)
    youtube, x = world.add("youtube", f"budi{suffix}"), world.add("x", f"budi{suffix}")
    for account in (youtube, x):
        world.post(account, "Terima kasih warga", at=now - timedelta(hours=2))
    world.add("x", f"kades{suffix}").status = Status.PRIVATE
    async with PlatformsPeer(world) as peer:
        settings = IntakeSettings(
            monitoring_agencies={
                agency: {
                    "regions": [region],
                    "youtube_api_key": "youtube-local-key",
                    "x_bearer_token": "x-local-bearer",
                }
            },
            monitoring={"youtube_base_url": peer.base_url, "x_base_url": peer.base_url},
        )
        monitoring = Monitoring.build(
            intake.pool,
            intake.outbox,
            intake.redis,
            RpcClient(intake.nc, intake.subjects),
            settings,
            platform.subject_root,
        )
        try:
            assert monitoring.connector(agency, Platform.TIKTOK) is None  # no TikTok credential
            assert await monitoring.watchlist.sync(agency) == (3, 0)
            outcomes = await _check_all(monitoring, agency)
            assert sorted(o.observed for o in outcomes) == [0, 1, 1]

            world.rename(x, f"budibaru{suffix}"[:15])
            youtube.status = Status.GONE
            world.post(x, "Tweet setelah ganti nama")
            await intake.pool.execute(
                "UPDATE watched_accounts SET due_at = now() WHERE agency_id = $1", agency
            )
            await monitoring.collector.run_once()

            coverage = await monitoring.coverage.coverage(agency, CoverageQuery())
        finally:
            await monitoring.aclose()
            for subscription in served:
                await subscription.unsubscribe()
    # Triage's clock here is in Pemilu 2024's quiet period: the one-hour SLO.
    assert (coverage.period, coverage.slo_s, coverage.accounts, coverage.active) == ("quiet", 3600, 3, 1)
    by_platform = {p.platform: p for p in coverage.platforms}
    assert (by_platform[Platform.YOUTUBE].gone, by_platform[Platform.X].private) == (1, 1)
    assert by_platform[Platform.X].renamed == 1 and coverage.within_slo == 1
    listed = {a.account_id: a for a in coverage.listed if a.platform is Platform.X}
    assert listed[f"budi{suffix}"].handle == f"budibaru{suffix}"[:15] and listed[f"budi{suffix}"].renamed
    assert listed[f"budi{suffix}"].posts_observed == 2 and listed[f"kades{suffix}"].state == "private"
    events = await intake.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE subject LIKE '%.' || $1 || '.post.observed'", agency
    )
    assert events == 3


async def _check_all(monitoring: Monitoring, agency: str) -> list[Outcome]:
    """Run the collector until this agency's due accounts are checked; it checks the other
    tests' accounts in this database too, as one intake checks every agency's."""
    mine: list[Outcome] = []
    while outcomes := await monitoring.collector.run_once():
        mine += [o for o in outcomes if o.lease.agency_id == agency]
    return mine
