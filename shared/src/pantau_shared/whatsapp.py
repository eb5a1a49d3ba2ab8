"""Patrol alerts over the WhatsApp Business Cloud API: send, fetch media, and pace the number.

Errors map onto the two kinds notify already handles for email, so one retry policy serves both
channels: `TransientFailure` is retried later (with `retry_after` when the provider says how
long), `PermanentFailure` is not. `ReengagementRequired` tells the caller the 24-hour window is
closed and only a template (or another channel) will reach the person.
"""

import asyncio
import base64
import binascii
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from .providers import OutcomeUnknown, PermanentFailure, TransientFailure

__all__ = [
    "GraphError",
    "MediaInfo",
    "OutcomeUnknown",
    "PermanentFailure",
    "RecipientPacer",
    "ReengagementRequired",
    "Refused",
    "RetryLater",
    "TokenBucket",
    "TransientFailure",
    "WhatsAppClient",
    "classify",
]

REENGAGEMENT = 131047
PAIR_RATE_LIMIT = 131056
# Throughput and throttling: waiting is the cure.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429, PAIR_RATE_LIMIT})
# Meta's side is briefly unwell: 1/2 unknown or API service, 131000 something went wrong,
# 131016 service unavailable, 133004 server temporarily unavailable.
PROVIDER_TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 133004})


@dataclass(frozen=True)
class GraphError:
    """The `error` object of a Graph API answer."""

    http_status: int
    code: int | None
    message: str
    details: str | None = None
    subcode: int | None = None
    fbtrace_id: str | None = None

    def __str__(self) -> str:
        text = f"WhatsApp error {self.code} (HTTP {self.http_status}): {self.message}"
        return f"{text}: {self.details}" if self.details else text


class Refused(PermanentFailure):
    """The Cloud API refused the request for good (bad token, bad parameter, unreachable number)."""

    def __init__(self, message: str, error: GraphError | None = None) -> None:
        super().__init__(message)
        self.error = error


class ReengagementRequired(Refused):
    """Error 131047: more than 24 hours since the person last wrote; send a template instead."""


class RetryLater(TransientFailure):
    """Throttled, or Meta briefly unavailable; `retry_after` is in seconds when known."""

    def __init__(
        self, message: str, error: GraphError | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class MediaInfo:
    id: str
    url: str
    mime_type: str | None
    sha256: str | None
    file_size: int | None


def classify(response: httpx.Response, *, pair_interval_s: float | None = None) -> Exception:
    """The exception for a non-2xx Graph API response."""
    error = _graph_error(response)
    retry_after = _retry_after(response.headers)
    if error.code == REENGAGEMENT:
        return ReengagementRequired(str(error), error)
    if error.code in RATE_LIMIT_CODES or response.status_code == 429:
        if retry_after is None and error.code == PAIR_RATE_LIMIT:
            retry_after = pair_interval_s or None
        return RetryLater(str(error), error, retry_after)
    if error.code in PROVIDER_TRANSIENT_CODES or response.status_code >= 500:
        return RetryLater(str(error), error, retry_after)
    # Everything else is about this request or this account: 100 bad parameter, 190 token,
    # 131026 undeliverable, 131030 not in the allowed list, and 368, whose policy block lasts
    # days: longer than any redelivery schedule, so another channel serves the alert better.
    return Refused(str(error), error)


# Transport errors raised before a byte of the request went out: retrying these is safe.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TokenBucket:
    """At most `rate` acquisitions a second on average, in bursts of up to `burst`; waits, never fails."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._capacity = max(1.0, burst if burst is not None else rate)
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        # Held while waiting, so callers are served in arrival order.
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= 1
            if self._tokens < 0:
                await self._sleep(-self._tokens / self._rate)


class RecipientPacer:
    """Spaces messages to one recipient `interval` seconds apart by reserving each a time slot."""

    _PRUNE_ABOVE = 4096

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    async def acquire(self, recipient: str) -> None:
        if self._interval <= 0:
            return
        now = self._clock()
        slot = max(now, self._next.get(recipient, now))
        self._next[recipient] = slot + self._interval
        if len(self._next) > self._PRUNE_ABOVE:
            self._next = {key: at for key, at in self._next.items() if at > now}
        if slot > now:
            await self._sleep(slot - now)


class WhatsAppClient:
    """One business phone number on the Cloud API. Use as `async with`, or call `aclose()`."""

    def __init__(
        self,
        base_url: str,
        phone_number_id: str,
        access_token: str,
        *,
        api_version: str = "v21.0",
        rate_per_s: float = 80.0,
        per_recipient_interval_s: float = 6.0,
        timeout_s: float = 10.0,
        # Images are at most 5 MB and audio/video 16 MB; documents go up to 100 MB.
        max_media_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._phone_number_id = phone_number_id
        self._max_media_bytes = max_media_bytes
        self._pair_interval_s = per_recipient_interval_s
        self._bucket = TokenBucket(rate_per_s)
        self._pacer = RecipientPacer(per_recipient_interval_s)
        self._http = httpx.AsyncClient(
            base_url=f"{self._base_url}/{api_version}/",
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {access_token}"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send_text(
        self,
        to: str,
        body: str,
        reply_to: str | None = None,
        *,
        preview_url: bool = False,
        callback_data: str | None = None,
    ) -> str:
        """Send a free-form text (only inside the 24-hour window); returns the wamid.
        `callback_data` comes back in the message's status webhooks."""
        message: dict[str, Any] = {"type": "text", "text": {"preview_url": preview_url, "body": body}}
        if reply_to:
            message["context"] = {"message_id": reply_to}
        return await self._send(to, message, callback_data)

    async def send_template(
        self,
        to: str,
        name: str,
        language: str = "id",
        components: list[dict[str, Any]] | None = None,
        *,
        callback_data: str | None = None,
    ) -> str:
        """Send an approved template (works outside the 24-hour window); returns the wamid."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = components
        return await self._send(to, {"type": "template", "template": template}, callback_data)

    async def get_media(self, media_id: str) -> tuple[MediaInfo, bytes]:
        """Fetch a media's metadata, then its bytes, checked against the size limit and SHA-256."""
        response = await self._request("GET", media_id)
        info = _media_info(response)
        if info.file_size is not None and info.file_size > self._max_media_bytes:
            raise Refused(
                f"media {media_id} is {info.file_size} bytes, over the {self._max_media_bytes}-byte limit"
            )
        self._check_download_url(info.url)
        data = await self._download(info)
        if info.sha256 is not None and not _digest_matches(info.sha256, data):
            # A truncated or swapped download: fetching again may well succeed.
            raise RetryLater(f"media {media_id}: SHA-256 of the download does not match the metadata")
        return info, data

    async def _send(self, to: str, message: dict[str, Any], callback_data: str | None) -> str:
        await self._pacer.acquire(_recipient_key(to))
        await self._bucket.acquire()
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **message}
        if callback_data:
            payload["biz_opaque_callback_data"] = callback_data
        try:
            response = await self._request("POST", f"{self._phone_number_id}/messages", json=payload)
        except RetryLater as error:
            # Once the request may have been written, a retry could deliver the message twice.
            cause = error.__cause__
            if isinstance(cause, httpx.TransportError) and not isinstance(cause, NOT_SENT):
                raise OutcomeUnknown(str(error)) from error.__cause__
            raise
        try:
            return str(response.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError) as error:
            # Accepted but unreadable: a retry could deliver the alert twice.
            raise Refused(f"WhatsApp answered {response.status_code} without a message id") from error

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as error:
            raise RetryLater(f"WhatsApp timed out: {type(error).__name__}") from error
        except httpx.TransportError as error:
            raise RetryLater(f"WhatsApp unreachable: {type(error).__name__}: {error}") from error
        if response.is_success:
            return response
        raise classify(response, pair_interval_s=self._pair_interval_s)

    def _check_download_url(self, url: str) -> None:
        # The download needs the bearer token: never hand it out in clear text to another host.
        parts, base = urlsplit(url), urlsplit(self._base_url)
        if parts.scheme == "https" or (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
            return
        raise Refused(f"refusing to send the access token to {parts.scheme}://{parts.netloc}")

    async def _download(self, info: MediaInfo) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with self._http.stream("GET", info.url) as response:
                if response.status_code in (404, 410):
                    # Download URLs live about five minutes; new metadata brings a new one.
                    raise RetryLater(f"media {info.id}: download URL expired ({response.status_code})")
                if not response.is_success:
                    await response.aread()
                    raise classify(response)
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_media_bytes:
                        raise Refused(f"media {info.id} exceeds the {self._max_media_bytes}-byte limit")
                    chunks.append(chunk)
        except httpx.TimeoutException as error:
            raise RetryLater(f"media download timed out: {type(error).__name__}") from error
        except httpx.TransportError as error:
            raise RetryLater(f"media download failed: {type(error).__name__}: {error}") from error
        return b"".join(chunks)


def _recipient_key(to: str) -> str:
    # "+62 812-..." and "62812..." are the same person to WhatsApp's pair rate limit.
    return "".join(c for c in to if c.isdigit()) or to


def _graph_error(response: httpx.Response) -> GraphError:
    try:
        body = response.json()
        error = body["error"] if isinstance(body, dict) else None
    except (ValueError, KeyError):
        error = None
    if not isinstance(error, dict):
        return GraphError(response.status_code, None, response.reason_phrase or "no Graph error body")
    data = error.get("error_data")
    return GraphError(
        http_status=response.status_code,
        code=_int(error.get("code")),
        message=str(error.get("message") or ""),
        details=str(data["details"]) if isinstance(data, dict) and data.get("details") else None,
        subcode=_int(error.get("error_subcode")),
        fbtrace_id=error.get("fbtrace_id"),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _media_info(response: httpx.Response) -> MediaInfo:
    try:
        body = response.json()
        return MediaInfo(
            id=str(body["id"]),
            url=str(body["url"]),
            mime_type=body.get("mime_type"),
            sha256=body.get("sha256"),
            # Documented as a number, seen as a string: accept both.
            file_size=_int(body.get("file_size")),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise RetryLater("WhatsApp media metadata is unreadable") from error


def _digest_matches(expected: str, data: bytes) -> bool:
    # The media endpoint gives hex; webhooks have been seen carrying base64 of the same digest.
    digest = hashlib.sha256(data).digest()
    candidate = expected.strip()
    if len(candidate) == 64:
        try:
            return bytes.fromhex(candidate) == digest
        except ValueError:
            return False
    try:
        return base64.b64decode(candidate, validate=True) == digest
    except (binascii.Error, ValueError):
        return False


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
