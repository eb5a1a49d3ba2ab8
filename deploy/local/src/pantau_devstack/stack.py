"""The servers Pantau needs: the ones settings name, or embedded ones started here."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from .servers import NatsServer, PostgresServer, RedisServer, free_port


@dataclass
class Servers:
    nats_url: str
    database_url: str
    redis_url: str
    started: list[NatsServer | PostgresServer | RedisServer] = field(default_factory=list)
    # True when database_url is an embedded server's maintenance database, not the project's.
    embedded_database: bool = False

    def stop(self) -> None:
        for server in reversed(self.started):
            server.stop()
        self.started.clear()


def start_servers(
    data_dir: Path,
    *,
    nats_port: int | None = None,
    postgres_port: int | None = None,
    redis_port: int | None = None,
    with_nats: bool = True,
) -> Servers:
    """Use PANTAU_NATS_URL / PANTAU_DATABASE_URL / PANTAU_REDIS_URL where set; start the rest.

    Embedded servers take the preferred port when it is free, another free port otherwise, so
    they never clash with servers already running on the machine.
    """
    servers = Servers(
        nats_url=os.environ.get("PANTAU_NATS_URL", ""),
        database_url=os.environ.get("PANTAU_DATABASE_URL", ""),
        redis_url=os.environ.get("PANTAU_REDIS_URL", ""),
    )
    try:
        if with_nats and not servers.nats_url:
            nats = NatsServer(data_dir / "nats", free_port(nats_port))
            nats.start()
            servers.started.append(nats)
            servers.nats_url = nats.url
        if not servers.redis_url:
            redis = RedisServer(data_dir / "redis", free_port(redis_port))
            redis.start()
            servers.started.append(redis)
            servers.redis_url = redis.url
        if not servers.database_url:
            postgres = PostgresServer(data_dir / "postgres", free_port(postgres_port))
            postgres.start()
            servers.started.append(postgres)
            servers.database_url = postgres.url
            servers.embedded_database = True
    except BaseException:
        servers.stop()
        raise
    return servers


async def ensure_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server of `admin_url` if missing; return its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
