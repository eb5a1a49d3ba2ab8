"""Capturing what one URL points at: the exchange(s) as WARC, a screenshot, the page's media.

The page is fetched once by the `SafeFetcher` (every hop checked); its final answer is what the
browser renders, so the screenshot shows the bytes the WARC keeps. Media the page links
(img/video/source, og:image) are fetched by the same fetcher; those the browser already
loaded are not fetched twice. Every exchange of the capture goes into the one WARC.
"""

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pantau_shared.fetching import Exchange, FetchFailed, FetchRefused, Resolver, SafeFetcher

from .links import media_urls
from .screenshot import NoShot, Screenshots
from .warc import WARC_MEDIA_TYPE, warc_of

_HTML = ("text/html", "application/xhtml+xml")
_MEDIA = ("image/", "video/", "audio/")


@dataclass(frozen=True)
class Piece:
    """One item to keep: its bytes, or why this kind could not be made."""

    kind: str
    url: str
    media_type: str | None
    fetched_at: datetime
    data: bytes | None = None
    reason: str | None = None


@dataclass
class Capture:
    url: str
    pieces: list[Piece] = field(default_factory=list)


def _media_type(exchange: Exchange) -> str:
    return (exchange.header("content-type") or "application/octet-stream").split(";")[0].strip().lower()


class Capturer:
    def __init__(
        self,
        fetcher: SafeFetcher,
        screenshots: Screenshots | None,
        *,
        max_media: int = 20,
        resolve: Resolver | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._screenshots = screenshots
        self._max_media = max_media
        # The fetcher's own (caching) resolver: asked first, see `_resolvable`.
        self._resolve = resolve

    async def capture(self, url: str) -> Capture:
        """Raises FetchRefused or FetchFailed when the page itself cannot be had."""
        await self._resolvable(url)
        fetched = await self._fetcher.fetch(url)
        page = fetched.final
        exchanges = list(fetched.exchanges)
        capture = Capture(url)
        kind = _media_type(page)
        if kind.startswith(_MEDIA) and 200 <= page.status < 300:
            # The link is a photo or a video itself: the file is the media item.
            capture.pieces.append(Piece("media", page.url, kind, page.started_at, page.body))
        elif kind in _HTML:
            loaded = await self._screenshot(capture, page)
            exchanges.extend(loaded)
            await self._media(capture, page, {e.url: e for e in loaded}, exchanges)
        now = datetime.now(UTC)
        capture.pieces.insert(0, Piece("warc", url, WARC_MEDIA_TYPE, now, warc_of(exchanges)))
        return capture

    async def _resolvable(self, url: str) -> None:
        """A page whose host name does not resolve fails here with the FetchFailed its fetch
        would raise (the same cached answer the fetcher's connection asks for), without a pass
        through the HTTP connection pool: that cost about 0.4 ms of CPU per attempt, and when
        the network's DNS is down (or a name is gone) every job and retry of a burst's links
        ends so. Only a plain http(s) URL with an ASCII name is looked at; anything the fetcher
        refuses, it still refuses with its own reason."""
        if self._resolve is None:
            return
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host or not host.isascii():
            return
        if parts.username or parts.password:
            return
        try:
            ipaddress.ip_address(host)
            return  # an address: nothing to resolve
        except ValueError:
            pass
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return
        await self._resolve(host, port)

    async def _screenshot(self, capture: Capture, page: Exchange) -> list[Exchange]:
        now = datetime.now(UTC)
        if self._screenshots is None:
            capture.pieces.append(Piece("screenshot", page.url, None, now, reason="screenshots are off"))
            return []
        shot = await self._screenshots.take(page)
        if isinstance(shot, NoShot):
            capture.pieces.append(Piece("screenshot", page.url, None, now, reason=shot.reason))
            return []
        capture.pieces.append(Piece("screenshot", page.url, "image/png", datetime.now(UTC), shot.png))
        return shot.exchanges

    async def _media(
        self, capture: Capture, page: Exchange, loaded: dict[str, Exchange], exchanges: list[Exchange]
    ) -> None:
        for link in media_urls(page.body, page.url, self._max_media):
            exchange = loaded.get(link)
            if exchange is None:
                try:
                    fetched = await self._fetcher.fetch(link)
                except (FetchRefused, FetchFailed) as error:
                    capture.pieces.append(Piece("media", link, None, datetime.now(UTC), reason=str(error)))
                    continue
                exchanges.extend(fetched.exchanges)
                exchange = fetched.final
            if 200 <= exchange.status < 300 and exchange.body:
                capture.pieces.append(
                    Piece("media", link, _media_type(exchange), exchange.started_at, exchange.body)
                )
