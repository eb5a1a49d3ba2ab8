"""Facebook Pages and Instagram through the Graph API.

A Page's posts: `GET /{version}/{page}/posts?fields=…&since=<unix>&limit=100`, newest first,
cursor-paged (`paging.cursors.after`). An Instagram professional account's media through
business discovery on the agency's own Instagram account:
`GET /{version}/{ig-user-id}?fields=business_discovery.username(<handle>){followers_count,
media.limit(50).after(<cursor>){…}}`. Instagram posts of personal accounts cannot be read by any
Graph API call. Errors are the Graph API's `{"error": {"code", "error_subcode", "message"}}`:
100/33 and 110 the object is gone, 10 and 200-299 a permission the token lacks (private), 4,
17, 32, 613 and 80001 throttling (the app's or the page's usage: the token is blocked for the
time `X-Business-Use-Case-Usage` gives, else an hour), 190 a token that is no longer valid.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pantau_shared.contract import Platform

from . import platform_http
from .budgets import Budget
from .connectors import AccountGone, AccountPrivate, Fetched, FetchedPost
from .cursors import Paged

THROTTLED = {4, 17, 32, 613, 80001, 80002}
PAGE_FIELDS = "id,message,created_time,permalink_url,shares"
MEDIA_FIELDS = "id,caption,timestamp,permalink,like_count,comments_count"


class GraphClient:
    """The Graph API calls and error mapping both connectors share."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        access_token: str,
        budget: Budget,
        version: str,
    ) -> None:
        self._client = client
        self._token = access_token
        self._budget = budget
        self._version = version

    async def get(self, path: str, params: dict[str, str]) -> Any:
        await self._budget.spend(1)
        response = await self._client.get(
            f"/{self._version}/{path}", params={**params, "access_token": self._token}
        )
        body = platform_http.json_body(response)
        if response.is_success and isinstance(body, dict) and "error" not in body:
            return body
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code, subcode = error.get("code"), error.get("error_subcode")
        message = str(error.get("message") or response.reason_phrase)
        if code in THROTTLED or response.status_code == 429:
            raise await platform_http.wait(self._budget, _regain_s(response))
        if (code == 100 and subcode == 33) or code == 110 or response.status_code == 404:
            raise AccountGone(message)
        if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
            raise AccountPrivate(message)
        if response.status_code >= 500 or code in (1, 2):
            raise await platform_http.down(self._budget, response)
        raise RuntimeError(f"Graph API {response.status_code} code {code}: {message}")


def _regain_s(response: httpx.Response) -> float:
    """Minutes until access is regained, from the Business Use Case header when it says."""
    usage = platform_http.json_body_of(response.headers.get("x-business-use-case-usage"))
    minutes = [
        entry.get("estimated_time_to_regain_access", 0)
        for entries in (usage.values() if isinstance(usage, dict) else [])
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    ]
    return max(60.0, 60.0 * max(minutes, default=60))


class FacebookPageConnector:
    platform = Platform.FACEBOOK

    def __init__(
        self,
        graph: GraphClient,
        *,
        lookback: timedelta = timedelta(days=7),
        pages: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._graph = graph
        self._lookback = lookback
        self._pages = pages
        self._clock = clock

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        state = Paged.model_validate_json(cursor) if cursor else Paged()
        since = None if state.seen.after is not None else self._clock() - self._lookback
        floor = state.seen.after or since
        params = {"fields": PAGE_FIELDS, "limit": "100"}
        if floor is not None:
            params["since"] = str(int(floor.timestamp()))
        posts, after, reached = [], state.resume, False
        for _ in range(self._pages):
            body = await self._graph.get(
                f"{account_id}/posts", {**params, **({"after": after} if after else {})}
            )
            page = [_page_post(item) for item in body.get("data", [])]
            posts.extend(page)
            after = (
                body.get("paging", {}).get("cursors", {}).get("after")
                if body.get("paging", {}).get("next")
                else None
            )
            reached = any(not state.seen.is_new(p, since) for p in page)
            if after is None or reached:
                break
        return _kept(state, posts, since, after, reached)


class InstagramConnector:
    platform = Platform.INSTAGRAM

    def __init__(
        self,
        graph: GraphClient,
        instagram_user_id: str,
        *,
        lookback: timedelta = timedelta(days=7),
        pages: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._graph = graph
        self._me = instagram_user_id
        self._lookback = lookback
        self._pages = pages
        self._clock = clock

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        state = Paged.model_validate_json(cursor) if cursor else Paged()
        since = None if state.seen.after is not None else self._clock() - self._lookback
        posts, after, reached, followers = [], state.resume, False, None
        for _ in range(self._pages):
            media = "media.limit(50)" + (f".after({after})" if after else "") + "{" + MEDIA_FIELDS + "}"
            fields = f"business_discovery.username({account_id}){{followers_count,{media}}}"
            body = await self._graph.get(self._me, {"fields": fields})
            found = body.get("business_discovery", {})
            followers = found.get("followers_count", followers)
            page = [_media_post(item) for item in found.get("media", {}).get("data", [])]
            posts.extend(page)
            paging = found.get("media", {}).get("paging", {})
            after = paging.get("cursors", {}).get("after") if paging.get("next") else None
            reached = any(not state.seen.is_new(p, since) for p in page)
            if after is None or reached:
                break
        kept = _kept(state, posts, since, after, reached)
        return Fetched(posts=kept.posts, cursor=kept.cursor, reach=followers)


def _kept(
    state: Paged, posts: list[FetchedPost], since: datetime | None, after: str | None, reached: bool
) -> Fetched:
    new, kept = state.checked(posts, since, after, reached)
    return Fetched(posts=new, cursor=kept.model_dump_json())


def _time(value: str) -> datetime:
    # The Graph API writes "2024-02-11T10:00:00+0000".
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)


def _page_post(item: dict[str, Any]) -> FetchedPost:
    return FetchedPost(
        post_id=item["id"],
        posted_at=_time(item["created_time"]),
        raw=json.dumps(item, sort_keys=True, ensure_ascii=False).encode(),
        url=item.get("permalink_url"),
        text=item.get("message"),
        reach=item.get("shares", {}).get("count"),
    )


def _media_post(item: dict[str, Any]) -> FetchedPost:
    return FetchedPost(
        post_id=item["id"],
        posted_at=_time(item["timestamp"]),
        raw=json.dumps(item, sort_keys=True, ensure_ascii=False).encode(),
        url=item.get("permalink"),
        text=item.get("caption"),
    )
