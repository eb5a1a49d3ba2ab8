"""X API v2: a user's timeline since the newest post seen (`since_id`).

The username is resolved once (`GET /2/users/by/username/:username`) to the user id kept in the
cursor, so a renamed account is still followed (its new username comes back in the timeline's
`includes.users`). `GET /2/users/:id/tweets?since_id=` pages newest first with `next_token`; a
check that stops at the page limit keeps `until_id` and goes on below it next time, so no post
between is skipped. Every answer carries `x-rate-limit-remaining` / `x-rate-limit-reset` (per
15-minute window): at 0, or on a 429, the bearer token is blocked until the reset.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from pantau_shared.contract import Platform

from . import platform_http
from .budgets import Budget
from .connectors import AccountGone, AccountPrivate, Fetched, FetchedPost

NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
NOT_AUTHORIZED = "https://api.twitter.com/2/problems/not-authorized-for-resource"
TWEET_FIELDS = {
    "tweet.fields": "created_at,public_metrics",
    "expansions": "author_id",
    "user.fields": "username",
}


class XCursor(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str | None = None
    followers: int | None = None
    since_id: str | None = None
    # Set while a gap below the newest page is still to read: its upper end, and the newest id.
    until_id: str | None = None
    newest_id: str | None = None


class XConnector:
    platform = Platform.X

    def __init__(
        self,
        client: httpx.AsyncClient,
        budget: Budget,
        *,
        lookback: timedelta = timedelta(days=7),
        pages: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._budget = budget
        self._lookback = lookback
        self._pages = pages
        self._clock = clock

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        state = XCursor.model_validate_json(cursor) if cursor else XCursor()
        if state.user is None:
            body = await self._get(f"/2/users/by/username/{account_id}", {"user.fields": "public_metrics"})
            user = body["data"]
            followers = user.get("public_metrics", {}).get("followers_count")
            state = state.model_copy(update={"user": user["id"], "followers": followers})
        params: dict[str, str] = {"max_results": "100", **TWEET_FIELDS}
        if state.since_id is not None:
            params["since_id"] = state.since_id
        else:
            start = self._clock() - self._lookback
            params["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        if state.until_id is not None:
            params["until_id"] = state.until_id
        posts: list[FetchedPost] = []
        handle, newest, token = None, state.newest_id, None
        for _ in range(self._pages):
            body = await self._get(f"/2/users/{state.user}/tweets", {**params, **_token(token)})
            meta = body.get("meta", {})
            newest = newest or meta.get("newest_id")
            for user in body.get("includes", {}).get("users", []):
                if user.get("id") == state.user:
                    handle = str(user.get("username", "")).lower() or None
            # The registry's name in the link while it is the account's; once renamed, X's
            # name-free permalink, so the rules still find the author by the registry's name.
            named = account_id if handle is None or handle == account_id else None
            posts.extend(_post(tweet, named) for tweet in body.get("data", []))
            token = meta.get("next_token")
            if token is None:
                break
        if token is not None and posts:
            # Stopped at the page limit: read below the oldest post fetched next time.
            oldest = min(posts, key=lambda p: int(p.post_id)).post_id
            kept = state.model_copy(update={"until_id": oldest, "newest_id": newest})
        else:
            since = newest or state.since_id
            kept = state.model_copy(update={"since_id": since, "until_id": None, "newest_id": None})
        posts.sort(key=lambda p: (p.posted_at, int(p.post_id)))
        renamed = handle if handle and handle != account_id else None
        return Fetched(
            posts=tuple(posts), cursor=kept.model_dump_json(), handle=renamed, reach=state.followers
        )

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        await self._budget.spend(1)
        response = await self._client.get(path, params=params)
        remaining, reset = (
            response.headers.get("x-rate-limit-remaining"),
            response.headers.get("x-rate-limit-reset"),
        )
        wait_s = max(1.0, float(reset) - self._clock().timestamp()) if reset else 900.0
        if response.status_code == 429:
            raise await platform_http.wait(self._budget, wait_s)
        if remaining == "0":
            await self._budget.block(wait_s)
        body = platform_http.json_body(response)
        if response.status_code in (401, 403):
            raise RuntimeError(f"X {response.status_code}: {body}")
        if response.status_code >= 500:
            raise await platform_http.down(self._budget, response)
        if not isinstance(body, dict):
            raise RuntimeError(f"X {response.status_code}: not JSON")
        if "data" not in body and body.get("errors"):
            error = body["errors"][0]
            detail = str(error.get("detail") or error.get("title"))
            if error.get("type") == NOT_FOUND or "suspended" in detail.lower():
                raise AccountGone(detail)
            if error.get("type") == NOT_AUTHORIZED:
                raise AccountPrivate(detail)
            raise RuntimeError(f"X {response.status_code}: {detail}")
        if not response.is_success:
            raise RuntimeError(f"X {response.status_code}: {body}")
        return body


def _token(token: str | None) -> dict[str, str]:
    return {"pagination_token": token} if token else {}


def _post(tweet: dict[str, Any], username: str | None) -> FetchedPost:
    metrics = tweet.get("public_metrics", {})
    return FetchedPost(
        post_id=tweet["id"],
        posted_at=datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00")),
        raw=json.dumps(tweet, sort_keys=True, ensure_ascii=False).encode(),
        url=f"https://x.com/{username or 'i/web'}/status/{tweet['id']}",
        text=tweet.get("text"),
        reach=metrics.get("impression_count"),
    )
