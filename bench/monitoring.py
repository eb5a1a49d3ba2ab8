"""Monitoring at 13,100 and 130,000 watched accounts on the local platform servers.

For each size: the schedule filled from a watchlist (rows/s); the scheduler's own cost (leases
taken and given back per second with every account in the table, `FOR UPDATE SKIP LOCKED`);
accounts checked and posts collected per second by the collector (half YouTube, half X, one new
post each, against `pantau_devstack.platforms` served from another process) beside a baseline
in the same run: the same HTTP calls made bare with httpx, nothing parsed or stored; observed
posts triaged per second (classifier, rules with the registry, partitioned insert, reports
staged) beside the classifier alone on the same texts; the time to full coverage the quotas
allow (one YouTube key, one X token) and the credentials the 6-hour SLO needs; peak memory.

The collection and triage phases run on a sample of accounts (`--sample`): what grows with
the size is the schedule (the lease query over all rows), measured on every row.

    .venv/bin/python bench/monitoring.py [--sizes 13100,130000] [--sample 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from redis.asyncio import Redis

from pantau_devstack.platforms import PlatformsPeer, PlatformWorld
from pantau_devstack.servers import PostgresServer, RedisServer, free_port
from pantau_devstack.stack import drop_database, ensure_database
from pantau_intake.monitoring import platform_http, schedule
from pantau_intake.monitoring.budgets import DAY_PACIFIC, FIFTEEN_MINUTES, Budget
from pantau_intake.monitoring.collector import Collector
from pantau_intake.monitoring.coverage import forecast
from pantau_intake.monitoring.schedule import Listed
from pantau_intake.monitoring.x import XConnector
from pantau_intake.monitoring.youtube import YouTubeConnector
from pantau_intake.settings import MonitoredAgency
from pantau_shared.contract import Envelope, Platform, PostObserved, Subjects
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import create_pool, migrate
from pantau_triage.analysis import Analyser
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.classify import TriageClassifier
from pantau_triage.election_rules import ElectionRules
from pantau_triage.elections import Calendar
from pantau_triage.observed import ObservedPostsTriage
from pantau_triage.registries import parse_accounts
from pantau_triage.registry_store import import_accounts

AGENCY = "bawaslu-5201"
REGION = "52.01"
TEXTS = [
    "Terima kasih warga Gerung atas sambutan hangatnya",
    "Ayo coblos nomor 2 untuk Lombok Barat yang lebih baik",
    "Besok pagi serangan fajar, tiap rumah dapat amplop 100 ribu",
    "Selamat hari Jumat, semoga kita semua sehat",
]


def handles(n: int) -> list[tuple[str, str]]:
    return [("youtube" if i % 2 == 0 else "x", f"cal{i:06d}") for i in range(n)]


def serve(port: int, n: int, ready: multiprocessing.synchronize.Event) -> None:
    """The platform servers with `n` accounts, one recent post each, in this child process."""

    async def main() -> None:
        world = PlatformWorld()
        world.youtube_quota.limit = 10**9  # the bench measures throughput; quotas are forecast
        world.x_quota.limit = 10**9
        now = datetime.now(UTC)
        for i, (platform, handle) in enumerate(handles(n)):
            account = world.add(platform, handle)
            world.post(account, TEXTS[i % len(TEXTS)], at=now - timedelta(hours=1), views=i)
        async with PlatformsPeer(world, port=port):
            ready.set()
            await asyncio.Event().wait()

    asyncio.run(main())


async def bare_fetches(base_url: str, accounts: list[tuple[str, str]], concurrency: int) -> float:
    """The baseline: the HTTP calls a first check makes, bare (no parsing, no storage)."""
    queue = list(accounts)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def worker() -> None:
            while queue:
                platform, handle = queue.pop()
                if platform == "youtube":
                    channel = (
                        await client.get(
                            "/youtube/v3/channels",
                            params={"forHandle": "@" + handle, "key": "youtube-local-key"},
                        )
                    ).json()
                    uploads = channel["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
                    items = (
                        await client.get(
                            "/youtube/v3/playlistItems",
                            params={"playlistId": uploads, "maxResults": "50", "key": "youtube-local-key"},
                        )
                    ).json()
                    ids = ",".join(i["contentDetails"]["videoId"] for i in items["items"])
                    await client.get("/youtube/v3/videos", params={"id": ids, "key": "youtube-local-key"})
                else:
                    auth = {"Authorization": "Bearer x-local-bearer"}
                    user = (await client.get(f"/2/users/by/username/{handle}", headers=auth)).json()
                    await client.get(f"/2/users/{user['data']['id']}/tweets", headers=auth)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(admin_url: str, redis_url: str, n: int, sample: int, batch: int) -> None:
    name = f"pantau_bench_mon_{secrets.token_hex(3)}"
    url = await ensure_database(admin_url, name)
    intake = await create_pool(url, service="bench", schema="intake", min_size=2, max_size=12)
    triage = await create_pool(url, service="bench", schema="triage", min_size=2, max_size=4)
    redis = Redis.from_url(redis_url)
    spawn = multiprocessing.get_context("spawn")  # a fork would inherit this running event loop
    port, ready = free_port(None), spawn.Event()
    server = spawn.Process(target=serve, args=(port, n, ready), daemon=True)
    server.start()
    try:
        await migrate(intake, schema="intake", package="pantau_intake")
        await migrate(triage, schema="triage", package="pantau_triage")
        rows = ["participant,party,election_id,region_code,platform,handle,url"]
        rows += [f"Calon {h},Partai,pemilu-2024,{REGION},{p},{h}," for p, h in handles(n)]
        await import_accounts(triage, parse_accounts(rows).rows)
        if not ready.wait(600):
            raise TimeoutError("platform servers did not start")
        base = f"http://127.0.0.1:{port}"
        print(f"\n{n:,} watched accounts (half YouTube, half X), sample {sample:,}, batch {batch}")

        listed = [Listed(Platform(p), h, "participant", REGION) for p, h in handles(n)]
        now = datetime.now(UTC)
        started = time.perf_counter()
        async with intake.acquire() as conn, conn.transaction():
            await schedule.sync(conn, AGENCY, listed, now)
        sync_s = time.perf_counter() - started
        print(f"  watchlist sync into the schedule  {sync_s:7.2f} s  {n / sync_s:9,.0f} accounts/s")

        started, leased = time.perf_counter(), 0
        async with intake.acquire() as conn:
            while leased < sample:
                leases = await schedule.lease_due(conn, now=now, hold=timedelta(minutes=5), limit=batch)
                for lease in leases:
                    await schedule.release(conn, lease, due_at=now)
                leased += len(leases)
        lease_s = time.perf_counter() - started
        print(
            f"  scheduler: lease + give back      {leased / lease_s:9,.0f} accounts/s  (over all {n:,} rows)"
        )

        outbox = Outbox(Subjects("bench"), "/bench/intake")
        budget = lambda window: Budget(redis, f"bench:{name}:{window}", 10**9, window)  # noqa: E731
        async with (
            platform_http.client(base) as yt_client,
            platform_http.client(base, headers={"Authorization": "Bearer x-local-bearer"}) as x_client,
        ):
            connectors = {
                Platform.YOUTUBE: YouTubeConnector(yt_client, "youtube-local-key", budget(DAY_PACIFIC)),
                Platform.X: XConnector(x_client, budget(FIFTEEN_MINUTES)),
            }
            collector = Collector(
                intake,
                outbox,
                lambda agency, platform: connectors.get(platform),
                interval=lambda lease: timedelta(hours=6),
                batch=batch,
            )
            started, checked, posts = time.perf_counter(), 0, 0
            while checked < sample:
                outcomes = await collector.run_once()
                checked += len(outcomes)
                posts += sum(o.observed for o in outcomes)
            collect_s = time.perf_counter() - started
        bare_s = await bare_fetches(base, handles(n)[-sample:], batch)
        print(
            f"  collected (fetch+parse+store)     {checked / collect_s:9,.0f} accounts/s"
            f"  {posts / collect_s:9,.0f} posts/s"
        )
        print(
            f"  baseline: same calls, bare httpx  {sample / bare_s:9,.0f} accounts/s"
            f"   -> collector at {bare_s / collect_s * 100:.0f}% of the bare HTTP rate"
        )

        bodies = await intake.fetch(
            "SELECT body FROM outbox WHERE subject LIKE '%post.observed' LIMIT $1", sample
        )
        envelopes = [
            Envelope(
                data=PostObserved.model_validate_json(bytes(r["body"])), source="/bench", agency_id=AGENCY
            )
            for r in bodies
        ]
        classifier, claims = TriageClassifier.packaged(), ClaimRegistry()
        calendar = Calendar.load()
        analyser = Analyser(classifier, claims)
        observed = ObservedPostsTriage(
            triage,
            Outbox(Subjects("bench"), "/bench/triage"),
            analyser,
            claims,
            ElectionRules(calendar),
            calendar,
            retention_days=400,
        )
        await observed.partitions.maintain()
        started = time.perf_counter()
        for start in range(0, len(envelopes), 100):
            await observed.posts_observed(envelopes[start : start + 100])
        triage_s = time.perf_counter() - started
        findings = await triage.fetchval("SELECT count(*) FROM observed_posts WHERE finding")
        texts = [e.data.text or "" for e in envelopes]
        started = time.perf_counter()
        for start in range(0, len(texts), 100):
            analyser.analyse(texts[start : start + 100])
        classify_s = time.perf_counter() - started
        print(
            f"  triaged (classify+rules+store)    {len(envelopes) / triage_s:9,.0f} posts/s"
            f"   findings {findings:,}/{len(envelopes):,}"
        )
        print(f"  baseline: classifier alone        {len(texts) / classify_s:9,.0f} posts/s")
        end_to_end = 1 / (collect_s / max(posts, 1) + triage_s / max(len(envelopes), 1))
        print(f"  end to end, one process each      {end_to_end:9,.0f} posts/s (collect then triage)")

        agency = MonitoredAgency(youtube_api_key="k", x_bearer_token="t")
        for platform in (Platform.YOUTUBE, Platform.X):
            half = n // 2
            quota = forecast(platform, half, 0, timedelta(hours=6), 3.0, agency)
            # A first check costs more (resolving the handle, view counts): 3 YouTube units, 2 X calls.
            first = {Platform.YOUTUBE: 3, Platform.X: 2}[platform]
            full_h = half * first / quota.units_per_day_available * 24
            print(
                f"  {platform.value:8s} {half:,} accounts: first full coverage {full_h:6.1f} h with one"
                f" credential; 6 h SLO needs {quota.credentials_needed} ({quota.summary})"
            )
        cpu_bound_h = n / (checked / collect_s) / 3600
        print(f"  collector CPU alone would cover all {n:,} in {cpu_bound_h:.2f} h at the measured rate")
        print(f"  peak memory of this process       {rss_mb():9,.0f} MiB")
    finally:
        server.terminate()
        server.join(10)
        await redis.aclose()
        await intake.close()
        await triage.close()
        await drop_database(admin_url, name)


async def main(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("PANTAU_DATABASE_URL", "")
    redis_url = os.environ.get("PANTAU_REDIS_URL", "")
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as scratch:
        started = []
        if not admin_url:
            postgres = PostgresServer(Path(scratch) / "postgres", free_port(None))
            postgres.start()
            started.append(postgres)
            admin_url = postgres.url
        if not redis_url:
            redis = RedisServer(Path(scratch) / "redis", free_port(None))
            redis.start()
            started.append(redis)
            redis_url = redis.url
        try:
            for n in (int(s) for s in args.sizes.split(",")):
                await measure(admin_url, redis_url, n, min(args.sample, n), args.batch)
        finally:
            for server in reversed(started):
                server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="13100,130000")
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
