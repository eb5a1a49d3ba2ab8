"""Running a service process: the generic part every service shares.

A service's `__main__` builds its own objects (repository, handlers) and hands this module its
subscriptions table and its request/reply answers; everything else (provisioning, pull loops, the outbox
relay, dead letters, health, signals, draining) is the same everywhere and lives here.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import uvicorn
from nats.aio.msg import Msg

from .bus import Answer, EventHandlerRunner, PullLoop, Subscription, provision
from .bus.deadletter import RELAY_DURABLE, advisory_stream, relay_advisory, relay_config
from .bus.rpc import serve as serve_rpc
from .bus.topology import ensure_consumer
from .health import health_app
from .http_server import EmbeddedServer
from .infrastructure import Infrastructure
from .observability import setup_observability
from .settings import PlatformSettings, ServiceSettings

log = logging.getLogger(__name__)


async def run_worker(
    infra: Infrastructure,
    platform: PlatformSettings,
    settings: ServiceSettings,
    handlers: "ServiceHandlers",
    stopping: asyncio.Event,
) -> None:
    subscriptions, answers = handlers.subscriptions(), handlers.answers()
    await provision(infra.js, infra.subjects, subscriptions)
    await ensure_consumer(infra.js, advisory_stream(infra.subjects), relay_config())

    async def relay(message: Msg) -> None:
        try:
            await relay_advisory(infra.js, infra.subjects, message.data)
        except Exception:
            log.exception("dead-letter relay failed; advisory will be redelivered")
            await message.nak(delay=5)
            return
        await message.ack()

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
    loops.append(PullLoop(infra.js, advisory_stream(infra.subjects), RELAY_DURABLE, relay, capacity=8))
    rpc_subscriptions = await serve_rpc(infra.nc, infra.subjects, infra.service, answers)

    health = EmbeddedServer(
        uvicorn.Config(
            health_app(infra.checks()),
            host=settings.health_host,
            port=settings.health_port,
            log_config=None,
            lifespan="off",
        )
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(health.serve())
        fetching = asyncio.Event()
        for loop in loops:
            group.create_task(loop.run(fetching))
        group.create_task(infra.outbox.relay(infra.pool, infra.js, stopping))
        for background in getattr(handlers, "background", lambda _: [])(fetching):
            group.create_task(background)
        log.info("%s ready", infra.service)
        await stopping.wait()

        log.info("%s draining (deadline %.0fs)", infra.service, platform.drain_timeout_s)
        fetching.set()
        for rpc_subscription in rpc_subscriptions:
            await rpc_subscription.unsubscribe()
        await asyncio.gather(*(loop.drain(platform.drain_timeout_s) for loop in loops))
        infra.outbox.committed()
        health.should_exit = True
    await infra.close()
    log.info("%s stopped", infra.service)


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

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class ServiceHandlers(Protocol):
    """What a service hands the runtime. It may also have `background(stopping)`, returning
    coroutines that run until `stopping` is set, and `close()`, awaited at shutdown."""

    def subscriptions(self) -> list[Subscription]: ...

    def answers(self) -> list[Answer[Any, Any]]: ...


S = TypeVar("S", bound=ServiceSettings)


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
    check: Callable[[PlatformSettings, S], None] | None = None,
) -> None:
    """The entrypoint of a worker service: parse settings once, then serve or run a command.

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
    if check is not None:
        check(platform, settings)
    setup_observability(platform, service)

    async def serve(stopping: asyncio.Event) -> None:
        infra = await Infrastructure.connect(platform, settings, service=service, schema=service)
        await infra.migrate(f"pantau_{service}", service)
        handlers = build(infra, platform, settings)
        if args.command in (None, "serve"):
            try:
                await run_worker(infra, platform, settings, handlers, stopping)
            finally:
                closer = getattr(handlers, "close", None)
                if closer is not None:
                    await closer()
            return
        try:
            await provision(infra.js, infra.subjects, handlers.subscriptions())
            if args.command in commands:
                await commands[args.command].run(infra, settings, args)
        finally:
            await infra.close()

    run_until_signalled(serve)
