"""Registry import and look-ups: rows/s for 13,100 and 130,000 accounts, look-alikes/s.

Accounts come from services/triage/scripts/make_registry_sample.py (655 or 6,500 candidates with
20 accounts each). Each size gets a scratch database on the server PANTAU_DATABASE_URL names, or
on an embedded PostgreSQL started here, removed at the end. The baseline, in the same run, is
the obvious code: one INSERT ... ON CONFLICT per row (one transaction, prepared statement).

    .venv/bin/python bench/registries.py [--sizes 655,6500] [--queries 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import secrets
import tempfile
import time
from pathlib import Path
from types import ModuleType

import asyncpg

from pantau_devstack.servers import postgres_url
from pantau_devstack.stack import drop_database, ensure_database
from pantau_shared.postgres import create_pool, migrate
from pantau_triage.registries import HandleError, normalise_handle, parse_accounts, skeleton
from pantau_triage.registry_store import import_accounts, lookalikes, lookup

ROOT = Path(__file__).parents[1]


def generator() -> ModuleType:
    path = ROOT / "services/triage/scripts/make_registry_sample.py"
    spec = importlib.util.spec_from_file_location("make_registry_sample", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def row_by_row(pool: asyncpg.Pool, path: Path) -> float:
    rows = parse_accounts(path).rows
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        statement = await conn.prepare(
            "INSERT INTO registered_accounts (platform, handle, skeleton, participant, party,"
            " election_id, region_code, url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (platform, handle) DO UPDATE SET participant = EXCLUDED.participant"
        )
        for r in rows:
            await statement.fetch(
                r.platform,
                r.handle,
                skeleton(r.handle),
                r.participant,
                r.party,
                r.election_id,
                r.region_code,
                r.url,
            )
    return time.perf_counter() - started


def imitate(rng: random.Random, handle: str) -> str:
    tricks = [
        lambda h: h.replace(".", "_") + "_official",
        lambda h: "real." + h,
        lambda h: h.replace("o", "0", 1),
        lambda h: h.replace("i", "1", 1),
        lambda h: h[:3] + h[2] + h[3:],
        lambda h: h + "_id",
    ]
    return rng.choice(tricks)(handle)[:30]


async def measure(admin_url: str, candidates: int, queries: int, work: Path) -> None:
    sample = generator()
    regions = ("52.01",) if candidates <= 655 else sample.NTB_REGIONS
    records = sample.generate(candidates, 20, seed=2024, regions=regions)
    path = work / f"accounts_{len(records)}.csv"
    sample.write_csv(records, path)
    name = f"pantau_bench_reg_{secrets.token_hex(3)}"
    url = await ensure_database(admin_url, name)
    pool = await create_pool(url, service="bench", schema="triage", min_size=1, max_size=2)
    try:
        await migrate(pool, schema="triage", package="pantau_triage")
        trgm = await pool.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'pg_trgm'")
        version = await pool.fetchval("SHOW server_version")
        started = time.perf_counter()
        parse_accounts(path)
        parse_s = time.perf_counter() - started
        started = time.perf_counter()
        first = await import_accounts(pool, path)
        import_s = time.perf_counter() - started
        started = time.perf_counter()
        again = await import_accounts(pool, path)
        reimport_s = time.perf_counter() - started
        n = first.rows
        print(f"\n{n:,} accounts (PostgreSQL {version}, pg_trgm {trgm})")
        print(
            f"  import (parse+COPY+upsert)   {import_s:6.2f} s  {n / import_s:9,.0f} rows/s"
            f"   (parse alone {parse_s:.2f} s)"
        )
        print(
            f"  re-import, nothing changes   {reimport_s:6.2f} s  {n / reimport_s:9,.0f} rows/s"
            f"   unchanged={again.unchanged:,}"
        )

        rng = random.Random(1)
        registered = [
            (r["platform"], normalise_handle(r["platform"], r["handle"] or r["url"])) for r in records
        ]
        picks = [rng.choice(registered) for _ in range(queries)]
        async with pool.acquire() as conn:
            started = time.perf_counter()
            for platform, handle in picks:
                await lookup(conn, platform, handle)
            exact_s = time.perf_counter() - started
            taken = set(registered)
            fakes = []
            for platform, handle in picks:
                fake = imitate(rng, handle)
                try:
                    valid = normalise_handle(platform, fake) == fake
                except HandleError:
                    valid = False  # e.g. past X's 15 characters: not a handle anyone can take
                if valid and fake != handle and (platform, fake) not in taken:
                    fakes.append((platform, fake, handle))
            unrelated = [
                ("instagram", "".join(rng.choices("abcdefghijklmnoprstuwy", k=rng.randint(6, 14))))
                for _ in range(queries // 4)
            ]
            started = time.perf_counter()
            found = 0
            for platform, fake, _ in fakes:
                found += bool(await lookalikes(conn, platform, fake))
            lookalike_s = time.perf_counter() - started
            started = time.perf_counter()
            false_hits = 0
            for platform, handle in unrelated:
                false_hits += bool(await lookalikes(conn, platform, handle))
            unrelated_s = time.perf_counter() - started
        print(f"  exact lookups                {len(picks) / exact_s:9,.0f} /s  (one connection)")
        print(
            f"  look-alike lookups           {len(fakes) / lookalike_s:9,.0f} /s  "
            f"imitations flagged {found}/{len(fakes)}"
        )
        print(
            f"  look-alike, random handles   {len(unrelated) / unrelated_s:9,.0f} /s  "
            f"flagged {false_hits}/{len(unrelated)} (random letters can hit real names)"
        )

        await pool.execute("TRUNCATE registered_accounts")
        baseline_s = await row_by_row(pool, path)
        print(
            f"  baseline: row-by-row INSERT  {baseline_s:6.2f} s  {n / baseline_s:9,.0f} rows/s"
            f"   -> COPY+upsert is {baseline_s / import_s:.1f}x faster"
        )
    finally:
        await pool.close()
        await drop_database(admin_url, name)


async def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="pantau-bench-") as scratch,
        postgres_url(Path(scratch)) as admin_url,
    ):
        for candidates in (int(c) for c in args.sizes.split(",")):
            await measure(admin_url, candidates, args.queries, Path(scratch))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="655,6500", help="candidates per run (x20 accounts)")
    parser.add_argument("--queries", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
