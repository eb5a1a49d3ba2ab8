"""The connectors an agency's credentials allow, each with the budget of its credential.

A budget is keyed by a hash of the credential, not by the agency: two agencies given one
YouTube key share its 10,000 units a day, as Google counts them."""

import hashlib
from datetime import timedelta

import httpx
from redis.asyncio import Redis

from pantau_shared.contract import Platform

from ..settings import MonitoredAgency, MonitoringSettings
from . import platform_http
from .budgets import DAY_PACIFIC, DAY_UTC, FIFTEEN_MINUTES, HOUR, Budget, Window
from .connectors import Connector
from .feeds import FeedConnector
from .graph import FacebookPageConnector, GraphClient, InstagramConnector
from .tiktok import TikTokConnector
from .x import XConnector
from .youtube import YouTubeConnector


class Credentials:
    """Builds connectors for agencies; owns the HTTP clients (one pool per platform host)."""

    def __init__(self, settings: MonitoringSettings, redis: Redis, key_prefix: str) -> None:
        self._settings = settings
        self._redis = redis
        self._prefix = key_prefix
        self._lookback = timedelta(days=settings.lookback_days)
        self.clients: list[httpx.AsyncClient] = []
        self._feeds = self._client(platform_http.client())
        self._youtube = self._client(platform_http.client(settings.youtube_base_url))
        self._tiktok = self._client(platform_http.client(settings.tiktok_base_url))
        self._graph = self._client(platform_http.client(settings.graph_base_url))

    def connectors(self, agency: MonitoredAgency) -> dict[Platform, Connector]:
        found: dict[Platform, Connector] = {}
        lookback = self._lookback
        if agency.feeds:
            found[Platform.WEB] = FeedConnector(self._feeds, lookback=lookback)
        if agency.youtube_api_key is not None:
            key = agency.youtube_api_key.get_secret_value()
            budget = self._budget("youtube", key, agency.youtube_daily_units, DAY_PACIFIC)
            found[Platform.YOUTUBE] = YouTubeConnector(self._youtube, key, budget, lookback=lookback)
        if agency.x_bearer_token is not None:
            token = agency.x_bearer_token.get_secret_value()
            client = self._client(
                platform_http.client(self._settings.x_base_url, headers={"Authorization": f"Bearer {token}"})
            )
            budget = self._budget("x", token, agency.x_requests_per_15_minutes, FIFTEEN_MINUTES)
            found[Platform.X] = XConnector(client, budget, lookback=lookback)
        if agency.tiktok_client_key is not None and agency.tiktok_client_secret is not None:
            secret = agency.tiktok_client_secret.get_secret_value()
            budget = self._budget("tiktok", agency.tiktok_client_key, agency.tiktok_daily_requests, DAY_UTC)
            found[Platform.TIKTOK] = TikTokConnector(
                self._tiktok, agency.tiktok_client_key, secret, budget, lookback=lookback
            )
        if agency.graph_access_token is not None:
            token = agency.graph_access_token.get_secret_value()
            budget = self._budget("graph", token, agency.graph_calls_per_hour, HOUR)
            graph = GraphClient(self._graph, token, budget, self._settings.graph_version)
            found[Platform.FACEBOOK] = FacebookPageConnector(graph, lookback=lookback)
            if agency.instagram_user_id:
                found[Platform.INSTAGRAM] = InstagramConnector(
                    graph, agency.instagram_user_id, lookback=lookback
                )
        return found

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    def _budget(self, platform: str, credential: str, limit: int, window: Window) -> Budget:
        digest = hashlib.sha256(credential.encode()).hexdigest()[:16]
        return Budget(self._redis, f"{self._prefix}:monitoring:budget:{platform}:{digest}", limit, window)

    def _client(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        self.clients.append(client)
        return client
