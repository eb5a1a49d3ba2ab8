"""What every connector does with HTTP: one pooled httpx client per platform, a budget spent
before each call, and the platform's "wait" answers turned into RateLimited (with the credential
blocked for every intake instance meanwhile).

httpx rather than each platform's SDK: google-api-python-client and python-facebook-api are
synchronous (a thread per call for thousands of accounts), tweepy's client has the API's host
written in, and TikTok publishes no Python client. These APIs are plain JSON over HTTPS, and
the base URL must be a setting so tests and the devstack point at local servers.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from .budgets import Budget
from .connectors import RateLimited

TIMEOUT = httpx.Timeout(20.0, connect=5.0)


def client(base_url: str = "", *, headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"User-Agent": "Pantau-monitoring/1.0", **(headers or {})},
        timeout=TIMEOUT,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        follow_redirects=True,
    )


def retry_after(response: httpx.Response, default_s: float = 60.0) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date), else `default_s`."""
    value = response.headers.get("retry-after")
    if value is None:
        return default_s
    try:
        return max(1.0, float(value))
    except ValueError:
        pass
    try:
        return max(1.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return default_s


async def wait(budget: Budget | None, seconds: float) -> RateLimited:
    """The platform said wait: block the credential everywhere, and say so to the collector."""
    if budget is not None:
        await budget.block(seconds)
    return RateLimited(seconds)


async def down(budget: Budget, response: httpx.Response) -> RateLimited:
    """The platform failed (5xx): every account of the credential waits, not only this one,
    so an outage is not met with a retry per account."""
    return await wait(budget, retry_after(response, 60.0))


def json_body(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def json_body_of(text: str | None) -> object:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
