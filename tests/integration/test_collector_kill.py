"""A collector process killed (SIGKILL) in the middle of a run, then started again: every post
is stored once, with one event, and every cursor is kept; only the accounts it held leased when
it died are fetched twice."""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pantau_devstack.platforms import PlatformsPeer, PlatformWorld
from pantau_intake.monitoring import schedule
from pantau_shared.contract import Platform
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS, POSTS = 60, 5


def _start(platform: PlatformSettings, peer: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CHILD_PLATFORM": platform.model_dump_json(), "CHILD_PEER": peer}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.collector_child"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    if child.stdout is not None:
        child.stdout.close()


@pytest.fixture
async def intake(platform: PlatformSettings):
    infra = await connect(platform, "intake")
    yield infra
    await infra.close()


async def test_a_killed_collector_loses_no_cursor_and_counts_nothing_twice(
    intake, platform: PlatformSettings, agency: str
) -> None:
    world = PlatformWorld()
    world.latency_s = 0.15  # an account takes three calls: about half a second
    now = datetime.now(UTC)
    async with PlatformsPeer(world) as peer:
        async with intake.pool.acquire() as conn:
            for n in range(ACCOUNTS):
                channel = world.add("youtube", f"kill{agency[-8:]}{n}")
                for k in range(POSTS):
                    world.post(channel, f"video {k}", at=now - timedelta(hours=k + 1))
                await schedule.watch(conn, agency, Platform.YOUTUBE, channel.handle, None, now)

        async def done() -> int:
            return int(
                await intake.pool.fetchval(
                    "SELECT count(*) FROM watched_accounts"
                    " WHERE agency_id = $1 AND last_success_at IS NOT NULL",
                    agency,
                )
            )

        first = _start(platform, peer.base_url)
        try:
            await eventually(lambda: _at_least(done, 10), timeout=120, what="a first batch checked")
        finally:
            _kill(first)
        checked_at_kill = await done()
        in_flight = await intake.pool.fetchval(
            "SELECT count(*) FROM watched_accounts WHERE agency_id = $1 AND lease_token IS NOT NULL", agency
        )
        assert checked_at_kill < ACCOUNTS, "the collector was not killed mid-run"

        second = _start(platform, peer.base_url)
        try:
            await eventually(lambda: _at_least(done, ACCOUNTS), timeout=180, what="every account checked")
        finally:
            _kill(second)

    stored = await intake.pool.fetchval("SELECT count(*) FROM observed_posts WHERE agency_id = $1", agency)
    events = await intake.pool.fetch(
        "SELECT headers->>'ce-subject' AS observation FROM outbox"
        " WHERE subject LIKE '%.' || $1 || '.post.observed'",
        agency,
    )
    counted = await intake.pool.fetchval(
        "SELECT sum(posts_observed) FROM watched_accounts WHERE agency_id = $1", agency
    )
    assert stored == len(events) == len({e["observation"] for e in events}) == counted == ACCOUNTS * POSTS
    cursors = await intake.pool.fetchval(
        "SELECT count(*) FROM watched_accounts"
        " WHERE agency_id = $1 AND cursor IS NOT NULL AND lease_token IS NULL",
        agency,
    )
    assert cursors == ACCOUNTS
    # Each account's uploads were read once, except those leased by the killed process.
    assert ACCOUNTS <= world.calls["youtube.playlistItems"] <= ACCOUNTS + in_flight + 10


async def _at_least(probe, n: int) -> bool:
    return await probe() >= n
