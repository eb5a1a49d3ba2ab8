"""RSS and Atom feeds (news sites, blogs, a party's site): the account is the feed's URL.

Fetched with a conditional GET (the ETag and Last-Modified kept in the cursor, so an unchanged
feed costs a 304) and parsed by feedparser, which knows every RSS and Atom dialect. feedparser's
own fetching is blocking urllib, so httpx fetches and feedparser only parses the bytes.
"""

import calendar
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict

from pantau_shared.contract import Platform

from . import platform_http
from .connectors import AccountGone, AccountPrivate, Fetched, FetchedPost
from .cursors import Seen


class FeedCursor(BaseModel):
    model_config = ConfigDict(frozen=True)

    etag: str | None = None
    modified: str | None = None
    seen: Seen = Seen()


class FeedConnector:
    platform = Platform.WEB

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        lookback: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._lookback = lookback
        self._clock = clock

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        state = FeedCursor.model_validate_json(cursor) if cursor else FeedCursor()
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.modified:
            headers["If-Modified-Since"] = state.modified
        response = await self._client.get(account_id, headers=headers)
        if response.status_code == 304:
            return Fetched(posts=(), cursor=cursor)
        if response.status_code in (404, 410):
            raise AccountGone(f"feed answered {response.status_code}")
        if response.status_code in (401, 403):
            raise AccountPrivate(f"feed answered {response.status_code}")
        if response.status_code in (429, 503):
            raise await platform_http.wait(None, platform_http.retry_after(response))
        response.raise_for_status()
        parsed: Any = feedparser.parse(response.content)
        if parsed.bozo and not parsed.entries:
            raise ValueError(f"not a feed: {parsed.get('bozo_exception')}")
        now = self._clock()
        posts = [_post(entry, now) for entry in parsed.entries]
        since = None if state.seen.after is not None else now - self._lookback
        new = state.seen.new(posts, since)
        kept = FeedCursor(
            etag=response.headers.get("etag"),
            modified=response.headers.get("last-modified"),
            seen=state.seen.advance(new),
        )
        title = parsed.feed.get("title")
        return Fetched(posts=new, cursor=kept.model_dump_json(), handle=title[:200] if title else None)


def _post(entry: Any, now: datetime) -> FetchedPost:
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    posted_at = datetime.fromtimestamp(calendar.timegm(moment), UTC) if moment else now
    link = entry.get("link")
    text = "\n\n".join(part for part in (entry.get("title"), entry.get("summary")) if part)
    return FetchedPost(
        post_id=str(entry.get("id") or link or entry.get("title") or posted_at.isoformat())[:500],
        posted_at=posted_at,
        # feedparser does not keep each entry's XML; the entry as parsed is hashed instead.
        raw=json.dumps(entry, sort_keys=True, default=str, ensure_ascii=False).encode(),
        url=link if isinstance(link, str) and link.startswith(("http://", "https://")) else None,
        text=text or None,
    )
