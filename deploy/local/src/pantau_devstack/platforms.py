"""Local stand-ins for the platforms Pantau watches: one world of accounts and their posts,
served by `PlatformsPeer` on loopback as each platform's documented API (see `platforms_api`):

- RSS 2.0 / Atom feeds at `/feeds/{name}.xml` (ETag, 304, 410 for a removed feed);
- YouTube Data API v3 at `/youtube/v3/{channels,playlistItems,videos}` (API key, quota units
  per key per day with `quotaExceeded`, `pageToken` pagination, `playlistNotFound`);
- X API v2 at `/2/users/by/username/:u` and `/2/users/:id/tweets` (bearer token, `since_id`,
  `until_id`, `next_token`, `x-rate-limit-*` headers per 15-minute window, 429);
- TikTok Research API at `/v2/oauth/token/` (client credentials) and
  `/v2/research/video/query/` (username and date window of at most 30 days, `cursor` and
  `search_id`, 1,000 requests a day with `rate_limit_exceeded`);
- the Graph API at `/{version}/{page}/posts` (Facebook Pages, `since`, cursor paging) and
  `/{version}/{ig-user-id}?fields=business_discovery…` (Instagram professional accounts), with
  the Graph error codes (100/33, 110, 10, 32 with `X-Business-Use-Case-Usage`, 190).

Tests and the devstack script the world: `post()` adds a post now (or at a given time), and an
account can be made `gone`, `private` or `renamed`; `rate_limit_next()` answers with a 429.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Self

from aiohttp import web

__all__ = ["Account", "PlatformWorld", "PlatformsPeer", "Post", "Status"]


class Status(StrEnum):
    ACTIVE = "active"
    GONE = "gone"
    PRIVATE = "private"


@dataclass
class Post:
    post_id: str
    text: str
    posted_at: datetime
    seq: int
    views: int = 0


@dataclass
class Account:
    platform: str
    account_id: str  # the platform's own id: a channel id, a user id, the feed's name
    handle: str
    status: Status = Status.ACTIVE
    followers: int = 1000
    posts: list[Post] = field(default_factory=list)  # oldest first

    def newest_first(self) -> list[Post]:
        return sorted(self.posts, key=lambda p: (p.posted_at, p.seq), reverse=True)


@dataclass
class Quota:
    """Per credential: units a window and what was spent in the current one."""

    limit: int
    window_s: float
    spent: dict[tuple[str, int], int] = field(default_factory=dict)

    def take(self, credential: str, units: int, now: datetime) -> tuple[bool, int, float]:
        """(allowed, remaining, epoch seconds of the window's end)."""
        window = int(now.timestamp() // self.window_s)
        used = self.spent.get((credential, window), 0)
        reset = (window + 1) * self.window_s
        if used + units > self.limit:
            return False, max(0, self.limit - used), reset
        self.spent[(credential, window)] = used + units
        return True, self.limit - used - units, reset


class PlatformWorld:
    """Every account on every platform, and what each API was asked."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.accounts: dict[tuple[str, str], Account] = {}
        # Look-ups a platform answers by name or by post id, kept as indexes for 130,000 accounts.
        self._handles: dict[tuple[str, str], Account] = {}
        self.posts: dict[str, tuple[Account, Post]] = {}
        self._ids = itertools.count(1_700_000_000_000_000_000)
        self.calls: dict[str, int] = {}
        self.youtube_keys: set[str] = {"youtube-local-key"}
        self.x_tokens: set[str] = {"x-local-bearer"}
        self.youtube_quota = Quota(limit=10_000, window_s=86_400)
        self.x_quota = Quota(limit=1_500, window_s=900)
        self.tiktok_clients: dict[str, str] = {"tiktok-local-key": "tiktok-local-secret"}
        self.tiktok_tokens: set[str] = set()
        self.tiktok_quota = Quota(limit=1_000, window_s=86_400)
        self.graph_tokens: set[str] = {"graph-local-token"}
        # The agency's own Instagram professional account, through which business discovery reads.
        self.instagram_user_id = "17841400000000001"
        self.rate_limits: dict[str, int] = {}
        self.outages: dict[str, int] = {}
        # Every answer waits this long, as a platform across the internet does.
        self.latency_s = 0.0

    def add(
        self, platform: str, handle: str, *, account_id: str | None = None, followers: int = 1000
    ) -> Account:
        if account_id is None:
            number = next(self._ids)
            account_id = {"youtube": f"UC{number:022d}"[:24], "x": str(number)}.get(platform, handle)
        account = Account(platform, account_id, handle.lower(), followers=followers)
        self.accounts[(platform, account_id)] = account
        self._handles[(platform, account.handle)] = account
        return account

    def post(self, account: Account, text: str, *, at: datetime | None = None, views: int = 0) -> Post:
        number = next(self._ids)
        post_id = str(number) if account.platform != "youtube" else _video_id(number)
        post = Post(post_id, text, at or self.clock(), number, views)
        account.posts.append(post)
        self.posts[post_id] = (account, post)
        return post

    def by_handle(self, platform: str, handle: str) -> Account | None:
        account = self._handles.get((platform, handle.lower().lstrip("@")))
        return account if account is not None and account.status != Status.GONE else None

    def by_id(self, platform: str, account_id: str) -> Account | None:
        return self.accounts.get((platform, account_id))

    def rename(self, account: Account, handle: str) -> None:
        self._handles.pop((account.platform, account.handle), None)
        account.handle = handle.lower()
        self._handles[(account.platform, account.handle)] = account

    def rate_limit_next(self, platform: str, n: int = 1) -> None:
        self.rate_limits[platform] = self.rate_limits.get(platform, 0) + n

    def fail_next(self, platform: str, n: int = 1) -> None:
        """Answer the platform's next `n` requests with 503, as during an outage."""
        self.outages[platform] = self.outages.get(platform, 0) + n

    def down(self, platform: str) -> bool:
        if self.outages.get(platform, 0) > 0:
            self.outages[platform] -= 1
            return True
        return False

    def count(self, endpoint: str) -> None:
        self.calls[endpoint] = self.calls.get(endpoint, 0) + 1

    def forced_limit(self, platform: str) -> bool:
        if self.rate_limits.get(platform, 0) > 0:
            self.rate_limits[platform] -= 1
            return True
        return False


class PlatformsPeer:
    """The world's APIs on 127.0.0.1. `async with PlatformsPeer(world) as peer: peer.base_url`."""

    def __init__(self, world: PlatformWorld | None = None, *, port: int = 0) -> None:
        self.world = world or PlatformWorld()
        self._port = port
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        from .platforms_api import routes

        app = web.Application()
        app.add_routes(routes(self.world))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def feed_url(self, account: Account) -> str:
        return f"{self.base_url}/feeds/{account.account_id}.xml"


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _video_id(number: int) -> str:
    digits = []
    for _ in range(11):
        number, rest = divmod(number, 64)
        digits.append(_ALPHABET[rest])
    return "".join(digits)
