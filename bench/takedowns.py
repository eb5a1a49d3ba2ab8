"""Takedown re-checks: how many open takedowns one triage replica re-checks per second.

For each size N: N cases with one open takedown each, against `pantau_devstack.posts_site` served
from another process (a quarter of the posts answer 410, a quarter the "content unavailable"
page, the rest are live). The figure is the re-checker's own loop (`Rechecker.sweep`: claim a
leased batch with `FOR UPDATE SKIP LOCKED`, commit, fetch through the SSRF-safe fetcher, record
each answer in its own transaction, close the cases whose post is gone, stage the events),
beside a baseline in the same run: the same N URLs fetched bare with the same `SafeFetcher`,
concurrency and limits, nothing judged or stored. Then two replicas sharing the same N.

    .venv/bin/python bench/takedowns.py [--sizes 500,2000] [--batch 50] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from pantau_devstack.posts_site import PostsSite
from pantau_devstack.servers import PostgresServer, free_port
from pantau_devstack.stack import drop_database, ensure_database
from pantau_shared.contract import CaseState, Platform, PriorityLevel, Subjects, new_id
from pantau_shared.contract.takedowns import LegalBasis, TakedownChannel, TakedownRequestIn
from pantau_shared.fetching import SafeFetcher
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import create_pool, migrate
from pantau_triage import repository as cases
from pantau_triage import takedowns_repository as store
from pantau_triage.settings import TriageSettings
from pantau_triage.takedowns_recheck import Rechecker
from pantau_triage.takedowns_service import takedown_loop

AGENCY = "komdigi"
HOST = "posts.pantau.test"


def serve_site(n: int, port: int, ready: Any) -> None:
    async def run() -> None:
        async with PostsSite(port=port) as site:
            for i in range(n):
                site.add(str(i), f"Unggahan {i}")
                if i % 4 == 1:
                    site.remove_after(str(i), 0, "410")
                elif i % 4 == 2:
                    site.remove_after(str(i), 0, "unavailable")
            ready.set()
            await asyncio.Event().wait()

    asyncio.run(run())


async def seed(pool: asyncpg.Pool, urls: list[str]) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        for url in urls:
            case = cases.Case(
                case_id=new_id(),
                agency_id=AGENCY,
                state=CaseState.TAKEDOWN_REQUESTED,
                opened_at=now,
                updated_at=now,
                region_code="33.75",
                platform=Platform.FACEBOOK,
                canonical_url=None,
                content_sha256=None,
                summary="bench",
                categories=(),
                priority=50,
                priority_level=PriorityLevel.MEDIUM,
                priority_reasons=(),
                report_count=1,
                reporter_count=1,
                routed_to=(),
                claims=(),
                resolution=None,
                priority_factors=(),
                reach=None,
            )
            await cases.insert_case(conn, case, None)
            asked = TakedownRequestIn(
                url=url,
                platform=Platform.FACEBOOK,
                legal_basis=LegalBasis.UU_ITE_PASAL_28,
                channel=TakedownChannel.PORTAL,
                actor="bench",
            )
            takedown = store.Takedown.new(case.case_id, AGENCY, asked, now)
            await store.insert(conn, takedown, new_id(), None, None)


async def rechecks(replicas: list[Rechecker], n: int) -> float:
    """Seconds until the replicas have made n re-checks between them (one round each)."""
    started, done = time.perf_counter(), 0
    while done < n:
        rounds = await asyncio.gather(*(r.sweep() for r in replicas))
        done += sum(len(r) for r in rounds)
    return time.perf_counter() - started


async def bare(fetcher: SafeFetcher, urls: list[str], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with slots:
            await fetcher.fetch(url)

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in urls))
    return time.perf_counter() - started


async def measure(admin_url: str, n: int, batch: int, concurrency: int) -> None:
    port = free_port(None)
    ready = multiprocessing.Event()
    child = multiprocessing.Process(target=serve_site, args=(n, port, ready), daemon=True)
    child.start()
    ready.wait(30)
    name = f"pantau_bench_takedowns_{secrets.token_hex(3)}"
    url = await ensure_database(admin_url, name)
    pool = await create_pool(url, service="bench", schema="triage", min_size=2, max_size=12)
    settings = TriageSettings(
        takedown_batch=batch,
        takedown_concurrency=concurrency,
        takedown_fetch_test_allowlist=("127.0.0.1/32",),
        takedown_fetch_test_hosts={HOST: "127.0.0.1"},
    )
    outbox = Outbox(Subjects("bench"), "/pantau/bench")
    try:
        await migrate(pool, schema="triage", package="pantau_triage")
        urls = [f"http://{HOST}:{port}/posts/{i}" for i in range(n)]
        one = takedown_loop(pool, outbox, settings)
        baseline = await bare(one.fetcher, urls, concurrency)  # the fetcher the loop uses
        await seed(pool, urls)
        single = await rechecks([one], n)
        removed = await pool.fetchval("SELECT count(*) FROM takedowns WHERE status = 'removed'")
        await pool.execute(
            "UPDATE takedowns SET status = 'requested', removed_at = NULL, next_check_at = now()"
        )
        two = takedown_loop(pool, outbox, settings)
        shared = await rechecks([one, two], n)
        # The baseline again after the loop: the machine's load moves (other runs share it).
        baseline = (baseline + await bare(one.fetcher, urls, concurrency)) / 2
        print(
            f"N={n:>6}: re-checks {n / single:8.1f}/s on one replica ({removed} seen removed, "
            f"{n - removed} live), {n / shared:8.1f}/s by two replicas in one process sharing the rows"
            f" | bare fetches {n / baseline:8.1f}/s (mean of before and after)"
            f" | loop cost {1000 * (single - baseline) / n:.2f} ms per re-check over the fetch"
        )
        await one.close()
        await two.close()
    finally:
        await pool.close()
        await drop_database(admin_url, name)
        child.terminate()


async def main(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("PANTAU_DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as scratch:
        postgres = None
        if not admin_url:
            postgres = PostgresServer(Path(scratch) / "postgres", free_port(None))
            postgres.start()
            admin_url = postgres.url
        try:
            print(f"batch {args.batch}, {args.concurrency} fetches at a time, site in another process")
            for n in (int(s) for s in args.sizes.split(",")):
                await measure(admin_url, n, args.batch, args.concurrency)
        finally:
            if postgres is not None:
                postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
