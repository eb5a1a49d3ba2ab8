"""TikTok Research API: an account's videos by username within a date window.

A client-credentials token (`POST /v2/oauth/token/`, two hours) authorises
`POST /v2/research/video/query/` with `username EQ …` between `start_date` and `end_date`
(UTC days, at most 30 days apart), paged with `cursor` and `search_id`. The API cannot be asked
for "newer than": each check asks from the day of the newest video seen to today and keeps only
what is new (`cursors.Seen`). A client has 1,000 requests a day (reset at 00:00 UTC), counted
in the budget; `rate_limit_exceeded` blocks it until the reset. The query says nothing of an
account that is gone or private: it finds no videos.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from pantau_shared.contract import Platform

from . import platform_http
from .budgets import DAY_UTC, Budget
from .connectors import Fetched, FetchedPost
from .cursors import Seen

FIELDS = "id,username,create_time,video_description,view_count,share_count"
LONGEST_WINDOW = timedelta(days=29)  # start and end inclusive: 30 days


class TikTokCursor(BaseModel):
    model_config = ConfigDict(frozen=True)

    seen: Seen = Seen()


class TikTokConnector:
    platform = Platform.TIKTOK

    def __init__(
        self,
        client: httpx.AsyncClient,
        client_key: str,
        client_secret: str,
        budget: Budget,
        *,
        lookback: timedelta = timedelta(days=7),
        pages: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._key = client_key
        self._secret = client_secret
        self._budget = budget
        self._lookback = lookback
        self._pages = pages
        self._clock = clock
        self._token: tuple[str, datetime] | None = None

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        state = TikTokCursor.model_validate_json(cursor) if cursor else TikTokCursor()
        now = self._clock()
        since = None if state.seen.after is not None else now - self._lookback
        start = max((state.seen.after or now - self._lookback), now - LONGEST_WINDOW)
        body: dict[str, Any] = {
            "query": {"and": [{"operation": "EQ", "field_name": "username", "field_values": [account_id]}]},
            "start_date": start.strftime("%Y%m%d"),
            "end_date": now.strftime("%Y%m%d"),
            "max_count": 100,
        }
        posts: list[FetchedPost] = []
        for _ in range(self._pages):
            data = await self._query(body)
            posts.extend(_post(video, account_id) for video in data.get("videos", []))
            if not data.get("has_more"):
                break
            body = {**body, "cursor": data["cursor"], "search_id": data["search_id"]}
        new = state.seen.new(posts, since)
        kept = TikTokCursor(seen=state.seen.advance(new))
        return Fetched(posts=new, cursor=kept.model_dump_json())

    async def _query(self, body: dict[str, Any]) -> Any:
        await self._budget.spend(1)
        response = await self._client.post(
            "/v2/research/video/query/",
            params={"fields": FIELDS},
            json=body,
            headers={"Authorization": f"Bearer {await self._access_token()}"},
        )
        answer = platform_http.json_body(response)
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        code = error.get("code") if isinstance(error, dict) else None
        if response.status_code == 429 or code == "rate_limit_exceeded":
            _, reset = DAY_UTC.bounds(self._clock())
            raise await platform_http.wait(self._budget, (reset - self._clock()).total_seconds())
        if response.status_code == 401 or code == "access_token_invalid":
            self._token = None
            raise RuntimeError(f"TikTok token refused: {error}")
        if response.status_code >= 500:
            raise await platform_http.down(self._budget, response)
        if not response.is_success or code not in (None, "ok") or not isinstance(answer, dict):
            raise RuntimeError(f"TikTok {response.status_code}: {error or answer}")
        data: Any = answer.get("data", {})
        return data

    async def _access_token(self) -> str:
        now = self._clock()
        if self._token is not None and self._token[1] > now:
            return self._token[0]
        response = await self._client.post(
            "/v2/oauth/token/",
            data={"client_key": self._key, "client_secret": self._secret, "grant_type": "client_credentials"},
        )
        answer = platform_http.json_body(response)
        if not response.is_success or not isinstance(answer, dict) or "access_token" not in answer:
            raise RuntimeError(f"TikTok token {response.status_code}: {answer}")
        # Renewed a minute early, so a request never leaves with a token about to expire.
        expires = now + timedelta(seconds=float(answer.get("expires_in", 7200)) - 60)
        self._token = (str(answer["access_token"]), expires)
        return self._token[0]


def _post(video: dict[str, Any], username: str) -> FetchedPost:
    return FetchedPost(
        post_id=str(video["id"]),
        posted_at=datetime.fromtimestamp(int(video["create_time"]), UTC),
        raw=json.dumps(video, sort_keys=True, ensure_ascii=False).encode(),
        url=f"https://www.tiktok.com/@{video.get('username', username)}/video/{video['id']}",
        text=video.get("video_description") or None,
        reach=video.get("view_count"),
    )
