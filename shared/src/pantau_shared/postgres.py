"""PostgreSQL pools and migrations, one schema per service.

Each service owns a schema and ships its migrations as numbered `.sql` files in its package; they
run at start-up under an advisory lock, so several instances starting at once apply them once.
"""

from importlib import resources

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .outbox import OUTBOX_DDL

# What repository functions take: a connection acquired from a pool, or a plain one.
Connection = asyncpg.Connection | PoolConnectionProxy


async def create_pool(
    dsn: str, *, service: str, schema: str, min_size: int = 2, max_size: int = 10
) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"application_name": f"pantau-{service}", "search_path": schema},
        reset=_keep_session,
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query (a round trip on every release): the services
    change no session state, and an open transaction is still rolled back by the pool."""


async def migrate(pool: asyncpg.Pool, *, schema: str, package: str) -> list[str]:
    """Apply the package's `migrations/*.sql` not yet applied; returns the names applied now."""
    scripts = sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in resources.files(package).joinpath("migrations").iterdir()
        if entry.name.endswith(".sql")
    )
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        lock_key = f"pantau-migrate-{schema}"
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock_key)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch(f'SELECT name FROM "{schema}".schema_migrations')}
            for name, sql in [("000_outbox.sql", OUTBOX_DDL), *scripts]:
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                    await conn.execute(sql)
                    await conn.execute(f'INSERT INTO "{schema}".schema_migrations (name) VALUES ($1)', name)
                applied_now.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock_key)
    return applied_now
