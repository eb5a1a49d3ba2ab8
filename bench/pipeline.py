"""End-to-end platform benchmark: the four services as processes on real servers.

Drives POST /v1/reports at fixed rates and at saturation, then POST /v1/reports:batch (the bulk
path) at saturation, and prints reports/s accepted, reports/s fully triaged, p50/p95/p99 latency
from the report on the bus to the case event and to the notification being recorded, and the CPU
each service spent per report in each phase. In the same run it measures two baselines on the
same machine and prints the ratios: a bare FastAPI echo endpoint under the same load generator
(for single POSTs), and a bare pipeline (for the bulk path): a minimal consumer that reads from
JetStream, inserts into PostgreSQL in batches and publishes, with no Pantau logic.

    python bench/pipeline.py [--rates 50,200] [--seconds 10] [--saturation-seconds 15]
                             [--bulk-seconds 10] [--bulk-size 500] [--profile DIR]

Uses PANTAU_NATS_URL / PANTAU_DATABASE_URL / PANTAU_REDIS_URL when set, embedded servers
otherwise; everything it creates lives under its own subject root and database.
"""

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import nats

from pantau_devstack.processes import Platform, ServiceProcesses
from pantau_devstack.servers import free_port, wait_for_port
from pantau_devstack.stack import drop_database, ensure_database, start_servers
from pantau_shared.contract import Subjects

sys.path.insert(0, str(Path(__file__).parent))
from profiling import Profiler

AGENCY = "bawaslu-3375"
ECHO_APP = """
from fastapi import FastAPI, Request
app = FastAPI()
@app.post("/echo", status_code=202)
async def echo(request: Request):
    return await request.json()
"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class Observer:
    """Timestamps case and notification events as the bus delivers them."""

    def __init__(self) -> None:
        self.accepted_at: dict[str, float] = {}  # report id -> report.submitted on the bus
        self.case_at: dict[str, float] = {}  # report id -> first case event
        self.report_of_case: dict[str, str] = {}
        self.notified_at: dict[str, float] = {}  # report id -> notification.sent
        # Between those, for the hop breakdown: intake's report.received, notify's first
        # notification.requested of the report's case.
        self.received_at: dict[str, float] = {}
        self.requested_at: dict[str, float] = {}

    async def start(self, url: str, subjects: Subjects) -> nats.aio.client.Client:
        async def quiet(error: Exception) -> None:
            pass  # the kill test restarts NATS under this connection; it reconnects

        nc = await nats.connect(url, max_reconnect_attempts=-1, error_cb=quiet)

        async def on_case(msg) -> None:
            now = time.perf_counter()
            data = json.loads(msg.data)
            report_id = data.get("first_report_id") or data.get("report_id")
            if report_id and report_id not in self.case_at:
                self.case_at[report_id] = now
                self.report_of_case.setdefault(data["case_id"], report_id)

        async def on_sent(msg) -> None:
            now = time.perf_counter()
            report_id = self.report_of_case.get(json.loads(msg.data).get("case_id") or "")
            if report_id:
                self.notified_at.setdefault(report_id, now)

        async def on_submitted(msg) -> None:
            self.accepted_at[json.loads(msg.data)["report_id"]] = time.perf_counter()

        async def on_received(msg) -> None:
            self.received_at.setdefault(json.loads(msg.data)["report_id"], time.perf_counter())

        async def on_requested(msg) -> None:
            now = time.perf_counter()
            report_id = self.report_of_case.get(json.loads(msg.data).get("case_id") or "")
            if report_id:
                self.requested_at.setdefault(report_id, now)

        await nc.subscribe(subjects.event(AGENCY, "report.submitted"), cb=on_submitted)
        await nc.subscribe(subjects.event(AGENCY, "report.received"), cb=on_received)
        await nc.subscribe(subjects.event(AGENCY, "notification.requested"), cb=on_requested)
        await nc.subscribe(subjects.event(AGENCY, "case.>"), cb=on_case)
        await nc.subscribe(subjects.event(AGENCY, "notification.sent"), cb=on_sent)
        return nc

    def timeline(self, report_id: str) -> list[tuple[str, float]]:
        """A report's stages seen on the bus, as (hop, seconds since the stage before)."""
        stages = [self.accepted_at, self.received_at, self.case_at, self.requested_at, self.notified_at]
        hops, before = [], self.accepted_at.get(report_id)
        for name, seen in zip(HOPS, stages[1:], strict=True):
            at = seen.get(report_id)
            if at is None or before is None:
                break
            hops.append((name, at - before))
            before = at
        return hops

    def hops(self, report_ids: list[str]) -> dict[str, list[float]]:
        """Each hop's latencies in ms over the reports that got that far."""
        latencies: dict[str, list[float]] = {name: [] for name in HOPS}
        for report_id in report_ids:
            for name, seconds in self.timeline(report_id):
                latencies[name].append(seconds * 1000)
        return latencies


# Each hop as the bus shows it: from the stage before to the event the service publishes.
HOPS = (
    "intake (submitted->received)",
    "triage (received->case)",
    "fan-out (case->requested)",
    "delivery (requested->sent)",
)


class MailSinkProcess:
    """The SMTP sink the alerts go to, in a process of its own: on a thread of this one it
    shared the GIL with the load generator and the observer, and its answers waited on them,
    which the alert's latency then showed."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        code = (
            "import signal, sys\n"
            "from pathlib import Path\n"
            "from pantau_devstack.mailsink import MailSink\n"
            "MailSink(Path(sys.argv[1]), int(sys.argv[2])).start()\n"
            "print('ready', flush=True)\n"
            "signal.sigwait({signal.SIGTERM})\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(self.directory), str(self.port)], stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the mail sink did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def keep_alive_connector(limit: int) -> aiohttp.TCPConnector:
    """Connections dropped after 3 s idle: uvicorn closes them after 5 s, and a request written
    on one it is closing fails (`ClientOSError`) after the bench's idle phase or a settle."""
    return aiohttp.TCPConnector(limit=limit, keepalive_timeout=3)


def report_body(run: str, i: int) -> dict:
    return {
        "text": f"Laporan {run}-{i}: serangan fajar di RT {i % 40}, amplop {i} ribu per rumah",
        "url": f"https://www.facebook.com/groups/{run}/posts/{i}",
        "region_code": "33.75",
    }


async def drive(
    client: aiohttp.ClientSession,
    path: str,
    run: str,
    *,
    rate: float | None,
    seconds: float,
    concurrency: int,
) -> tuple[dict[str, float], int, float]:
    """Fixed rate (open loop) when `rate` is set, else saturation (closed loop)."""
    accepted: dict[str, float] = {}
    errors = 0
    counter = iter(range(10**9))
    start = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal errors
        async with client.post(path, json=report_body(run, i)) as response:
            body = await response.json()
            if response.status == 202:
                accepted[body.get("report_id", str(i))] = time.perf_counter()
            else:
                errors += 1

    if rate is not None:
        tasks = []
        total = int(rate * seconds)
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    else:

        async def worker() -> None:
            while time.perf_counter() - start < seconds:
                await one(next(counter))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, errors, time.perf_counter() - start


async def drive_bulk(
    client: aiohttp.ClientSession, run: str, *, seconds: float, size: int, concurrency: int
) -> tuple[dict[str, float], int, float]:
    """Closed loop over POST /v1/reports:batch, `size` reports a request."""
    accepted: dict[str, float] = {}
    errors = 0
    counter = iter(range(10**9))
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() - start < seconds:
            first = next(counter) * size
            body = {
                "reports": [report_body(run, i) | {"key": f"{run}-{i}"} for i in range(first, first + size)]
            }
            async with client.post("/v1/reports:batch", json=body) as response:
                answer = await response.json()
                now = time.perf_counter()
                if response.status != 200:
                    errors += size
                    continue
                for item in answer["items"]:
                    if item["status"] == "accepted":
                        accepted[item["report_id"]] = now
                    else:
                        errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, errors, time.perf_counter() - start


async def settle(
    observer: Observer, accepted: dict[str, float], timeout: float, *, until: str = "notified"
) -> None:
    seen = observer.notified_at if until == "notified" else observer.case_at
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(r in seen for r in accepted):
            return
        await asyncio.sleep(0.05)


class CpuMeter:
    """CPU each service process spent, per report, over one phase; and the whole machine's
    (servers, load generator and anything else running included) as `machine`."""

    def __init__(self, processes: dict[str, subprocess.Popen], sink: int | None = None) -> None:
        self._pids = {name: p.pid for name, p in processes.items()}
        self._sink = sink
        self._start = self._now()
        self._machine_start = machine_cpu_seconds()
        self._others_start = self._others()
        self.machine_ms = 0.0
        self.others_ms: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self._pids.items()}

    def _others(self) -> dict[str, float]:
        return {
            **servers_cpu_seconds(),
            "this benchmark": cpu_seconds(os.getpid()),
            **({"mail sink": cpu_seconds(self._sink)} if self._sink else {}),
        }

    def per_report(self, reports: int) -> dict[str, float]:
        now, machine, others = self._now(), machine_cpu_seconds(), self._others()
        used = {name: (now[name] - self._start[name]) * 1000 / max(1, reports) for name in now}
        self.machine_ms = (machine - self._machine_start) * 1000 / max(1, reports)
        self.others_ms = {
            name: (others[name] - self._others_start.get(name, 0.0)) * 1000 / max(1, reports)
            for name in others
        }
        self._start, self._machine_start, self._others_start = now, machine, others
        return used


def print_cpu(name: str, meter: CpuMeter, reports: int) -> None:
    used = meter.per_report(reports)
    parts = ", ".join(f"{n} {ms:.2f}" for n, ms in used.items())
    print(
        f"{'':>16}  CPU ms per report ({name}): {parts}; total {sum(used.values()):.2f}; "
        f"whole machine {meter.machine_ms:.2f} ("
        + ", ".join(f"{n} {ms:.2f}" for n, ms in meter.others_ms.items())
        + f", the rest {meter.machine_ms - sum(used.values()) - sum(meter.others_ms.values()):.2f})",
        flush=True,
    )


BARE_DDL = "CREATE TABLE IF NOT EXISTS bare_reports (id uuid PRIMARY KEY, body jsonb NOT NULL)"


async def bare_pipeline(nats_url: str, database_url: str, run: str, count: int) -> float:
    """The floor of this design: JetStream in, a batched insert into PostgreSQL, JetStream out."""
    import asyncpg  # the bench's own dependency; imported here to keep the top of the file short
    from nats.js.api import ConsumerConfig, StreamConfig

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream, subject_in, subject_out = f"{run}_BARE", f"{run}.bare.in", f"{run}.bare.out"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject_in, subject_out]))
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await pool.execute(BARE_DDL)
    try:
        for start in range(0, count, 1000):
            await asyncio.gather(
                *(
                    js.publish(
                        subject_in, json.dumps({"id": str(uuid.uuid4()), **report_body(run, i)}).encode()
                    )
                    for i in range(start, min(count, start + 1000))
                )
            )
        sub = await js.pull_subscribe(
            subject_in, durable=f"{run}bare", stream=stream, config=ConsumerConfig(max_ack_pending=-1)
        )
        done = 0
        began = time.perf_counter()
        while done < count:
            messages = await sub.fetch(256, timeout=5)
            bodies = [json.loads(m.data) for m in messages]
            await pool.execute(
                "INSERT INTO bare_reports (id, body) SELECT * FROM unnest($1::uuid[], $2::jsonb[])"
                " ON CONFLICT DO NOTHING",
                [b["id"] for b in bodies],
                [json.dumps(b) for b in bodies],
            )
            await asyncio.gather(*(js.publish(subject_out, m.data) for m in messages))
            await asyncio.gather(*(m.ack() for m in messages))
            done += len(messages)
        rate = count / (time.perf_counter() - began)
    finally:
        await js.delete_stream(stream)
        await pool.execute("DROP TABLE IF EXISTS bare_reports")
        await pool.close()
        await nc.close()
    print(f"{'bare pipeline':>16}: {count:6d} messages ({rate:7.1f}/s)", flush=True)
    return rate


def machine_cpu_seconds() -> float:
    """Busy CPU time of all cores since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


SERVERS = {"postgres": "PostgreSQL", "nats-server": "NATS", "redis-server": "Redis"}


def servers_cpu_seconds() -> dict[str, float]:
    """CPU time of every PostgreSQL, NATS and Redis process on the machine (the servers this run
    uses, and any other client's share of them), exited PostgreSQL backends included through
    the postmaster's reaped-children time."""
    totals = dict.fromkeys(SERVERS.values(), 0.0)
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = path.read_text()
        except OSError:
            continue  # exited meanwhile
        comm = text[text.index("(") + 1 : text.rindex(")")]
        if comm in SERVERS:
            stats[int(path.parent.name)] = (comm, text.rsplit(")", 1)[1].split())
    for comm, fields in stats.values():
        busy = int(fields[11]) + int(fields[12])
        if int(fields[1]) not in stats:  # a server's main process: add its reaped children
            busy += int(fields[13]) + int(fields[14])
        totals[SERVERS[comm]] += busy / tick
    return totals


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(name: str, observer: Observer, accepted: dict[str, float], errors: int, elapsed: float) -> dict:
    # Latencies run from the report appearing on the bus (accepted and stored by JetStream) to
    # the case event and to notification.sent, all timed by this one observer, so an overloaded
    # load generator does not distort them.
    start = {r: observer.accepted_at[r] for r in accepted if r in observer.accepted_at}
    to_case = [(observer.case_at[r] - t) * 1000 for r, t in start.items() if r in observer.case_at]
    to_note = [(observer.notified_at[r] - t) * 1000 for r, t in start.items() if r in observer.notified_at]
    triaged_times = [observer.case_at[r] for r in accepted if r in observer.case_at]
    first = min(accepted.values(), default=0) - 0.001
    span = (max(triaged_times) - first) if triaged_times else float("nan")
    row = {
        "phase": name,
        "accepted": len(accepted),
        "errors": errors,
        "accepted_per_s": len(accepted) / elapsed,
        "triaged_per_s": len(triaged_times) / max(span, elapsed) if triaged_times else 0.0,
        "case_p50_ms": percentile(to_case, 50),
        "case_p95_ms": percentile(to_case, 95),
        "case_p99_ms": percentile(to_case, 99),
        "notify_p50_ms": percentile(to_note, 50),
        "notify_p99_ms": percentile(to_note, 99),
        "notified": len(to_note),
    }
    print(
        f"{name:>16}: {row['accepted']:6d} accepted ({row['accepted_per_s']:7.1f}/s), "
        f"{len(triaged_times):6d} triaged ({row['triaged_per_s']:7.1f}/s), errors {errors}; "
        f"accept->case p50/p95/p99 {row['case_p50_ms']:.1f}/{row['case_p95_ms']:.1f}/"
        f"{row['case_p99_ms']:.1f} ms; accept->notification p50/p99 "
        f"{row['notify_p50_ms']:.1f}/{row['notify_p99_ms']:.1f} ms ({len(to_note)} sent)",
        flush=True,
    )
    hops = observer.hops(list(start))
    print(
        f"{'':>16}  hops p50/p99 ms: "
        + "; ".join(
            f"{name} {percentile(values, 50):.1f}/{percentile(values, 99):.1f}"
            for name, values in hops.items()
            if values
        ),
        flush=True,
    )
    return row


async def echo_baseline(seconds: float, concurrency: int) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "echo_app.py").write_text(ECHO_APP)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "echo_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=tmp,
        )
        try:
            wait_for_port(port, 20, server, "echo server")
            async with aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{port}", connector=keep_alive_connector(concurrency)
            ) as client:
                accepted, _, elapsed = await drive(
                    client, "/echo", "echo", rate=None, seconds=seconds, concurrency=concurrency
                )
        finally:
            server.terminate()
            server.wait()
    rate = len(accepted) / elapsed
    print(f"{'echo baseline':>16}: {len(accepted):6d} accepted ({rate:7.1f}/s)", flush=True)
    return rate


def seed(stack: Platform) -> str:
    """Migrations, streams, the benchmark's agency, a key without a practical rate limit and a
    patrol subscription; returns the key."""
    for service in ("intake", "triage", "notify", "gateway"):
        stack.command(service, "setup")
    stack.command(
        "gateway",
        "create-agency",
        "--id",
        AGENCY,
        "--name",
        "Bawaslu Kota Pekalongan",
        "--kind",
        "bawaslu",
        "--region",
        "33.75",
    )
    key = stack.command("gateway", "add-key", "--agency", AGENCY, "--rate-limit", "100000000")
    stack.command(
        "notify", "add-subscription", "--agency", AGENCY, "--name", "Patroli", "--email", "patroli@example.id"
    )
    return key


async def main(args: argparse.Namespace) -> None:
    run = "b" + secrets.token_hex(3)
    home = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
    servers = start_servers(home)
    database = f"pantau_{run}"
    sink = MailSinkProcess(home / "mail", free_port())
    sink.start()
    stack = Platform(
        nats_url=servers.nats_url,
        redis_url=servers.redis_url,
        smtp_port=sink.port,
        database_url=await ensure_database(servers.database_url, database),
        subject_root=run,
        gateway_port=free_port(),
        health_ports={n: free_port() for n in ("intake", "triage", "notify")},
        extra_env={"PANTAU_LOG_LEVEL": "WARNING", "PANTAU_LOG_FORMAT": "text"},
    )
    key = seed(stack)
    processes = ServiceProcesses(stack, stdout=subprocess.DEVNULL)
    processes.start()
    observer = Observer()
    nc = None
    rows = []
    try:
        processes.wait_ready(60)
        nc = await observer.start(servers.nats_url, Subjects(run))
        print(f"platform up (run {run}); load generator: aiohttp, {args.concurrency} connections", flush=True)
        async with aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{stack.gateway_port}",
            headers={"X-API-Key": key},
            connector=keep_alive_connector(args.concurrency),
        ) as client:
            await drive(client, "/v1/reports", run + "w", rate=20, seconds=2, concurrency=1)
            meter = CpuMeter(processes.processes, sink.process.pid if sink.process else None)
            if args.idle_seconds:
                # What the services burn with nothing to do (polls, timers) is paid again in every
                # phase's CPU per report: at 50/s it is most of it.
                await asyncio.sleep(args.idle_seconds)
                idle = meter.per_report(1)
                print(
                    f"{'idle':>16}  CPU % of one core with no load ({args.idle_seconds:g} s): "
                    + ", ".join(f"{n} {ms / 10 / args.idle_seconds:.1f}" for n, ms in idle.items())
                    + f"; total {sum(idle.values()) / 10 / args.idle_seconds:.1f}"
                    + f"; whole machine {meter.machine_ms / 10 / args.idle_seconds:.1f}",
                    flush=True,
                )
            profiler = Profiler(args.profile, {n: p.pid for n, p in processes.processes.items()})
            # The phase's index in its reports' ids: a rate given twice is a second phase of new
            # reports, not the first one's sent again (which intake would keep once).
            for phase, rate in enumerate(args.rates):
                accepted, errors, elapsed = await drive(
                    client,
                    "/v1/reports",
                    f"{run}r{phase}",
                    rate=rate,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                )
                await settle(observer, accepted, 60)
                rows.append(summary(f"fixed {rate:g}/s", observer, accepted, errors, elapsed))
                print_cpu(f"fixed {rate:g}/s", meter, len(accepted))
            profiler.start("saturation")
            accepted, errors, elapsed = await drive(
                client,
                "/v1/reports",
                f"{run}sat",
                rate=None,
                seconds=args.saturation_seconds,
                concurrency=args.concurrency,
            )
            await settle(observer, accepted, 120)
            profiler.stop()
            rows.append(summary("saturation", observer, accepted, errors, elapsed))
            print_cpu("saturation", meter, len(accepted))
            profiler.start("bulk")
            accepted, errors, elapsed = await drive_bulk(
                client, f"{run}bulk", seconds=args.bulk_seconds, size=args.bulk_size, concurrency=4
            )
            await settle(observer, accepted, 180, until="case")
            profiler.stop()
            rows.append(summary(f"bulk x{args.bulk_size}", observer, accepted, errors, elapsed))
            print_cpu("bulk", meter, len(accepted))
        memory = {name: rss_mb(p.pid) for name, p in processes.processes.items()}
        print(
            "CPU seconds used by each process over the whole run: "
            + ", ".join(f"{n} {cpu_seconds(p.pid):.1f}" for n, p in processes.processes.items())
            + f", benchmark (load, observer) {cpu_seconds(os.getpid()):.1f}",
            flush=True,
        )
        print(
            "resident memory after the run (MB): " + ", ".join(f"{n} {m:.0f}" for n, m in memory.items()),
            flush=True,
        )
    finally:
        if nc is not None:
            await nc.close()
        processes.stop()
        sink.stop()
        bare = await bare_pipeline(servers.nats_url, stack.database_url, run, args.bare_messages)
        await drop_database(servers.database_url, database)
        servers.stop()
    baseline = await echo_baseline(args.saturation_seconds / 2, args.concurrency)
    saturated, bulk = rows[-2], rows[-1]
    print(
        f"\nratio at saturation: Pantau accepts {saturated['accepted_per_s']:.1f}/s, "
        f"{saturated['accepted_per_s'] / baseline:.2f}x a bare FastAPI echo "
        f"({baseline:.1f}/s); triaged end to end {saturated['triaged_per_s']:.1f}/s "
        f"({saturated['triaged_per_s'] / baseline:.2f}x the echo)"
    )
    print(
        f"ratio on the bulk path: triaged end to end {bulk['triaged_per_s']:.1f}/s, "
        f"{bulk['triaged_per_s'] / bare:.2f}x the bare pipeline ({bare:.1f}/s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0, 200.0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle-seconds", type=float, default=5)
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--bulk-seconds", type=float, default=10)
    parser.add_argument("--bulk-size", type=int, default=500)
    parser.add_argument("--bare-messages", type=int, default=20_000)
    parser.add_argument(
        "--profile", type=Path, help="record each service with py-spy in the saturation and bulk phases"
    )
    asyncio.run(main(parser.parse_args()))
