"""Fault injection: kill -9 each service, then NATS, under load, and count what survived.

Runs two instances of each worker service and one gateway on their own NATS (always embedded,
since it is killed too) and PostgreSQL/Redis (PANTAU_DATABASE_URL / PANTAU_REDIS_URL when set).
While reports arrive at a fixed rate it SIGKILLs one instance of intake, triage and notify, the
gateway, and NATS, restarting each a moment later, then waits for the pipeline to settle and
checks:

- nothing lost: every report the gateway accepted (202) is stored by intake and in a case;
- nothing stored twice: no report is a member of two cases or counted twice;
- no alert delivered twice: at the SMTP sink, each (case, recipient) has one Message-ID (a copy
  resent after a crash carries the same Message-ID, so mail clients show one message; such
  copies are counted apart);
- take-over: how much longer the slowest report accepted just before each worker kill took to
  reach its case than the slowest accepted a few seconds earlier (a killed instance's messages
  wait for the ack wait, 2 s, then the other instance takes them); at most 5 s.

Takes about two minutes; not part of the test suite.

    python bench/kill_test.py [--rate 50] [--spacing 8]
"""

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp
import asyncpg

from pantau_devstack.mailsink import MailSink
from pantau_devstack.processes import Platform
from pantau_devstack.servers import NatsServer, free_port
from pantau_devstack.stack import drop_database, ensure_database, start_servers
from pantau_shared.contract import Subjects

sys.path.insert(0, str(Path(__file__).parent))
from pipeline import Observer, report_body, seed


class Instances:
    """Service processes by name#n, each restartable after a kill."""

    def __init__(self, platform: Platform, logs: Path) -> None:
        self._env = platform.env()
        self._logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        service = name.split("#")[0]
        # Warnings (retries, takeovers) of every life of the instance, to explain a slow takeover.
        with (self._logs / f"{name.replace('#', '-')}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"pantau_{service}"],
                env=self._env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def load(
    client: aiohttp.ClientSession, run: str, rate: float, seconds: float
) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """The reports accepted (id -> when) and the requests refused (reason, when sent)."""
    accepted: dict[str, float] = {}
    refused: list[tuple[str, float]] = []
    start = time.perf_counter()

    async def one(i: int) -> None:
        sent = time.perf_counter()
        try:
            async with client.post("/v1/reports", json=report_body(run, i)) as response:
                body = await response.json(content_type=None)
                if response.status == 202:
                    accepted[body["report_id"]] = sent
                else:
                    title = body.get("title", "") if isinstance(body, dict) else ""
                    refused.append((f"{response.status} {title}".strip(), sent))
        except (aiohttp.ClientError, TimeoutError) as error:
            # Refused while the gateway was down: never accepted, so not lost.
            refused.append((type(error).__name__, sent))

    tasks = []
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return accepted, refused


async def gateway_ready(client: aiohttp.ClientSession, deadline_s: float = 60) -> None:
    deadline = time.perf_counter() + deadline_s
    while time.perf_counter() < deadline:
        try:
            async with client.get("/readyz") as response:
                if response.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the gateway was not ready within {deadline_s:.0f} s")


async def pipeline_ready(
    client: aiohttp.ClientSession, run: str, observer: Observer, deadline_s: float = 90
) -> None:
    """The gateway answers and one report reaches its case and its alert."""
    await gateway_ready(client, deadline_s)
    async with client.post("/v1/reports", json=report_body(f"{run}-probe", 0)) as response:
        assert response.status == 202, await response.text()
        report_id = (await response.json())["report_id"]
    deadline = time.perf_counter() + deadline_s
    while report_id not in observer.notified_at:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the probe report was not alerted within {deadline_s:.0f} s")
        await asyncio.sleep(0.1)


def print_refusals(refused: list[tuple[str, float]], faults: list[tuple[str, float]]) -> None:
    """Each refusal by its reason and by the fault it followed (what was down, or restarting)."""
    by_reason: Counter[tuple[str, str]] = Counter()
    for reason, at in refused:
        after = [(target, t) for target, t in faults if t <= at]
        fault = f"{after[-1][0]} +{at - after[-1][1]:.0f}s" if after else "before any kill"
        by_reason[(fault, reason)] += 1
    for (fault, reason), count in sorted(by_reason.items()):
        print(f"  refused after kill -9 {fault}: {count} x {reason}")


async def main(args: argparse.Namespace) -> int:
    run = "k" + secrets.token_hex(3)
    home = Path(tempfile.mkdtemp(prefix="pantau-kill-"))
    os.environ.pop("PANTAU_NATS_URL", None)  # our own NATS: it is one of the things killed
    nats_server = NatsServer(home / "nats", free_port())
    nats_server.start()
    os.environ["PANTAU_NATS_URL"] = nats_server.url
    servers = start_servers(home)
    database = f"pantau_{run}"
    sink = MailSink(home / "mail", free_port())
    sink.start()
    platform = Platform(
        nats_url=nats_server.url,
        redis_url=servers.redis_url,
        smtp_port=sink.port,
        database_url=await ensure_database(servers.database_url, database),
        subject_root=run,
        gateway_port=free_port(),
        health_ports={},
        extra_env={"PANTAU_LOG_LEVEL": "WARNING", "PANTAU_LOG_FORMAT": "text"},
    )
    key = seed(platform)
    instances = Instances(platform, home / "logs")
    for name in ("intake#1", "intake#2", "triage#1", "triage#2", "notify#1", "notify#2", "gateway#1"):
        instances.start(name)
    observer = Observer()
    nc = None
    faults: list[tuple[str, float]] = []
    try:
        nc = await observer.start(nats_server.url, Subjects(run))
        async with aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{platform.gateway_port}",
            headers={"X-API-Key": key},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as client:
            # Load starts once a report has gone all the way through: the refusals and take-over
            # latencies counted are then the faults', not those of a stack still starting.
            await pipeline_ready(client, run, observer)

            async def inject() -> None:
                for target in ("intake#1", "triage#1", "notify#1", "gateway#1", "nats"):
                    await asyncio.sleep(args.spacing)
                    faults.append((target, time.perf_counter()))
                    print(f"kill -9 {target}", flush=True)
                    if target == "nats":
                        assert nats_server.process is not None
                        nats_server.process.send_signal(signal.SIGKILL)
                        nats_server.process.wait()
                        await asyncio.sleep(2)
                        nats_server.start()
                    else:
                        instances.kill(target)
                        await asyncio.sleep(1 if target.startswith("gateway") else 3)
                        instances.start(target)
                    if target.startswith("gateway"):
                        await gateway_ready(client)
                        down = time.perf_counter() - faults[-1][1]
                        print(f"gateway answering again {down:.1f} s after its kill", flush=True)

            seconds = args.spacing * 6
            (accepted, refused), _ = await asyncio.gather(load(client, run, args.rate, seconds), inject())
        print(f"{len(accepted)} reports accepted, {len(refused)} refused", flush=True)
        print_refusals(refused, faults)
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and not all(r in observer.notified_at for r in accepted):
            await asyncio.sleep(0.5)
        await asyncio.sleep(5)  # late resends, if any, reach the sink
        outcome = await verdict(platform.database_url, sink, observer, accepted, faults)
        print(f"each instance's warnings: {home / 'logs'}")
        return outcome
    finally:
        if nc is not None:
            await nc.close()
        instances.stop()
        sink.stop()
        nats_server.stop()
        await drop_database(servers.database_url, database)
        servers.stop()


async def verdict(
    database_url: str,
    sink: MailSink,
    observer: Observer,
    accepted: dict[str, float],
    faults: list[tuple[str, float]],
) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        stored = {str(r[0]) for r in await conn.fetch("SELECT report_id FROM intake.reports")}
        members = Counter(str(r[0]) for r in await conn.fetch("SELECT report_id FROM triage.case_reports"))
        counted = await conn.fetchval("SELECT coalesce(sum(report_count), 0) FROM triage.cases")
    finally:
        await conn.close()
    lost = [r for r in accepted if r not in stored]
    uncased = [r for r in accepted if members[r] == 0]
    twice = [r for r, n in members.items() if n > 1]
    ids_per_alert: dict[tuple[str, str], set[str]] = defaultdict(set)
    copies: Counter[str] = Counter()
    for message in sink.messages():
        ids_per_alert[(str(message["X-Pantau-Case"]), str(message["To"]))].add(str(message["Message-ID"]))
        copies[str(message["Message-ID"])] += 1
    delivered_twice = [k for k, ids in ids_per_alert.items() if len(ids) > 1]
    resent = sum(n - 1 for n in copies.values() if n > 1)
    print(f"lost: {len(lost)} (not stored), {len(uncased)} accepted but in no case")
    print(
        f"stored twice: {len(twice)} reports in two cases; "
        f"report_count total {counted} for {len(members)} reports"
    )
    print(f"alerts delivered twice (two Message-IDs for one case and recipient): {len(delivered_twice)}")
    print(f"copies resent with the same Message-ID (collapsed by mail clients): {resent}")
    print(f"alerts: {len(ids_per_alert)} for {len(accepted)} reports")
    # A killed instance's messages wait for the ack wait before the other instance takes them:
    # the extra latency of reports accepted just before the kill, over those accepted before.
    worst = 0.0
    for target, at in faults:
        # Notify's messages are the alerts; the others' show in the case event.
        seen = observer.notified_at if target.startswith("notify") else observer.case_at
        what = "alert" if target.startswith("notify") else "case"
        hit, slowest = _slowest(seen, accepted, at - 3, at)
        before, _ = _slowest(seen, accepted, at - 9, at - 4)
        extra = hit - before
        if not target.startswith(("gateway", "nats")):
            worst = max(worst, extra)
        print(
            f"after kill -9 {target}: slowest accept->{what} {hit:.1f} s for reports accepted in the 3 s "
            f"before it, {before:.1f} s for those 4-9 s before: {extra:+.1f} s"
        )
        if slowest:
            # Which hop waited: the one that ran on the killed instance.
            hops = ", ".join(f"{name} {seconds:.2f}" for name, seconds in observer.timeline(slowest))
            case = next((c for c, r in observer.report_of_case.items() if r == slowest), None)
            print(f"    slowest report's hops (s): {hops} (report {slowest}, case {case})")
    ok = not (lost or uncased or twice or delivered_twice) and counted == len(members) and worst <= 5.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _slowest(
    seen: dict[str, float], accepted: dict[str, float], start: float, end: float
) -> tuple[float, str | None]:
    """The longest accept->seen latency of reports accepted in [start, end), and its report."""
    latencies = [(seen[r] - t, r) for r, t in accepted.items() if start <= t < end and r in seen]
    return max(latencies, default=(0.0, None))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--spacing", type=float, default=8, help="seconds between kills")
    sys.exit(asyncio.run(main(parser.parse_args())))
