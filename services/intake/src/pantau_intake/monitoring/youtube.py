"""YouTube Data API v3: a channel's uploads, at 1 quota unit a page.

The handle is resolved once (`channels.list?forHandle=`, 1 unit) to the channel id and its
uploads playlist, both kept in the cursor; every later check reads `playlistItems.list` (1 unit
for up to 50 items, newest first, `pageToken` for more) and, when there is something new,
`videos.list` (1 unit for up to 50 ids) for the view counts. `search.list` would cost 100 units
a call, so it is never used. A key has 10,000 units a day by default (reset at midnight Pacific);
the budget counts them across instances and `quotaExceeded` blocks the key until the reset.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pantau_shared.contract import Platform

from . import platform_http
from .budgets import DAY_PACIFIC, Budget
from .connectors import AccountGone, AccountPrivate, Fetched, FetchedPost
from .cursors import Paged

API = "/youtube/v3"
PAGE = 50


class YouTubeCursor(Paged):
    channel: str | None = None
    uploads: str | None = None
    subscribers: int | None = None


class YouTubeConnector:
    platform = Platform.YOUTUBE

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        budget: Budget,
        *,
        lookback: timedelta = timedelta(days=7),
        pages: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._key = api_key
        self._budget = budget
        self._lookback = lookback
        self._pages = pages
        self._clock = clock

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        state = YouTubeCursor.model_validate_json(cursor) if cursor else YouTubeCursor()
        handle = None
        if state.uploads is None:
            state, handle = await self._resolve(account_id, state)
        assert state.uploads is not None
        since = None if state.seen.after is not None else self._clock() - self._lookback
        posts: list[FetchedPost] = []
        token, pages = state.resume, 0
        while True:
            body = await self._get(
                "playlistItems",
                part="snippet,contentDetails",
                playlistId=state.uploads,
                maxResults=str(PAGE),
                **({"pageToken": token} if token else {}),
            )
            page = [_post(item) for item in body.get("items", [])]
            posts.extend(page)
            pages += 1
            token = body.get("nextPageToken")
            # Newest first: a page reaching what was seen (or the first look's window) is the last.
            reached = any(not state.seen.is_new(p, since) for p in page)
            if token is None or reached or pages >= self._pages:
                break
        new, kept = state.checked(posts, since, token, reached)
        if new:
            new = await self._with_views(new)
        return Fetched(posts=new, cursor=kept.model_dump_json(), handle=handle, reach=state.subscribers)

    async def _resolve(self, account_id: str, state: YouTubeCursor) -> tuple[YouTubeCursor, str | None]:
        which = (
            {"id": account_id.removeprefix("channel:")}
            if account_id.startswith("channel:")
            else {"forHandle": "@" + account_id.lstrip("@")}
        )
        body = await self._get("channels", part="snippet,contentDetails,statistics", **which)
        items = body.get("items") or []
        if not items:
            raise AccountGone("channelNotFound")
        channel = items[0]
        subscribers = channel.get("statistics", {}).get("subscriberCount")
        custom = channel.get("snippet", {}).get("customUrl")
        return (
            state.model_copy(
                update={
                    "channel": channel["id"],
                    "uploads": channel["contentDetails"]["relatedPlaylists"]["uploads"],
                    "subscribers": int(subscribers) if subscribers is not None else None,
                }
            ),
            custom.lstrip("@").lower() if isinstance(custom, str) else None,
        )

    async def _with_views(self, posts: tuple[FetchedPost, ...]) -> tuple[FetchedPost, ...]:
        views: dict[str, int] = {}
        for start in range(0, len(posts), PAGE):
            chunk = posts[start : start + PAGE]
            body = await self._get("videos", part="statistics", id=",".join(p.post_id for p in chunk))
            for item in body.get("items", []):
                count = item.get("statistics", {}).get("viewCount")
                if count is not None:
                    views[item["id"]] = int(count)
        return tuple(
            FetchedPost(p.post_id, p.posted_at, p.raw, p.url, p.text, views.get(p.post_id), p.media_sha256)
            for p in posts
        )

    async def _get(self, resource: str, **params: str) -> Any:
        await self._budget.spend(1)
        response = await self._client.get(f"{API}/{resource}", params={**params, "key": self._key})
        if response.is_success:
            return response.json()
        raise await self._error(response)

    async def _error(self, response: httpx.Response) -> Exception:
        body = platform_http.json_body(response)
        error = body.get("error", {}) if isinstance(body, dict) else {}
        reasons = {e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)}
        message = error.get("message") or response.reason_phrase
        if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
            _, reset = DAY_PACIFIC.bounds(self._clock())
            return await platform_http.wait(self._budget, (reset - self._clock()).total_seconds())
        if reasons & {"rateLimitExceeded", "userRateLimitExceeded"} or response.status_code == 429:
            return await platform_http.wait(self._budget, platform_http.retry_after(response))
        if reasons & {"playlistNotFound", "channelNotFound"} or response.status_code == 404:
            return AccountGone(", ".join(sorted(r for r in reasons if r)) or "not found")
        if reasons & {"playlistItemsNotAccessible", "channelClosed", "channelSuspended", "forbidden"}:
            return AccountPrivate(", ".join(sorted(r for r in reasons if r)))
        if response.status_code >= 500:
            return await platform_http.down(self._budget, response)
        return RuntimeError(f"YouTube {response.status_code}: {message} {sorted(r for r in reasons if r)}")


def _post(item: dict[str, Any]) -> FetchedPost:
    snippet, details = item.get("snippet", {}), item.get("contentDetails", {})
    video = details.get("videoId") or snippet.get("resourceId", {}).get("videoId")
    published = details.get("videoPublishedAt") or snippet["publishedAt"]
    text = "\n\n".join(p for p in (snippet.get("title"), snippet.get("description")) if p)
    return FetchedPost(
        post_id=video,
        posted_at=datetime.fromisoformat(published.replace("Z", "+00:00")),
        raw=json.dumps(item, sort_keys=True, ensure_ascii=False).encode(),
        url=f"https://www.youtube.com/watch?v={video}",
        text=text or None,
    )
