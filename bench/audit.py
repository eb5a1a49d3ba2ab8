"""The audit log: appends/s with N concurrent requests on 1 and 4 gateway instances (pools), and
the time to verify a chain of 100,000 entries.

The baseline, in the same run, is the obvious code: one transaction per append (lock the head,
insert, update the head, commit). Scratch database on the server PANTAU_DATABASE_URL names, or
on an embedded PostgreSQL started here, removed at the end.

    .venv/bin/python bench/audit.py [--appends 4000] [--concurrency 64] [--verify 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

import asyncpg

from pantau_devstack.servers import postgres_url
from pantau_devstack.stack import drop_database, ensure_database
from pantau_gateway.audit import AuditLog, Event, verify
from pantau_shared.postgres import create_pool, migrate


def event(agency: str, i: int) -> Event:
    return Event(
        agency,
        "key:bench",
        "POST /v1/cases/{case_id}/transitions",
        200,
        "192.0.2.1",
        {"path": {"case_id": str(i)}},
    )


async def one_per_transaction(log: AuditLog, e: Event) -> int:
    """The baseline: the same write, never grouped (a fresh batch of one each time)."""
    return (await log._write([e]))[0]


async def run(pools: list[asyncpg.Pool], appends: int, concurrency: int, grouped: bool) -> float:
    agency = "bench-" + secrets.token_hex(3)
    logs = [AuditLog(pool) for pool in pools]
    lock = asyncio.Lock()  # the baseline's writers still serialise per instance on their head row
    counter = iter(range(appends))

    async def worker(log: AuditLog) -> None:
        for i in counter:
            if grouped:
                await log.append(event(agency, i))
            else:
                async with lock:
                    await one_per_transaction(log, event(agency, i))

    started = time.perf_counter()
    await asyncio.gather(*(worker(logs[n % len(logs)]) for n in range(concurrency)))
    took = time.perf_counter() - started
    verdict = await verify(pools[0], agency)
    assert verdict.intact and verdict.entries == appends, verdict.problem
    return appends / took


async def measure(admin_url: str, args: argparse.Namespace) -> None:
    name = "pantau_bench_audit_" + secrets.token_hex(3)
    url = await ensure_database(admin_url, name)
    pools = [
        await create_pool(url, service="bench", schema="gateway", min_size=2, max_size=8) for _ in range(4)
    ]
    try:
        await migrate(pools[0], schema="gateway", package="pantau_gateway")
        print(f"audit appends, {args.appends} each run, {args.concurrency} concurrent requests:")
        for instances in (1, 4):
            chosen = pools[:instances]
            baseline = await run(chosen, args.appends, args.concurrency, grouped=False)
            grouped = await run(chosen, args.appends, args.concurrency, grouped=True)
            print(
                f"  {instances} instance(s): group commit {grouped:,.0f} appends/s;"
                f" one transaction each (baseline) {baseline:,.0f}/s -> {grouped / baseline:.1f}x"
            )
        agency = "bench-verify"
        log = AuditLog(pools[0])
        filled = time.perf_counter()
        for start in range(0, args.verify, 1_000):
            await asyncio.gather(*(log.append(event(agency, i)) for i in range(start, start + 1_000)))
        filled_s = time.perf_counter() - filled
        started = time.perf_counter()
        verdict = await verify(pools[0], agency)
        took = time.perf_counter() - started
        assert verdict.intact
        print(
            f"verify-audit: {verdict.entries:,} entries in {took:.2f}s"
            f" ({verdict.entries / took:,.0f} entries/s);"
            f" appending them in groups of 1,000 took {filled_s:.2f}s"
        )
    finally:
        for pool in pools:
            await pool.close()
        await drop_database(admin_url, name)


async def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="pantau-bench-") as scratch,
        postgres_url(Path(scratch)) as admin_url,
    ):
        await measure(admin_url, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--verify", type=int, default=100_000)
    asyncio.run(main(parser.parse_args()))
