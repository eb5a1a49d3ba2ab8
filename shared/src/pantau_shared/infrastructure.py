"""The connections every process holds, opened in one place and closed in a fixed order."""

from dataclasses import dataclass
from typing import Self

import asyncpg
import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from redis.asyncio import Redis

from .contract import Subjects
from .health import Check
from .outbox import Outbox
from .postgres import create_pool, migrate
from .redis import create_redis
from .settings import PlatformSettings, ServiceSettings


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
        cls, platform: PlatformSettings, settings: ServiceSettings, *, service: str, schema: str
    ) -> Self:
        nc = await nats.connect(
            platform.nats_url, name=f"pantau-{service}", max_reconnect_attempts=-1, connect_timeout=5
        )
        try:
            pool = await create_pool(
                platform.database_url,
                service=service,
                schema=schema,
                min_size=settings.db_pool_min,
                max_size=settings.db_pool_max,
            )
        except BaseException:
            await nc.close()
            raise
        subjects = Subjects(platform.subject_root)
        return cls(
            service=service,
            subjects=subjects,
            nc=nc,
            js=nc.jetstream(timeout=10),
            pool=pool,
            redis=create_redis(platform.redis_url, service=service),
            outbox=Outbox(subjects, source=f"/pantau/{service}"),
        )

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
