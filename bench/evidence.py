"""Preserving reported pages: items a second, bytes and memory, through intake's whole worker.

    .venv/bin/python bench/evidence.py [--pages 40] [--no-screenshots]

Measured: `--pages` reports, each linking one page of the local posts site (an HTML page with a
photo), preserved by intake's evidence worker as it runs in production: jobs leased from
PostgreSQL, the page fetched by the safe fetcher, the screenshot in headless Chromium (sandboxed:
sub-resources through the same fetcher), the photo, the WARC, the object store, the items and
custody entries, and an RFC 3161 timestamp on each item from a local TSA. Baseline in the same
run: the bare safe fetcher fetching each page and its photo and putting both bodies in the same
kind of object store, with the same concurrency. Peak memory is this process's resident set
(Chromium's own processes come on top, and are reported apart).
"""

import argparse
import asyncio
import resource
import secrets
import subprocess
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import asyncpg

from pantau_devstack.posts_site import PostsSite
from pantau_devstack.servers import postgres_url
from pantau_devstack.stack import drop_database, ensure_database
from pantau_devstack.tsa import LocalTsa
from pantau_intake.evidence import Evidence
from pantau_intake.evidence import jobs as evidence_jobs
from pantau_intake.settings import IntakeSettings
from pantau_shared.contract import Subjects
from pantau_shared.fetching import FetchLimits, SafeFetcher
from pantau_shared.objectstore import FilesystemStore, ObjectStoreSettings
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import create_pool, migrate

CONCURRENCY = 4  # the worker's default batch


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def chromium_rss_mib() -> float:
    """Resident memory of the Chromium processes now running (its renderers and GPU process)."""
    listing = subprocess.run(["ps", "-eo", "rss,comm"], capture_output=True, text=True, check=False).stdout
    return sum(int(line.split()[0]) for line in listing.splitlines()[1:] if "chrom" in line) / 1024


async def baseline(urls: list[str], root: Path) -> tuple[float, int, int]:
    fetcher = SafeFetcher(FetchLimits.with_allowlist(["127.0.0.1/32"]))
    store = FilesystemStore(root)
    stored, count = 0, 0
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(url: str) -> None:
        nonlocal stored, count
        async with slots:
            page = (await fetcher.fetch(url)).final
            photo = (await fetcher.fetch(url.replace("/posts/", "/media/") + ".png")).final
            for body in (page.body, photo.body):
                stored += (await store.put(body)).size
                count += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(url) for url in urls))
    elapsed = time.perf_counter() - started
    await fetcher.aclose()
    return elapsed, count, stored


async def measure(admin_url: str, args: argparse.Namespace, scratch: Path) -> None:
    name = "pantau_bench_evidence_" + secrets.token_hex(3)
    url = await ensure_database(admin_url, name)
    pool = await create_pool(url, service="bench", schema="intake", min_size=2, max_size=8)
    try:
        await migrate(pool, schema="intake", package="pantau_intake")
        async with PostsSite() as site, LocalTsa(port=0) as tsa:
            urls = [
                site.add(f"b{n}", f"Unggahan kampanye nomor {n}: ayo coblos nomor 3")
                for n in range(args.pages)
            ]
            base_s, base_items, base_bytes = await baseline(urls, scratch / "baseline")
            settings = IntakeSettings(
                object_store=ObjectStoreSettings(url=f"file://{scratch / 'evidence'}"),
                fetch_test_allowlist=["127.0.0.1/32"],
                evidence_screenshots=not args.no_screenshots,
                evidence_tsa_url=tsa.url,
                evidence_tsa_roots=[tsa.root_pem.decode()],
            )
            evidence = Evidence.build(pool, Outbox(Subjects("bench"), "/bench"), settings)
            try:
                # One warm-up page: Chromium's start is paid once per process, not per page.
                warm = site.add("warm", "pemanasan")
                await run(evidence, pool, [warm])
                chromium = chromium_rss_mib()
                started = time.perf_counter()
                items, stored = await run(evidence, pool, urls)
                full_s = time.perf_counter() - started
            finally:
                await evidence.aclose()
    finally:
        await pool.close()
        await drop_database(admin_url, name)
    print(
        f"pages: {args.pages}, screenshots {'off' if args.no_screenshots else 'on'},"
        f" concurrency {CONCURRENCY}"
    )
    print(
        f"baseline (safe fetcher + store):  {base_items / base_s:7.1f} items/s"
        f"  {args.pages / base_s:7.1f} pages/s"
        f"  {base_bytes / base_s / 2**20:6.2f} MiB/s  ({base_items} items, {base_bytes:,} bytes)"
    )
    print(
        f"preserved (whole worker):         {items / full_s:7.1f} items/s"
        f"  {args.pages / full_s:7.1f} pages/s"
        f"  {stored / full_s / 2**20:6.2f} MiB/s  ({items} items, {stored:,} bytes, each stamped)"
    )
    print(
        f"per page: baseline {1000 * base_s / args.pages:.0f} ms,"
        f" preserved {1000 * full_s / args.pages:.0f} ms"
    )
    print(f"peak memory: this process {peak_rss_mib():.0f} MiB; Chromium's processes {chromium:.0f} MiB")


async def run(evidence: Evidence, pool: asyncpg.Pool, urls: list[str]) -> tuple[int, int]:
    reports = [uuid4() for _ in urls]
    async with pool.acquire() as conn:
        await evidence_jobs.enqueue_many(
            conn,
            [
                evidence_jobs.NewJob("bawaslu-3375", report_id, None, link)
                for report_id, link in zip(reports, urls, strict=True)
            ],
        )
    while await evidence.preserver.run_once():
        pass
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes,"
            " count(*) FILTER (WHERE timestamp_state = 'stamped') AS stamped"
            " FROM evidence_items WHERE report_id = ANY($1::uuid[]) AND status = 'preserved'",
            reports,
        )
    assert row is not None and row["n"] == row["stamped"], "every preserved item is stamped"
    return int(row["n"]), int(row["bytes"])


async def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="pantau-bench-") as scratch,
        postgres_url(Path(scratch)) as admin_url,
    ):
        await measure(admin_url, args, Path(scratch))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--no-screenshots", action="store_true")
    asyncio.run(main(parser.parse_args()))
