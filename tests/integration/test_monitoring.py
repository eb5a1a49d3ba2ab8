"""The monitoring schedule and collector against real PostgreSQL (intake's schema and outbox).

The platform here is an in-test timeline behind the `Connector` protocol: what is under test is
the schedule (leases, cursors, backoff, states) and the one transaction that stores posts, their
events and the cursor, not a platform's HTTP API.
"""

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from pantau_intake.monitoring import schedule
from pantau_intake.monitoring.collector import Collector
from pantau_intake.monitoring.connectors import AccountGone, Fetched, FetchedPost, RateLimited
from pantau_intake.monitoring.schedule import AccountState, Backoff
from pantau_shared.contract import Platform, PostObserved
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect

T0 = datetime(2024, 2, 11, 0, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Timeline:
    """Each account's posts, numbered; the cursor is the last number seen."""

    platform: Platform = Platform.YOUTUBE
    posts: dict[str, int] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    cursors: dict[str, list[str | None]] = field(default_factory=dict)
    failing: dict[str, Exception] = field(default_factory=dict)
    hold: asyncio.Event | None = None
    fetching: asyncio.Event = field(default_factory=asyncio.Event)

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        self.calls[account_id] += 1
        self.cursors.setdefault(account_id, []).append(cursor)
        self.fetching.set()
        if self.hold is not None:
            await self.hold.wait()
        if account_id in self.failing:
            raise self.failing[account_id]
        # One post of overlap with what was seen, as platforms give: stored once all the same.
        start = max(int(cursor or 0), 1)
        posts = tuple(
            FetchedPost(
                post_id=f"{account_id}-{n}",
                posted_at=T0 - timedelta(hours=1) + timedelta(minutes=n),
                raw=f'{{"id": "{account_id}-{n}"}}'.encode(),
                url=f"https://www.youtube.com/watch?v={account_id}-{n}",
                text=f"unggahan {n}",
                reach=100 * n,
            )
            for n in range(start, self.posts.get(account_id, 0) + 1)
        )
        return Fetched(posts=posts, cursor=str(self.posts.get(account_id, 0)), handle=f"@{account_id}")


@pytest.fixture
async def intake(platform: PlatformSettings):
    infra = await connect(platform, "intake")
    # One schedule per run's database: each test starts from an empty one.
    await infra.pool.execute("TRUNCATE watched_accounts, observed_posts")
    yield infra
    await infra.close()


async def _watch(infra, agency: str, accounts: list[str]) -> None:
    async with infra.pool.acquire() as conn:
        for account in accounts:
            assert await schedule.watch(conn, agency, Platform.YOUTUBE, account, None, T0)
        assert not await schedule.watch(conn, agency, Platform.YOUTUBE, accounts[0], None, T0)


def _collector(infra, timeline: Timeline, clock: Clock, **kwargs) -> Collector:
    return Collector(
        infra.pool,
        infra.outbox,
        lambda agency, platform: timeline if platform is timeline.platform else None,
        interval=lambda lease: SIX_HOURS,
        clock=clock,
        **kwargs,
    )


async def _row(infra, agency: str, account: str):
    return await infra.pool.fetchrow(
        "SELECT * FROM watched_accounts WHERE agency_id = $1 AND account_id = $2", agency, account
    )


async def test_two_collectors_check_every_account_once_and_keep_each_post_once(intake, run_id: str) -> None:
    agency = f"mon-{run_id}"[:40]
    accounts = [f"UC{i:03d}" for i in range(40)]
    await _watch(intake, agency, accounts)
    timeline, clock = Timeline(posts=dict.fromkeys(accounts, 3)), Clock()
    first, second = (_collector(intake, timeline, clock, batch=15) for _ in range(2))

    while any(await asyncio.gather(first.run_once(), second.run_once())):
        pass

    assert timeline.calls == Counter(dict.fromkeys(accounts, 1))
    stored = await intake.pool.fetchval("SELECT count(*) FROM observed_posts WHERE agency_id = $1", agency)
    events = await intake.pool.fetch(
        "SELECT headers, body FROM outbox WHERE subject LIKE '%.' || $1 || '.post.observed'", agency
    )
    assert stored == len(events) == 40 * 3
    post = PostObserved.model_validate_json(bytes(events[0]["body"]))
    assert json.loads(events[0]["headers"])["ce-type"] == "post.observed.v1"
    assert post.posted_at < post.observed_at == T0
    row = await _row(intake, agency, "UC000")
    assert (row["cursor"], row["state"], row["posts_observed"]) == ("3", "active", 3)
    assert row["due_at"] == T0 + SIX_HOURS and row["last_success_at"] == T0


async def test_the_cursor_is_passed_back_and_an_overlapping_post_is_not_kept_twice(
    intake, run_id: str
) -> None:
    agency = f"cur-{run_id}"[:40]
    await _watch(intake, agency, ["UCa"])
    timeline, clock = Timeline(posts={"UCa": 2}), Clock()
    collector = _collector(intake, timeline, clock)
    assert [o.observed for o in await collector.run_once()] == [2]

    assert await collector.run_once() == []  # not due before the SLO interval
    clock.now = T0 + SIX_HOURS
    timeline.posts["UCa"] = 4
    assert [o.observed for o in await collector.run_once()] == [2]

    assert timeline.cursors["UCa"] == [None, "2"]
    stored = await intake.pool.fetchval("SELECT count(*) FROM observed_posts WHERE agency_id = $1", agency)
    assert stored == 4
    assert (await _row(intake, agency, "UCa"))["posts_observed"] == 4


async def test_a_collector_killed_mid_fetch_loses_no_cursor_and_its_late_result_is_dropped(
    intake, run_id: str
) -> None:
    agency = f"kill-{run_id}"[:40]
    await _watch(intake, agency, ["UCk"])
    clock = Clock()
    stuck = Timeline(posts={"UCk": 5}, hold=asyncio.Event())
    killed = asyncio.create_task(_collector(intake, stuck, clock, hold=timedelta(minutes=5)).run_once())
    await asyncio.wait_for(stuck.fetching.wait(), timeout=10)
    killed.cancel()
    row = await _row(intake, agency, "UCk")
    assert row["cursor"] is None and row["lease_token"] is not None

    late = Timeline(posts={"UCk": 5}, hold=asyncio.Event())
    late_task = asyncio.create_task(_collector(intake, late, clock, hold=timedelta(minutes=5)).run_once())
    clock.now = T0 + timedelta(minutes=6)  # ... the killed one's lease expires, but not this one's
    await asyncio.wait_for(late.fetching.wait(), timeout=10)
    clock.now = T0 + timedelta(minutes=12)  # ... this one is slow too: its lease expires
    taker = Timeline(posts={"UCk": 5})
    [taken] = await _collector(intake, taker, clock).run_once()
    assert taken.observed == 5 and taker.cursors["UCk"] == [None]

    assert late.hold is not None
    late.hold.set()
    [dropped] = await late_task
    assert dropped.lost_lease and dropped.observed == 0
    stored = await intake.pool.fetchval("SELECT count(*) FROM observed_posts WHERE agency_id = $1", agency)
    assert stored == 5
    row = await _row(intake, agency, "UCk")
    assert (row["cursor"], row["posts_observed"], row["lease_token"]) == ("5", 5, None)


async def test_failures_back_off_per_account_then_show_it_failing_gone_or_rate_limited(
    intake, run_id: str
) -> None:
    agency = f"fail-{run_id}"[:40]
    await _watch(intake, agency, ["UCbad", "UCgone", "UCslow", "UCok"])
    timeline = Timeline(
        posts={"UCok": 1},
        failing={
            "UCbad": OSError("connection reset"),
            "UCgone": AccountGone("channelNotFound"),
            "UCslow": RateLimited(900),
        },
    )
    clock = Clock()
    collector = _collector(intake, timeline, clock, backoff=Backoff(base_s=60, failing_after=3))

    for expected_delay, expected_state in ((60, "active"), (120, "active"), (240, "failing")):
        await collector.run_once()
        bad = await _row(intake, agency, "UCbad")
        assert bad["due_at"] - clock.now == timedelta(seconds=expected_delay)
        assert bad["state"] == expected_state and "connection reset" in bad["last_error"]
        clock.now = bad["due_at"]

    gone, slow, ok = [await _row(intake, agency, a) for a in ("UCgone", "UCslow", "UCok")]
    assert (gone["state"], gone["due_at"]) == ("gone", T0 + timedelta(days=1))
    assert timeline.calls["UCgone"] == 1
    # A rate limit is the credential's, not the account's: no failure counted, back when it says.
    assert (slow["failures"], slow["state"], slow["due_at"]) == (0, "active", T0 + timedelta(seconds=900))
    assert timeline.calls["UCslow"] == 1
    assert (ok["cursor"], ok["failures"]) == ("1", 0)
    assert bad["failures"] == 3 and bad["cursor"] is None
    assert AccountState(bad["state"]) is AccountState.FAILING
