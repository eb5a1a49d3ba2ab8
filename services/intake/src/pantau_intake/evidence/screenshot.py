"""The rendered page as a PNG, taken with headless Chromium (Debian's `/usr/bin/chromium`)
through Playwright, without letting the browser reach any network by itself.

A reported page is hostile input: its HTML, scripts and redirects could make a browser fetch
`http://169.254.169.254/` or a service on the intake host. So the browser never connects
anywhere. Every request it makes is intercepted (Playwright's routing, before the network
stack): the page itself is answered with the bytes already captured (the same ones the WARC
keeps), and each sub-resource (image, style, script, frame) is fetched by the `SafeFetcher`,
which refuses inward addresses and re-checks every redirect; anything else is aborted. As a
second wall the browser is started with a proxy that refuses every connection, loopback
included (`<-loopback>`), and a host resolver that resolves no name, so a request that escaped
interception (a WebSocket, WebRTC, a prefetch) still goes nowhere. Service workers are blocked,
downloads are refused, and each page gets a fresh browser context.

Without Chromium the item says so (`unavailable`) and the rest of the capture goes on.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

from pantau_shared.fetching import Exchange, Fetched, FetchFailed, FetchRefused

log = logging.getLogger(__name__)

# A proxy on a port nothing listens on: a connection that escapes interception is refused.
_DEAD_PROXY = "http://127.0.0.1:9"
_BROWSER_ARGS = (
    f"--proxy-server={_DEAD_PROXY}",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--dns-prefetch-disable",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-features=WebRtcHideLocalIpsWithMdns,Translate,OptimizationHints,MediaRouter",
    # As root in a container the sandbox cannot start; the browser still has no network of its own.
    "--no-sandbox",
)


@dataclass
class Shot:
    png: bytes
    # Sub-resources the page loaded, fetched by the safe fetcher: they go into the WARC too.
    exchanges: list[Exchange] = field(default_factory=list)


@dataclass(frozen=True)
class NoShot:
    reason: str


class Screenshots:
    def __init__(
        self,
        fetch: Callable[[str], Awaitable[Fetched]],
        executable: Path = Path("/usr/bin/chromium"),
        *,
        timeout_s: float = 15.0,
        max_subresources: int = 60,
        concurrency: int = 2,
        viewport: tuple[int, int] = (1280, 900),
    ) -> None:
        self._fetch = fetch
        self._executable = executable
        self._timeout_s = timeout_s
        self._max_subresources = max_subresources
        self._viewport = viewport
        self._slots = asyncio.Semaphore(concurrency)
        self._starting = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    @property
    def available(self) -> bool:
        return self._executable.is_file()

    async def take(self, page: Exchange) -> Shot | NoShot:
        if not self.available:
            return NoShot(f"no headless browser here: {self._executable} is not installed")
        async with self._slots:
            try:
                return await asyncio.wait_for(self._take(page), self._timeout_s)
            except TimeoutError:
                return NoShot(f"the page did not render within {self._timeout_s:g}s")
            except PlaywrightError as error:
                # A crashed browser is started afresh for the next page.
                await self._reset()
                return NoShot(f"the browser failed: {error.message.splitlines()[0]}")

    async def _browser_ready(self) -> Browser:
        async with self._starting:
            if self._browser is None or not self._browser.is_connected():
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=str(self._executable), args=list(_BROWSER_ARGS), headless=True
                )
            return self._browser

    async def _take(self, page: Exchange) -> Shot:
        browser = await self._browser_ready()
        shot = Shot(b"")
        context = await browser.new_context(
            service_workers="block",
            accept_downloads=False,
            viewport={"width": self._viewport[0], "height": self._viewport[1]},
        )
        try:

            async def answer(route: Route) -> None:
                await self._answer(route, page, shot)

            await context.route("**/*", answer)
            tab = await context.new_page()
            await tab.goto(page.url, wait_until="load", timeout=self._timeout_s * 1000)
            shot.png = await tab.screenshot(full_page=True, timeout=self._timeout_s * 1000)
        finally:
            await context.close()
        return shot

    async def _answer(self, route: Route, page: Exchange, shot: Shot) -> None:
        request = route.request
        if request.url == page.url and request.is_navigation_request():
            await route.fulfill(status=page.status, headers=_headers(page), body=page.body)
            return
        if request.method != "GET" or len(shot.exchanges) >= self._max_subresources:
            await route.abort("blockedbyclient")
            return
        try:
            fetched = await self._fetch(request.url)
        except (FetchRefused, FetchFailed) as error:
            log.debug("sub-resource %s not loaded: %s", request.url, error)
            await route.abort("blockedbyclient")
            return
        shot.exchanges.extend(fetched.exchanges)
        final = fetched.final
        await route.fulfill(status=final.status, headers=_headers(final), body=final.body)

    async def _reset(self) -> None:
        async with self._starting:
            if self._browser is not None:
                try:
                    await self._browser.close()
                except PlaywrightError:
                    pass
                self._browser = None

    async def aclose(self) -> None:
        await self._reset()
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


def _headers(exchange: Exchange) -> dict[str, str]:
    # Hop-by-hop and length headers describe the original transfer, not these bytes.
    skipped = {"content-length", "transfer-encoding", "connection", "content-encoding", "set-cookie"}
    return {k: v for k, v in exchange.response_headers if k.lower() not in skipped}
