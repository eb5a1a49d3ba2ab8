"""Case exports stay in constant memory, however many cases they hold.

Loads generated cases (each with a report in intake's table, as the export reads both) with COPY
into a scratch database, serves triage's `case.export` and intake's `report.list` over a real
NATS server, and runs the gateway's own export path (`pantau_gateway.exports`: pages over
request/reply, each written out before the next is asked for) for CSV and NDJSON at two sizes.
Measured: the Python heap's peak during the export (tracemalloc), the bytes written, and the
cases a second of an untraced run.
Baseline in the same run: the same rows gathered in memory first and written at once, which is
what an export that is not streamed does.

    python bench/exports.py [--cases 100000]
"""

import argparse
import asyncio
import json
import random
import secrets
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pantau_devstack.stack import drop_database, ensure_database, start_servers
from pantau_gateway import exports
from pantau_intake.listing import ReportListing
from pantau_shared.bus import Answer, RpcClient
from pantau_shared.bus.rpc import serve
from pantau_shared.contract import Subjects
from pantau_shared.contract.queue import CASE_EXPORT, REPORT_LIST
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import migrate
from pantau_triage.casework import CaseWork
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.queue import CaseQueue

AGENCY = "bawaslu-3375"
NOW = datetime(2024, 2, 14, 12, 0, tzinfo=UTC)
CASE_COLUMNS = (
    *("case_id", "agency_id", "state", "opened_at", "updated_at", "region_code", "platform", "summary"),
    *("categories", "priority", "priority_level", "report_count", "reporter_count", "canonical_url"),
    "content_sha256",
)
REPORT_COLUMNS = (
    *("report_id", "agency_id", "channel", "submitted_at", "received_at", "platform", "text", "url"),
    *("author_handle", "raw_sha256", "attachments"),
)
WORDS = "surat suara tercoblos amplop serangan fajar kepala desa kampanye masa tenang paslon hoaks".split()


def cases_and_reports(count: int) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]]:
    rng = random.Random(7)
    for i in range(count):
        case_id, report_id = uuid.UUID(int=rng.getrandbits(128), version=4), uuid.uuid4()
        opened = NOW - timedelta(seconds=i * 17)
        category = rng.choice(["hoaks", "politik_uang", "sara"])
        text = " ".join(rng.choices(WORDS, k=20))
        yield (
            (case_id, AGENCY, "new", opened, opened, "33.75", "facebook", text,
             json.dumps([{"category": category, "score": 0.8, "reason": "bench"}]), 50, "medium", 1, 1,
             f"https://facebook.com/posts/{i}", secrets.token_hex(32)),
            (report_id, case_id, f"r{i % 5000}", opened),
            (report_id, AGENCY, "whatsapp", opened, opened, "facebook", text, f"https://facebook.com/posts/{i}",
             f"@akun{i % 900}", secrets.token_hex(32), json.dumps([{"sha256": secrets.token_hex(32)}])),
        )  # fmt: skip


async def load(triage: asyncpg.Pool, intake: asyncpg.Pool, count: int) -> None:
    rows = list(cases_and_reports(count))
    await triage.copy_records_to_table(
        "cases",
        records=[r[0] for r in rows],
        columns=CASE_COLUMNS,
    )
    await triage.copy_records_to_table(
        "case_reports",
        records=[r[1] for r in rows],
        columns=("report_id", "case_id", "reporter_id", "attached_at"),
    )
    await intake.copy_records_to_table(
        "reports",
        records=[r[2] for r in rows],
        columns=REPORT_COLUMNS,
    )
    for pool in (triage, intake):
        await pool.execute("ANALYZE")


async def streamed(rpc: RpcClient, query: exports.ExportQuery) -> int:
    pages = exports.rows(rpc, AGENCY, query)
    first = await anext(pages)
    written = 0
    async for chunk in exports._encoded(pages, first, query.format):
        written += len(chunk)
    return written


async def gathered(rpc: RpcClient, query: exports.ExportQuery) -> int:
    everything = [row async for page in exports.rows(rpc, AGENCY, query) for row in page]

    async def one() -> AsyncIterator[list[exports.ExportRow]]:
        return
        yield

    return sum([len(chunk) async for chunk in exports._encoded(one(), everything, query.format)])


async def measure(label: str, run: Any) -> None:
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    written = await run
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] - before
    print(f"{label:40} {written / 1e6:9.1f} MB out {peak / 1e6:9.1f} MB peak heap {elapsed:7.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-exports-"))
    servers = start_servers(home)
    database = f"bench_exports_{secrets.token_hex(4)}"
    try:
        url = await ensure_database(servers.database_url, database)
        pools = {
            schema: await asyncpg.create_pool(
                url, min_size=1, max_size=4, server_settings={"search_path": schema}
            )
            for schema in ("triage", "intake")
        }
        for schema, pool in pools.items():
            await migrate(pool, schema=schema, package=f"pantau_{schema}")
        started = time.perf_counter()
        await load(pools["triage"], pools["intake"], args.cases)
        print(f"loaded {args.cases:,} cases and reports: {time.perf_counter() - started:.1f} s")
        nc = await nats.connect(servers.nats_url)
        subjects = Subjects(f"bench{secrets.token_hex(3)}")
        casework = CaseWork(pools["triage"], Outbox(subjects, "/bench"), ClaimRegistry())
        queue = CaseQueue(pools["triage"], casework)
        await serve(nc, subjects, "triage", [Answer(CASE_EXPORT, queue.export_page)])
        await serve(
            nc, subjects, "intake", [Answer(REPORT_LIST, ReportListing(pools["intake"]).list_reports)]
        )
        rpc = RpcClient(nc, subjects, timeout=30)
        # Throughput without tracemalloc, which slows allocation-heavy code several times.
        started = time.perf_counter()
        written = await streamed(rpc, exports.ExportQuery())
        elapsed = time.perf_counter() - started
        print(
            f"streamed csv untraced: {args.cases / elapsed:,.0f} cases/s, {written / 1e6 / elapsed:.1f} MB/s"
        )
        tracemalloc.start()
        small = args.cases // 10
        small_from = (NOW - timedelta(seconds=small * 17)).isoformat()
        for fmt in ("csv", "ndjson"):
            query = exports.ExportQuery.model_validate({"format": fmt})
            some = exports.ExportQuery.model_validate({"format": fmt, "opened_from": small_from})
            await measure(f"streamed {fmt}, {small:,} cases", streamed(rpc, some))
            await measure(f"streamed {fmt}, {args.cases:,} cases", streamed(rpc, query))
            await measure(f"baseline: gathered {fmt}, {small:,} cases", gathered(rpc, some))
            await measure(f"baseline: gathered {fmt}, {args.cases:,} cases", gathered(rpc, query))
        tracemalloc.stop()
        await nc.drain()
        for pool in pools.values():
            await pool.close()
        await drop_database(servers.database_url, database)
    finally:
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
