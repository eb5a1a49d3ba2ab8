"""Running a service process: the generic part every service shares, the gateway included.

A service's `__main__` builds its own objects (repository, handlers, the gateway's HTTP app) and
hands this module its subscriptions table, its request/reply answers and its admin commands; everything
else (health, connecting, provisioning, pull loops, the outbox relay, dead letters, signals,
draining) is the same everywhere and lives here.

Start-up: the health server answers `/healthz` at once; the servers are waited for with backoff
(`/readyz` says which one is missing); SIGTERM is honoured at any point. Drain, under one deadline
(`PANTAU_DRAIN_TIMEOUT_S`): stop fetching, answering reads and accepting HTTP connections; finish
in-flight handlers, requests and background work; *then* flush and stop the outbox relay, so
events committed during the drain are published before exit; drain NATS; close the pools.
"""

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import uvicorn
import uvloop
from nats.aio.msg import Msg
from nats.js.api import StreamConfig
from starlette.types import ASGIApp

from .bus import Answer, EventHandlerRunner, PullLoop, Subscription, provision
from .bus.deadletter import RELAY_DURABLE, advisory_stream, relay_advisory, relay_config
from .bus.rpc import serve as serve_rpc
from .bus.topology import ensure_consumer
from .health import Readiness, health_app
from .http_server import EmbeddedServer
from .infrastructure import Infrastructure
from .observability import setup_observability
from .sampling import QueueSampler
from .settings import PlatformSettings, ServiceSettings, production_errors

log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class HttpService:
    """An ASGI application the process serves besides its health server (the gateway's API)."""

    app: ASGIApp
    host: str
    port: int


class ServiceHandlers(Protocol):
    """What a service hands the runtime. It may also have `background(stopping)`, returning
    coroutines that run until `stopping` is set; `http()`, returning an `HttpService`; and
    `close()`, awaited once its work is done."""

    def subscriptions(self) -> list[Subscription]: ...

    def answers(self) -> list[Answer[Any, Any]]: ...


def own_streams(handlers: ServiceHandlers) -> list[StreamConfig]:
    """Streams a service declares besides the platform's (`streams()`: the federation's)."""
    streams: Callable[[], list[StreamConfig]] = getattr(handlers, "streams", list)
    return streams()


async def run_worker(
    infra: Infrastructure,
    platform: PlatformSettings,
    settings: ServiceSettings,
    handlers: ServiceHandlers,
    stopping: asyncio.Event,
    readiness: Readiness | None = None,
) -> None:
    """Serve until `stopping`, then drain in order; closes `infra`."""
    try:
        await _serve(infra, platform, settings, handlers, stopping, readiness or Readiness())
    finally:
        closer = getattr(handlers, "close", None)
        if closer is not None:
            await closer()
        await infra.close()
    log.info("%s stopped", infra.service)


async def _serve(
    infra: Infrastructure,
    platform: PlatformSettings,
    settings: ServiceSettings,
    handlers: ServiceHandlers,
    stopping: asyncio.Event,
    readiness: Readiness,
) -> None:
    subscriptions, answers = handlers.subscriptions(), handlers.answers()
    await provision(infra.js, infra.subjects, subscriptions, own_streams(handlers))
    await ensure_consumer(infra.js, advisory_stream(infra.subjects), relay_config())

    loops = [
        PullLoop(
            infra.js,
            infra.subjects.stream(sub.stream),
            sub.durable,
            EventHandlerRunner(infra.js, infra.subjects, sub),
            capacity=settings.fetch_batch,
        )
        for sub in subscriptions
    ]
    loops.append(
        PullLoop(infra.js, advisory_stream(infra.subjects), RELAY_DURABLE, _relay(infra), capacity=8)
    )
    sampler = QueueSampler(
        infra.js,
        infra.pool,
        infra.subjects,
        [(sub.stream, sub.durable) for sub in subscriptions],
        platform.metrics_interval_s,
    )
    http = _http_server(handlers, platform, readiness)
    rpc_subscriptions = await serve_rpc(infra.nc, infra.subjects, infra.service, answers)

    # `fetching` ends the intake of new work; `relaying` ends the relay once that work is done.
    fetching, relaying = asyncio.Event(), asyncio.Event()
    async with asyncio.TaskGroup() as group:
        relay = group.create_task(infra.outbox.relay(infra.pool, infra.js, relaying))
        intake = [group.create_task(loop.run(fetching)) for loop in loops]
        background: list[Coroutine[Any, Any, None]] = getattr(handlers, "background", lambda _: [])(fetching)
        work = [group.create_task(job) for job in [*background, sampler.run(fetching)]]
        if http is not None:
            work.append(group.create_task(http.serve()))
        log.info("%s ready", infra.service)
        await stopping.wait()

        clock = asyncio.get_running_loop()
        deadline = clock.time() + platform.drain_timeout_s

        def left() -> float:
            return max(0.0, deadline - clock.time())

        log.info("%s draining (deadline %.0fs)", infra.service, platform.drain_timeout_s)
        readiness.draining = True
        fetching.set()
        for rpc_subscription in rpc_subscriptions:
            await rpc_subscription.unsubscribe()
        if http is not None:
            # uvicorn stops accepting, then waits for requests in flight up to this timeout.
            http.config.timeout_graceful_shutdown = max(1, math.floor(left()))
            http.should_exit = True
        # A pull loop stops after its current fetch; the messages it got are then in flight.
        await asyncio.wait(intake, timeout=left())
        await asyncio.gather(*(loop.drain(left()) for loop in loops))
        if work:
            _, late = await asyncio.wait(work, timeout=left())
            for task in late:
                log.warning("%s: cancelling %s at the drain deadline", infra.service, task.get_name())
                task.cancel()
        for task in intake:
            task.cancel()  # only those still blocked at the deadline
        # Only now: everything committed during the drain is published before exit.
        relaying.set()
        infra.outbox.committed()
        await relay


def _relay(infra: Infrastructure) -> Callable[[Msg], Awaitable[None]]:
    async def relay(message: Msg) -> None:
        try:
            await relay_advisory(infra.js, infra.subjects, message.data)
        except Exception:
            log.exception("dead-letter relay failed; advisory will be redelivered")
            await message.nak(delay=5)
            return
        await message.ack()

    return relay


def _http_server(
    handlers: ServiceHandlers, platform: PlatformSettings, readiness: Readiness
) -> EmbeddedServer | None:
    http: HttpService | None = getattr(handlers, "http", lambda: None)()
    if http is None:
        return None
    server = EmbeddedServer(
        uvicorn.Config(
            http.app,
            host=http.host,
            port=http.port,
            # httptools (llhttp) parses a request for a fraction of h11's CPU; "auto" would
            # fall back to h11 silently when the wheel is missing, so it is asked for by name.
            http="httptools",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=math.ceil(platform.drain_timeout_s),
        )
    )

    async def serving() -> None:
        if not server.started:
            raise ConnectionError(f"not yet listening on {http.host}:{http.port}")

    readiness.connected({"http": serving})
    return server


async def serve(
    service: str,
    platform: PlatformSettings,
    settings: S,
    build: Callable[[Infrastructure, PlatformSettings, S], ServiceHandlers],
    stopping: asyncio.Event,
) -> None:
    """The `serve` command: health first, then connect, then work until `stopping`."""
    readiness = Readiness()
    health = EmbeddedServer(
        uvicorn.Config(
            health_app(readiness),
            host=settings.health_host,
            port=settings.health_port,
            http="httptools",
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    health_task = asyncio.create_task(health.serve())
    try:
        infra = await _unless_stopped(stopping, _connect(service, platform, settings, readiness))
        if infra is None:
            log.info("%s stopped before its servers were reached", service)
            return
        try:
            handlers = build(infra, platform, settings)
        except BaseException:
            await infra.close()
            raise
        await run_worker(infra, platform, settings, handlers, stopping, readiness)
    finally:
        health.should_exit = True
        await health_task


async def _connect(
    service: str, platform: PlatformSettings, settings: ServiceSettings, readiness: Readiness | None = None
) -> Infrastructure:
    infra = await Infrastructure.connect(
        platform, settings, service=service, schema=service, readiness=readiness
    )
    try:
        await infra.migrate(f"pantau_{service}", service)
    except BaseException:
        await infra.close()
        raise
    return infra


async def _unless_stopped(stopping: asyncio.Event, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None when `stopping` is set first (the work is then cancelled)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.create_task(stopping.wait())
    await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `serve` until SIGTERM or SIGINT asks it to drain; a second signal exits at once."""

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stopping.is_set():
                os._exit(1)
            stopping.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        await serve(stopping)

    # uvloop: most of every service's CPU per report is socket reads and writes and their
    # callbacks (NATS, PostgreSQL, Redis, HTTP), which libuv runs for less than asyncio's loop.
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


@dataclass(frozen=True)
class AdminCommand(Generic[S]):
    """A one-off command run with the service's connections, e.g. adding a subscription."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Infrastructure, S, argparse.Namespace], Awaitable[None]]


def worker_main(
    *,
    service: str,
    settings_type: type[S],
    build: Callable[[Infrastructure, PlatformSettings, S], ServiceHandlers],
    argv: Sequence[str] | None = None,
    commands: dict[str, AdminCommand[S]] | None = None,
) -> None:
    """The entrypoint of every service: parse settings once, then serve or run a command.

    `serve` (the default) runs until signalled; `setup` applies migrations and declares streams
    and consumers, then exits; admin commands run against the same connections.
    """
    commands = commands or {}
    parser = argparse.ArgumentParser(prog=f"pantau-{service}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (the default)")
    sub.add_parser("setup", help="apply migrations, declare streams and consumers, and exit")
    for name, command in commands.items():
        command.configure(sub.add_parser(name, help=command.help))
    args = parser.parse_args(argv)

    platform = PlatformSettings.load()
    settings = settings_type.load()
    if platform.environment == "production" and (errors := production_errors(platform, settings)):
        raise SystemExit(f"pantau-{service} refuses to start in production:\n  " + "\n  ".join(errors))
    setup_observability(platform, service)

    async def run_command(stopping: asyncio.Event) -> None:
        infra = await _unless_stopped(stopping, _connect(service, platform, settings))
        if infra is None:
            return
        try:
            handlers = build(infra, platform, settings)
            await provision(infra.js, infra.subjects, handlers.subscriptions(), own_streams(handlers))
            if args.command in commands:
                await commands[args.command].run(infra, settings, args)
        finally:
            await infra.close()

    if args.command in (None, "serve"):
        run_until_signalled(lambda stopping: serve(service, platform, settings, build, stopping))
    else:
        run_until_signalled(run_command)
