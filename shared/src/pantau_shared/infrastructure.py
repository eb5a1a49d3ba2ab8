"""The connections every process holds, opened in one place and closed in a fixed order.

Each server is waited for with capped exponential backoff and a log line per attempt, so a
process started before its servers comes up when they do; the caller cancels the wait (SIGTERM).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Self, TypeVar
from urllib.parse import urlsplit

import asyncpg
from nats.aio.client import Client as NATS
from nats.errors import NoServersError
from nats.js import JetStreamContext
from redis.asyncio import Redis

from .bus import retry_delay
from .contract import Subjects
from .health import Check, Readiness
from .outbox import Outbox
from .postgres import create_pool, migrate
from .redis import create_redis
from .settings import PlatformSettings, ServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Infrastructure:
    service: str
    subjects: Subjects
    nc: NATS
    js: JetStreamContext
    pool: asyncpg.Pool
    redis: Redis
    outbox: Outbox

    @classmethod
    async def connect(
        cls,
        platform: PlatformSettings,
        settings: ServiceSettings,
        *,
        service: str,
        schema: str,
        readiness: Readiness | None = None,
    ) -> Self:
        readiness = readiness or Readiness()
        cap = platform.connect_backoff_max_s

        def wait(name: str, url: str, attempt: Callable[[], Awaitable[T]]) -> Awaitable[T]:
            return _with_backoff(name, _redacted(url), attempt, readiness, cap)

        nc = await wait("nats", platform.nats_url, lambda: _connect_nats(platform.nats_url, service))
        redis = create_redis(platform.redis_url, service=service)
        try:
            pool = await wait(
                "postgres",
                platform.database_url,
                lambda: create_pool(
                    platform.database_url,
                    service=service,
                    schema=schema,
                    min_size=settings.db_pool_min,
                    max_size=settings.db_pool_max,
                ),
            )
            try:
                await wait("redis", platform.redis_url, redis.ping)
            except BaseException:
                await pool.close()
                raise
        except BaseException:
            await redis.aclose()
            await nc.close()
            raise
        subjects = Subjects(platform.subject_root)
        infra = cls(
            service=service,
            subjects=subjects,
            nc=nc,
            js=nc.jetstream(timeout=10),
            pool=pool,
            redis=redis,
            outbox=Outbox(subjects, source=f"/pantau/{service}"),
        )
        readiness.connected(infra.checks())
        return infra

    async def migrate(self, package: str, schema: str) -> list[str]:
        return await migrate(self.pool, schema=schema, package=package)

    def checks(self) -> dict[str, Check]:
        async def nats_check() -> None:
            if not self.nc.is_connected:
                raise ConnectionError("not connected")
            await self.nc.flush(timeout=1)

        async def postgres_check() -> None:
            await self.pool.fetchval("SELECT 1")

        async def redis_check() -> None:
            await self.redis.ping()

        return {"nats": nats_check, "postgres": postgres_check, "redis": redis_check}

    async def close(self) -> None:
        # NATS first: drain flushes what was published and lets in-flight replies go out.
        if not self.nc.is_closed:
            await self.nc.drain()
        await self.pool.close()
        await self.redis.aclose()


async def _with_backoff(
    name: str, where: str, attempt: Callable[[], Awaitable[T]], readiness: Readiness, cap: float
) -> T:
    tries = 0
    while True:
        tries += 1
        try:
            result = await attempt()
        except Exception as error:
            delay = retry_delay(tries, cap=cap)
            reason = f"{type(error).__name__}: {error}"
            log.warning(
                "%s at %s not reachable (attempt %d): %s; next attempt in %.1fs",
                name,
                where,
                tries,
                reason,
                delay,
            )
            readiness.waiting(name, f"connecting (attempt {tries}): {reason}")
            await asyncio.sleep(delay)
            continue
        if tries > 1:
            log.info("%s at %s reached after %d attempts", name, where, tries)
        return result


async def _connect_nats(url: str, service: str) -> NATS:
    nc = NATS()
    failures: list[Exception] = []

    async def error(exception: Exception) -> None:
        if nc.is_connected or nc.is_reconnecting:
            log.warning("nats: %s: %s", type(exception).__name__, exception)
        else:  # a failed first attempt: the caller logs it
            failures.append(exception)

    async def disconnected() -> None:
        if nc.is_reconnecting:  # not a failed first attempt, nor the drain at shutdown
            log.warning("nats disconnected; reconnecting")

    async def reconnected() -> None:
        log.info("nats reconnected")

    try:
        # The first connection fails fast (one try per server, no wait) so that the backoff
        # above, and SIGTERM, stay in charge; nats-py would otherwise keep retrying inside.
        await nc.connect(
            url,
            name=f"pantau-{service}",
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            connect_timeout=5,
            error_cb=error,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
        )
    except NoServersError as no_servers:
        with contextlib.suppress(Exception):
            await nc.close()
        raise (failures[-1] if failures else no_servers) from None
    except BaseException:
        with contextlib.suppress(Exception):
            await nc.close()
        raise
    # Once connected, a NATS restart must not end the process: reconnect forever.
    nc.options["max_reconnect_attempts"] = -1
    nc.options["reconnect_time_wait"] = 2
    return nc


def _redacted(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()
