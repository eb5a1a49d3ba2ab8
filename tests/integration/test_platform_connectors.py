"""Each connector against the local server that speaks its platform's documented API
(`pantau_devstack.platforms`), with budgets counted in real Redis."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from pantau_devstack.platforms import PlatformsPeer, PlatformWorld, Status
from pantau_intake.monitoring import platform_http
from pantau_intake.monitoring.budgets import DAY_PACIFIC, FIFTEEN_MINUTES, HOUR, Budget
from pantau_intake.monitoring.connectors import AccountGone, AccountPrivate, RateLimited
from pantau_intake.monitoring.feeds import FeedConnector
from pantau_intake.monitoring.graph import FacebookPageConnector, GraphClient, InstagramConnector
from pantau_intake.monitoring.tiktok import TikTokConnector
from pantau_intake.monitoring.x import XConnector
from pantau_intake.monitoring.youtube import YouTubeConnector
from pantau_shared.redis import create_redis
from pantau_shared.settings import PlatformSettings

T0 = datetime(2024, 2, 11, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def redis(platform: PlatformSettings):
    client = create_redis(platform.redis_url, service="test")
    yield client
    await client.aclose()


@pytest.fixture
async def peer():
    clock = Clock()
    async with PlatformsPeer(PlatformWorld(clock)) as running:
        yield running, clock


def _budget(redis, limit: int, window=DAY_PACIFIC, clock=None) -> Budget:
    return Budget(redis, f"test:budget:{secrets.token_hex(4)}", limit, window, clock or (lambda: T0))


async def test_youtube_resolves_the_handle_once_pages_the_uploads_and_counts_units(peer, redis) -> None:
    server, clock = peer
    world = server.world
    channel = world.add("youtube", "budisantoso", followers=5400)
    for n in range(3):
        world.post(channel, f"Video lama {n}", at=T0 - timedelta(days=30 - n))
    recent = [
        world.post(channel, f"Kampanye hari {n}\nDeskripsi", at=T0 - timedelta(hours=n + 1), views=10 * n)
        for n in range(3)
    ]
    budget = _budget(redis, 10_000, clock=clock)
    async with platform_http.client(server.base_url) as client:
        youtube = YouTubeConnector(client, "youtube-local-key", budget, clock=clock)
        first = await youtube.fetch("budisantoso", None)
        # Older than the first look's window (7 days): not fetched as new.
        assert [p.post_id for p in first.posts] == [p.post_id for p in reversed(recent)]
        assert first.reach == 5400 and first.posts[0].reach == 20
        assert first.posts[-1].text == "Kampanye hari 0\n\nDeskripsi"
        assert first.posts[0].url == f"https://www.youtube.com/watch?v={recent[2].post_id}"
        # channels + one playlist page + videos for the views.
        assert await budget.spent() == 3 == sum(world.calls.values())

        clock.now = T0 + timedelta(hours=4)  # 07:00 UTC: the same Pacific day
        later = world.post(channel, "Unggahan baru")
        second = await youtube.fetch("budisantoso", first.cursor)
        assert [p.post_id for p in second.posts] == [later.post_id]
        assert world.calls["youtube.channels"] == 1  # the channel id is kept in the cursor
        third = await youtube.fetch("budisantoso", second.cursor)
        assert third.posts == () and await budget.spent() == 6


async def test_youtube_posts_beyond_the_page_limit_are_read_next_time_not_skipped(peer, redis) -> None:
    server, clock = peer
    world = server.world
    channel = world.add("youtube", "rajinunggah")
    async with platform_http.client(server.base_url) as client:
        youtube = YouTubeConnector(client, "youtube-local-key", _budget(redis, 10_000), pages=2, clock=clock)
        first = await youtube.fetch("rajinunggah", None)
        assert first.posts == ()
        burst = [world.post(channel, f"video {n}", at=T0 + timedelta(minutes=n)) for n in range(230)]
        clock.now = T0 + timedelta(hours=6)
        seen: list[str] = []
        cursor = first.cursor
        for _ in range(4):
            fetched = await youtube.fetch("rajinunggah", cursor)
            seen.extend(p.post_id for p in fetched.posts)
            cursor = fetched.cursor
        assert sorted(seen) == sorted(p.post_id for p in burst)
        assert len(seen) == len(set(seen)) == 230
        assert (await youtube.fetch("rajinunggah", cursor)).posts == ()


async def test_youtube_quota_gone_and_private_answers(peer, redis) -> None:
    server, clock = peer
    world = server.world
    world.youtube_quota.limit = 2
    gone, hidden = world.add("youtube", "sudahhilang"), world.add("youtube", "disembunyikan")
    budget = _budget(redis, 10_000, clock=clock)
    async with platform_http.client(server.base_url) as client:
        youtube = YouTubeConnector(client, "youtube-local-key", budget, clock=clock)
        cursor = (await youtube.fetch("sudahhilang", None)).cursor  # 2 units: the key's whole quota
        with pytest.raises(RateLimited) as limited:
            await youtube.fetch("disembunyikan", None)
        # Blocked until midnight Pacific (08:00 UTC), for every instance sharing the budget.
        assert limited.value.retry_after_s == (T0.replace(hour=8) - T0).total_seconds()
        calls = sum(world.calls.values())
        with pytest.raises(RateLimited):
            await youtube.fetch("disembunyikan", None)
        assert sum(world.calls.values()) == calls  # not even asked

        world.youtube_quota.limit = 100
        clock.now = T0.replace(hour=9)
        gone.status = Status.GONE
        with pytest.raises(AccountGone, match="playlistNotFound"):
            await youtube.fetch("sudahhilang", cursor)
        with pytest.raises(AccountGone, match="channelNotFound"):
            await youtube.fetch("sudahhilang", None)
        hidden.status = Status.PRIVATE
        with pytest.raises(AccountPrivate, match="playlistItemsNotAccessible"):
            await youtube.fetch("disembunyikan", None)
        bad_key = YouTubeConnector(client, "wrong-key", _budget(redis, 10), clock=clock)
        with pytest.raises(RuntimeError, match="keyInvalid"):
            await bad_key.fetch("disembunyikan", None)


async def test_x_timeline_since_id_rename_and_the_gap_below_the_page_limit(peer, redis) -> None:
    server, clock = peer
    world = server.world
    user = world.add("x", "calegpekalongan", followers=812)
    old = world.post(user, "Tweet lama", at=T0 - timedelta(days=20))
    first_posts = [world.post(user, f"Tweet {n}", at=T0 - timedelta(hours=3 - n), views=n) for n in range(3)]
    async with platform_http.client(
        server.base_url, headers={"Authorization": "Bearer x-local-bearer"}
    ) as client:
        x = XConnector(client, _budget(redis, 1_500, FIFTEEN_MINUTES, clock), pages=2, clock=clock)
        first = await x.fetch("calegpekalongan", None)
        assert [p.post_id for p in first.posts] == [p.post_id for p in first_posts]
        assert old.post_id not in {p.post_id for p in first.posts}
        assert first.reach == 812 and first.handle is None
        assert first.posts[0].url == f"https://x.com/calegpekalongan/status/{first_posts[0].post_id}"

        clock.now = T0 + timedelta(hours=1)
        world.rename(user, "calegpekalongan_baru")
        burst = [world.post(user, f"Banjir tweet {n}") for n in range(250)]  # 3 pages of 100
        seen: list[str] = []
        fetched = await x.fetch("calegpekalongan", first.cursor)
        assert fetched.handle == "calegpekalongan_baru"
        # A link without the new name, which the registry does not know.
        assert fetched.posts[0].url == f"https://x.com/i/web/status/{fetched.posts[0].post_id}"
        seen.extend(p.post_id for p in fetched.posts)
        fetched = await x.fetch("calegpekalongan", fetched.cursor)
        seen.extend(p.post_id for p in fetched.posts)
        assert sorted(seen) == sorted(p.post_id for p in burst) and len(seen) == 250
        assert (await x.fetch("calegpekalongan", fetched.cursor)).posts == ()


async def test_x_rate_limit_headers_block_the_token_and_protected_or_missing_users(peer, redis) -> None:
    server, clock = peer
    world = server.world
    world.x_quota.limit = 2
    world.add("x", "terkunci").status = Status.PRIVATE
    budget = _budget(redis, 1_500, FIFTEEN_MINUTES, clock)
    async with platform_http.client(
        server.base_url, headers={"Authorization": "Bearer x-local-bearer"}
    ) as client:
        x = XConnector(client, budget, clock=clock)
        with pytest.raises(AccountPrivate, match="not authorized"):
            await x.fetch("terkunci", None)
        # That timeline call left 1 of 2 on users/by/username... and the lookup below spends it.
        with pytest.raises(AccountGone, match="Could not find user"):
            await x.fetch("tidakada", None)
        # remaining: 0 in the headers: the token waits for x-rate-limit-reset without asking again.
        calls = sum(world.calls.values())
        with pytest.raises(RateLimited) as limited:
            await x.fetch("tidakada", None)
        assert sum(world.calls.values()) == calls
        assert 0 < limited.value.retry_after_s <= 900
        world.rate_limit_next("x")
        clock.now += timedelta(minutes=16)
        with pytest.raises(RateLimited):  # a plain 429
            await x.fetch("tidakada", None)

        # An outage (503) holds the token back for every account, not one account at a time.
        clock.now += timedelta(minutes=16)
        world.fail_next("x")
        with pytest.raises(RateLimited) as outage:
            await x.fetch("terkunci", None)
        assert outage.value.retry_after_s == 120  # its Retry-After
        calls = sum(world.calls.values())
        with pytest.raises(RateLimited):
            await x.fetch("orang_lain", None)
        assert sum(world.calls.values()) == calls


async def test_feeds_conditional_get_new_entries_and_a_removed_feed(peer) -> None:
    server, clock = peer
    world = server.world
    feed = world.add("web", "beritapekalongan")
    world.post(feed, "Berita kemarin", at=T0 - timedelta(days=1))
    async with platform_http.client() as client:
        feeds = FeedConnector(client, clock=clock)
        url = server.feed_url(feed)
        first = await feeds.fetch(url, None)
        assert [p.text for p in first.posts] == ["Berita kemarin\n\nBerita kemarin"]
        assert first.handle == "beritapekalongan"
        assert first.posts[0].url is not None and first.posts[0].url.startswith(
            "https://beritapekalongan.example/"
        )
        unchanged = await feeds.fetch(url, first.cursor)
        assert unchanged.posts == () and unchanged.cursor == first.cursor
        world.post(feed, "Berita hari ini", at=T0)
        second = await feeds.fetch(url, first.cursor)
        assert [p.text for p in second.posts] == ["Berita hari ini\n\nBerita hari ini"]
        feed.status = Status.GONE
        with pytest.raises(AccountGone, match="410"):
            await feeds.fetch(url, second.cursor)


async def test_tiktok_queries_by_username_and_window_with_a_token_and_a_daily_limit(peer, redis) -> None:
    server, clock = peer
    world = server.world
    user = world.add("tiktok", "calegpkl")
    world.post(user, "Video bulan lalu", at=T0 - timedelta(days=20))
    recent = [world.post(user, f"Video {n}", at=T0 - timedelta(hours=n + 1), views=7) for n in range(150)]
    # Another account's videos are not in the answer.
    world.post(world.add("tiktok", "orang_lain"), "bukan dia", at=T0 - timedelta(hours=1))
    budget = _budget(redis, 1_000, DAY_PACIFIC, clock)
    async with platform_http.client(server.base_url) as client:
        tiktok = TikTokConnector(client, "tiktok-local-key", "tiktok-local-secret", budget, clock=clock)
        first = await tiktok.fetch("calegpkl", None)
        assert sorted(p.post_id for p in first.posts) == sorted(p.post_id for p in recent)
        assert first.posts[0].url == f"https://www.tiktok.com/@calegpkl/video/{first.posts[0].post_id}"
        assert first.posts[0].reach == 7 and first.posts[-1].text == "Video 0"
        assert world.calls["tiktok.token"] == 1 and world.calls["tiktok.video.query"] == 2  # two pages

        clock.now = T0 + timedelta(hours=1)
        later = world.post(user, "Video baru")
        second = await tiktok.fetch("calegpkl", first.cursor)
        assert [p.post_id for p in second.posts] == [later.post_id]
        assert world.calls["tiktok.token"] == 1  # the token is kept until it expires (2 h)
        clock.now = T0 + timedelta(hours=2)
        assert (await tiktok.fetch("calegpkl", second.cursor)).posts == ()
        assert world.calls["tiktok.token"] == 2

        world.rate_limit_next("tiktok")
        with pytest.raises(RateLimited) as limited:
            await tiktok.fetch("calegpkl", second.cursor)
        assert (
            limited.value.retry_after_s
            == (T0.replace(hour=0) + timedelta(days=1) - clock.now).total_seconds()
        )
        wrong = TikTokConnector(client, "tiktok-local-key", "salah", _budget(redis, 10), clock=clock)
        with pytest.raises(RuntimeError, match="invalid_client"):
            await wrong.fetch("calegpkl", None)


async def test_graph_api_pages_and_instagram_business_discovery_with_paging_and_errors(peer, redis) -> None:
    server, clock = peer
    world = server.world
    page = world.add("facebook", "calegpekalonganresmi")
    burst = [world.post(page, f"Kegiatan {n}", at=T0 - timedelta(minutes=n), views=n) for n in range(130)]
    insta = world.add("instagram", "caleg.pkl", followers=9100)
    photo = world.post(insta, "Foto kampanye", at=T0 - timedelta(hours=1))
    budget = _budget(redis, 200, HOUR, clock)
    async with platform_http.client(server.base_url) as client:
        graph = GraphClient(client, "graph-local-token", budget, "v21.0")
        facebook = FacebookPageConnector(graph, pages=1, clock=clock)
        # One page of 100 a check: the rest is read the next time, not skipped.
        first = await facebook.fetch("calegpekalonganresmi", None)
        second = await facebook.fetch("calegpekalonganresmi", first.cursor)
        seen = [p.post_id for p in (*first.posts, *second.posts)]
        assert len(seen) == len(set(seen)) == 130
        assert set(seen) == {f"{page.account_id}_{p.post_id}" for p in burst}
        assert first.posts[0].url is not None and first.posts[0].url.startswith("https://www.facebook.com/")
        assert (await facebook.fetch("calegpekalonganresmi", second.cursor)).posts == ()

        instagram = InstagramConnector(graph, world.instagram_user_id, clock=clock)
        found = await instagram.fetch("caleg.pkl", None)
        assert [p.post_id for p in found.posts] == [photo.post_id] and found.reach == 9100
        assert found.posts[0].text == "Foto kampanye"

        page.status = Status.GONE
        with pytest.raises(AccountGone, match="does not exist"):
            await facebook.fetch("calegpekalonganresmi", None)
        insta.status = Status.PRIVATE
        with pytest.raises(AccountPrivate, match="professional"):
            await instagram.fetch("caleg.pkl", None)
        with pytest.raises(AccountGone, match="Invalid user id"):
            await instagram.fetch("tidak.ada", None)
        world.rate_limit_next("graph")
        with pytest.raises(RateLimited) as limited:
            await instagram.fetch("caleg.pkl", None)
        assert limited.value.retry_after_s == 300  # X-Business-Use-Case-Usage: 5 minutes to regain access
        with pytest.raises(RateLimited):  # the token waits, for every instance
            await instagram.fetch("caleg.pkl", None)
        bad = GraphClient(client, "wrong", _budget(redis, 10), "v21.0")
        with pytest.raises(RuntimeError, match="code 190"):
            await FacebookPageConnector(bad, clock=clock).fetch("calegpekalonganresmi", None)
