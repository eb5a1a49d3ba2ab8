"""uvicorn inside a process that owns its signals, answering each response in one write."""

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGTERM/SIGINT to the process's own drain logic; stop it by
    setting `should_exit`. httptools (asked for by name) is served by `PairedWritesProtocol`."""

    def __init__(self, config: uvicorn.Config) -> None:
        if config.http == "httptools":
            config.http = PairedWritesProtocol
        super().__init__(config)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PairedWritesProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing a response's head and body in one socket write.

    uvicorn writes the status line and headers when the application sends
    `http.response.start`, and the body when it sends `http.response.body`: two writes, two
    system calls and two segments for the client to be woken by. At the gateway's one report a
    request those writes were a tenth of its CPU at a low rate (py-spy), where no two requests
    share a wake-up. A write is held until the next one on the connection, which goes out with
    it, or until the loop's current pass ends: a response answered at once (the application
    sends both parts without waiting in between) leaves in one write and no later; a head whose
    body takes longer, a streamed chunk or a 100 Continue waits no longer than that pass."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_PairedWrites(transport))  # type: ignore[arg-type]


class _PairedWrites:
    """The connection's transport as uvicorn sees it: writes paired as above, the rest as is."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._held = bytes(data)
            self._loop.call_soon(self._release)
            return
        held, self._held = self._held, None
        self._transport.write(held + data)

    def close(self) -> None:
        self._release()
        self._transport.close()

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
