"""`EmbeddedServer`'s httptools protocol: a response's head and body in one write, and every
response still whole, whether its body comes at once or later."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import uvicorn

from pantau_devstack.servers import free_port
from pantau_shared.http_server import EmbeddedServer, PairedWritesProtocol, _PairedWrites
from tests.waiting import eventually


class _Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def test_a_head_and_its_body_sent_together_leave_in_one_write() -> None:
    transport = _Recording()
    paired = _PairedWrites(transport)
    paired.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    paired.write(b"{}")
    assert transport.writes == [b"HTTP/1.1 202 Accepted\r\n\r\n{}"]
    await asyncio.sleep(0)  # the pass ends: nothing more was held
    assert transport.writes == [b"HTTP/1.1 202 Accepted\r\n\r\n{}"]


async def test_a_lone_write_leaves_when_the_loop_pass_ends_and_close_sends_what_is_held() -> None:
    transport = _Recording()
    paired = _PairedWrites(transport)
    paired.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert transport.writes == []
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    paired.write(b"last")
    paired.close()
    assert transport.writes[-1] == b"last" and transport.closed
    await asyncio.sleep(0)  # the pass's release finds nothing left
    assert len(transport.writes) == 2


async def _app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    late = scope["path"] == "/late"
    body = b"later" if late else b"at once"
    headers = [(b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if late:
        await asyncio.sleep(0.05)  # the head leaves alone, before the body exists
    await send({"type": "http.response.body", "body": body})


def _started(server: EmbeddedServer) -> Callable[[], Awaitable[bool]]:
    async def started() -> bool:
        return server.started

    return started


@contextlib.asynccontextmanager
async def _serving() -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(_app, host="127.0.0.1", port=port, http="httptools", log_config=None)
    server = EmbeddedServer(config)
    assert server.config.http is PairedWritesProtocol
    task = asyncio.create_task(server.serve())
    try:
        await eventually(_started(server), what="the server listening")
        yield port
    finally:
        server.should_exit = True
        await task


async def test_responses_arrive_whole_on_a_kept_alive_connection() -> None:
    async with _serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for path, body in (("/", b"at once"), ("/late", b"later"), ("/", b"at once")):
                writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                assert head.startswith(b"HTTP/1.1 200 OK\r\n")
                assert await asyncio.wait_for(reader.readexactly(len(body)), 5) == body
        finally:
            writer.close()
