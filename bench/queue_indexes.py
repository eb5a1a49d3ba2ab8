"""The queue's SQL on 1,000,000 cases: do the common queries stay index scans?

Loads generated cases with COPY into a scratch database (triage's schema and migrations, indexes
built after the load as a restore would), then runs the statements `case.list` really sends
(`pantau_triage.queue.page_sql`) under `EXPLAIN (ANALYZE, BUFFERS)`: the plan's node types, the
shared buffers touched and the time. Baseline in the same run: the same statement with index and
bitmap scans switched off (what the table costs without the indexes). Each query runs once to warm
the cache first; the figure is the best of three runs. A query whose indexed plan reads the table
with a sequential scan is marked SEQ and the run exits 1.

The data: one large agency (60% of the cases, a national Bawaslu), 40 regency agencies sharing
the rest, a fifth of all cases routed to Komdigi, 85% closed; priorities, regions, categories,
assignees and summary words drawn at random with a fixed seed.

    python bench/queue_indexes.py [--cases 1000000] [--keep]

(Not `bench/queue.py`: a script's folder comes first on `sys.path`, and that name would shadow
the standard library's `queue` for every benchmark here.)
"""

import argparse
import asyncio
import json
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pantau_devstack.stack import drop_database, ensure_database, start_servers
from pantau_shared import paging
from pantau_shared.contract.queue import CaseListQuery
from pantau_shared.postgres import migrate
from pantau_triage.queue import page_sql

BIG = "bawaslu-ri"
ROUTED = "komdigi"
SMALL = [f"bawaslu-{33_00 + i}" for i in range(1, 41)]
STATES = ["new", "verifying", "follow_up", "referred", "takedown_requested"]
OPEN = {"state": STATES}
CATEGORIES = ["hoaks", "ujaran_kebencian", "sara", "hasutan", "politik_uang", "netralitas_asn", "penghinaan"]
REGIONS = [f"{p:02d}.{r:02d}" for p in (11, 12, 31, 32, 33, 35, 52, 73) for r in range(1, 30)]
WORDS = (
    "surat suara tercoblos amplop serangan fajar kepala desa kampanye masa tenang paslon hoaks kotak "
    "suara petugas kpps bawaslu komdigi video beredar grup whatsapp facebook akun palsu ujaran "
    "kebencian agama suku warga kecamatan kelurahan pemilu pilkada calon bupati gubernur caleg"
).split()
NOW = datetime(2024, 2, 14, 12, 0, tzinfo=UTC)
COLUMNS = (
    "case_id",
    "agency_id",
    "state",
    "opened_at",
    "updated_at",
    "region_code",
    "platform",
    "summary",
    "categories",
    "priority",
    "priority_level",
    "report_count",
    "reporter_count",
    "routed_to",
    "assignee",
    "source",
    "resolution",
)


def rows(count: int, seed: int = 12) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    for _ in range(count):
        agency = BIG if rng.random() < 0.6 else rng.choice(SMALL)
        closed = rng.random() < 0.85
        opened = NOW - timedelta(seconds=rng.randrange(120 * 86_400))
        priority = int(rng.triangular(0, 100, 30))
        yield (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            agency,
            "closed" if closed else rng.choice(STATES),
            opened,
            opened + timedelta(seconds=rng.randrange(3 * 86_400)),
            rng.choice(REGIONS),
            rng.choice(("facebook", "x", "tiktok", "instagram", "whatsapp")),
            " ".join(rng.choices(WORDS, k=12)),
            json.dumps([{"category": rng.choice(CATEGORIES), "score": 0.8, "reason": "bench"}]),
            priority,
            "high" if priority >= 60 else "medium" if priority >= 30 else "low",
            1,
            1,
            [ROUTED] if rng.random() < 0.2 else [],
            f"petugas-{rng.randrange(200)}" if rng.random() < 0.3 else None,
            "monitoring" if rng.random() < 0.1 else "report",
            "duplicate" if closed else None,
        )


async def load(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases' AND schemaname = 'triage'"
            " AND indexname <> 'cases_pkey'"
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX triage.{index['indexname']}")
        started = time.perf_counter()
        await conn.copy_records_to_table("cases", records=rows(count), columns=COLUMNS, schema_name="triage")
        loaded = time.perf_counter()
        print(f"COPY {count:,} cases: {loaded - started:.1f} s ({count / (loaded - started):,.0f} rows/s)")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE triage.cases")
        print(f"{len(indexes) + 1} indexes built and analysed: {time.perf_counter() - loaded:.1f} s")


def nodes(plan: dict[str, Any]) -> list[str]:
    name = plan["Node Type"]
    if "Index Name" in plan:
        name += f" {plan['Index Name']}"
    elif "Relation Name" in plan:
        name += f" {plan['Relation Name']}"
    return [name] + [n for child in plan.get("Plans", []) for n in nodes(child)]


def buffers(plan: dict[str, Any]) -> int:
    return int(plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0))


async def explain(conn: asyncpg.Connection, sql: str, args: list[Any]) -> tuple[float, int, list[str]]:
    best: tuple[float, int, list[str]] | None = None
    for _ in range(4):  # the first warms the cache
        found = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args)
        plan = json.loads(found)[0]
        measured = (plan["Execution Time"], buffers(plan["Plan"]), nodes(plan["Plan"]))
        best = measured if best is None or measured[0] < best[0] else best
    assert best is not None
    return best


def queries(deep_cursor: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("open queue, priority", BIG, OPEN),
        ("open queue, oldest", BIG, {**OPEN, "sort": "oldest"}),
        ("all states, newest", BIG, {"sort": "newest"}),
        (
            "last change, 24 h",
            BIG,
            {"sort": "updated", "updated_from": (NOW - timedelta(days=1)).isoformat()},
        ),
        ("region 33.75, open", BIG, {**OPEN, "region": "33.75"}),
        ("province 33, all", BIG, {"region": "33"}),
        ("category hoaks, open", BIG, {**OPEN, "category": ["hoaks"]}),
        ("min priority 80, open", BIG, {**OPEN, "min_priority": 80}),
        ("assignee, open", BIG, {**OPEN, "assignee": "petugas-7"}),
        ("unassigned, open", BIG, {**OPEN, "unassigned": True}),
        ("monitoring, open", BIG, {**OPEN, "source": "monitoring"}),
        ("text 'serangan fajar'", BIG, {"text": "serangan fajar"}),
        ("page far down (cursor)", BIG, {**OPEN, "cursor": deep_cursor}),
        ("regency, owned + routed", SMALL[0], OPEN),
        ("routed to Komdigi", ROUTED, {**OPEN, "scope": "routed"}),
        ("opened in a week, open", SMALL[1], {**OPEN, "opened_from": (NOW - timedelta(days=7)).isoformat()}),
    ]


async def run(pool: asyncpg.Pool) -> bool:
    deep = paging.encode("priority", (15, uuid.UUID(int=0)))
    print(
        f"\n{'query':28} {'indexed ms':>10} {'buffers':>8} {'no index ms':>11} {'buffers':>8}  plan (indexed)"
    )
    ok = True
    async with pool.acquire() as conn:
        for label, agency, params in queries(deep):
            sql, args = page_sql(agency, CaseListQuery.model_validate({"limit": 50, **params}))
            indexed_ms, indexed_buffers, plan = await explain(conn, sql, args)
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
                await conn.execute("SET LOCAL enable_indexonlyscan = off")
                seq_ms, seq_buffers, _ = await explain(conn, sql, args)
            seq = any(node.startswith("Seq Scan") for node in plan)
            ok = ok and not seq
            shown = ", ".join(dict.fromkeys(n for n in plan if "Scan" in n))
            mark = " SEQ" if seq else ""
            figures = f"{indexed_ms:10.2f} {indexed_buffers:8} {seq_ms:11.1f} {seq_buffers:8}"
            print(f"{label:28} {figures}  {shown}{mark}")
        # asyncpg prepares statements; after five runs PostgreSQL may keep a generic plan.
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            for label, agency, params in queries(deep)[:3]:
                sql, args = page_sql(agency, CaseListQuery.model_validate({"limit": 50, **params}))
                statement = await conn.prepare(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
                plan = json.loads(await statement.fetchval(*args))[0]
                kinds = ", ".join(dict.fromkeys(n for n in nodes(plan["Plan"]) if "Scan" in n))
                print(f"generic plan: {label:26} {plan['Execution Time']:8.2f} ms  {kinds}")
    return ok


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    servers = start_servers(home, with_nats=False)
    database = f"bench_queue_{secrets.token_hex(4)}"
    try:
        url = await ensure_database(servers.database_url, database)
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=2, server_settings={"search_path": "triage"}
        )
        try:
            await migrate(pool, schema="triage", package="pantau_triage")
            await load(pool, args.cases)
            size = await pool.fetchval("SELECT pg_size_pretty(pg_total_relation_size('triage.cases'))")
            print(f"cases table with its indexes: {size}")
            ok = await run(pool)
        finally:
            await pool.close()
        if not args.keep:
            await drop_database(servers.database_url, database)
    finally:
        servers.stop()
    print("PASS: every query is an index scan" if ok else "FAIL: a query read the table sequentially")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
