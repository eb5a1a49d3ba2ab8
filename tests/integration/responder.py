"""A stand-in for the services on the run's real NATS: answers every request/reply subject
with what a test says, on its own thread, so a gateway under TestClient can ask it."""

import asyncio
import threading
from collections.abc import Callable

import nats
from nats.aio.msg import Msg

from pantau_shared.contract import Subjects
from pantau_shared.settings import PlatformSettings


class Responder:
    """`answer(agency, method, request body)` returns the reply's body."""

    def __init__(self, platform: PlatformSettings, answer: Callable[[str, str, bytes], bytes]) -> None:
        self.platform = platform
        self.answer = answer
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> "Responder":
        self._thread.start()
        assert self._ready.wait(30), "the responder did not subscribe"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _run(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        nc = await nats.connect(self.platform.nats_url)
        prefix = f"{Subjects(self.platform.subject_root).root}.rpc.v1."

        async def respond(msg: Msg) -> None:
            agency, method = msg.subject.removeprefix(prefix).split(".", 1)
            await msg.respond(self.answer(agency, method, msg.data))

        await nc.subscribe(prefix + ">", cb=respond)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.close()
