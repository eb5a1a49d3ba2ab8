"""A local website of social-media posts, for preservation and the takedown re-check.

`PostsSite` serves, on 127.0.0.1 and an ephemeral port, `/posts/{id}` (an HTML page with a
photo), `/media/{id}.png` (the photo), `/go?to=URL` (a 302 redirect), `/slow` (answers after a
minute) and `/large` (a body of `large_bytes`). A post can be taken down after a delay, the way
a platform does after a request: it then answers 404, 410, or 200 with a "content unavailable"
page, as Facebook and X show one.
"""

import asyncio
import time
import zlib
from dataclasses import dataclass, field
from typing import Literal, Self

from aiohttp import web

__all__ = ["UNAVAILABLE_TEXT", "PostsSite", "png"]

Removal = Literal["404", "410", "unavailable"]
UNAVAILABLE_TEXT = "This content isn't available right now"


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small valid PNG, so a browser renders the post's photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Post:
    text: str
    removed_at: float | None = None
    how: Removal = "404"


@dataclass
class PostsSite:
    port: int = 0
    large_bytes: int = 2 * 1024 * 1024
    posts: dict[str, Post] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def add(self, post_id: str, text: str) -> str:
        self.posts[post_id] = Post(text)
        return f"{self.base_url}/posts/{post_id}"

    def remove_after(self, post_id: str, delay_s: float, how: Removal = "404") -> None:
        post = self.posts[post_id]
        post.removed_at, post.how = time.monotonic() + delay_s, how

    def _live(self, post_id: str) -> Post | None:
        post = self.posts.get(post_id)
        if post is None or (post.removed_at is not None and time.monotonic() >= post.removed_at):
            return None
        return post

    async def _post(self, request: web.Request) -> web.Response:
        post_id = request.match_info["post_id"]
        self.requests.append(request.path)
        post = self._live(post_id)
        if post is None:
            known = self.posts.get(post_id)
            if known is not None and known.how == "unavailable":
                return web.Response(
                    text=f"<html><body><h1>{UNAVAILABLE_TEXT}</h1></body></html>", content_type="text/html"
                )
            return web.Response(
                status=410 if known is not None and known.how == "410" else 404, text="not found"
            )
        page = (
            f"<html><head><title>Post {post_id}</title></head><body style='font:20px sans-serif'>"
            f"<p>{post.text}</p><img src='/media/{post_id}.png' width='200' height='200'></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _media(self, request: web.Request) -> web.Response:
        post_id = request.match_info["post_id"]
        if self._live(post_id) is None:
            return web.Response(status=404)
        return web.Response(
            body=png(rgb=(zlib.crc32(post_id.encode()) % 256, 40, 90)), content_type="image/png"
        )

    async def _go(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(text="late")

    async def _large(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"x" * 65536
        for _ in range(self.large_bytes // len(chunk) + 1):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/posts/{post_id}", self._post)
        app.router.add_get("/media/{post_id}.png", self._media)
        app.router.add_get("/go", self._go)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/large", self._large)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
