"""Referrals across instances: how fast a case opened at one instance becomes the partner's own.

Two instances of the demo federation (Bawaslu Kota Pekalongan and Komdigi; Jawa Tengah's server
runs too), each its own NATS server from the wheel, linked as leaf nodes of the exchange with the
generated accounts. Case events are published into Pekalongan's CASES stream as its triage would;
its federation link refers each to Komdigi (outbox, outbound stream), Komdigi's inbound stream
sources it across the link, and Komdigi's triage opens its own case. Measured from the origin's
`case.opened` to the partner's `case.opened`, both observed on the same clock.

Baseline in the same run, before the services start: a bare JetStream publish into Pekalongan's
outbound stream, timed until it is in Komdigi's inbound stream (the same leaf connection and
sourcing, without the services).

    python bench/federation.py [--rate 20] [--seconds 10] [--burst 1000]
"""

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.msg import Msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pantau_devstack.federation import DEMO_TABLE, FederatedNats
from pantau_devstack.instances import Federation
from pantau_devstack.servers import free_port
from pantau_devstack.stack import drop_database, start_servers
from pantau_shared.bus import provision
from pantau_shared.contract import (
    CaseOpened,
    CategoryScore,
    Envelope,
    PriorityLevel,
    Subjects,
    federation_subject,
    new_id,
    stable_id,
)
from pantau_shared.contract.taxonomy import Category
from pantau_shared.federation import FederationLink, FederationTable


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def line(label: str, latencies_ms: list[float], per_second: float | None = None) -> str:
    rate = f"{per_second:8.0f}/s" if per_second is not None else " " * 10
    p50, p99 = quantile(latencies_ms, 0.5), quantile(latencies_ms, 0.99)
    return f"{label:<48} {rate}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  (n={len(latencies_ms)})"


async def paced(count: int, rate: float, send: Any) -> None:
    start = time.perf_counter()
    for n in range(count):
        delay = start + n / rate - time.perf_counter() if rate else 0
        if delay > 0:
            await asyncio.sleep(delay)
        await send(n)


async def baseline(
    nats_: FederatedNats, subjects: Subjects, table: FederationTable, args: argparse.Namespace
) -> None:
    origin = await nats.connect(nats_.url("pekalongan"))
    partner = await nats.connect(nats_.url("komdigi"))
    for name, client in (("pekalongan", origin), ("komdigi", partner)):
        link = FederationLink(subjects, table, table.instance(name))
        await provision(client.jetstream(), subjects, [], link.stream_configs())
    inbound = FederationLink(subjects, table, table.instance("komdigi")).inbound_stream
    subject = federation_subject(subjects.root, "komdigi", "bawaslu-3375", "bench.ping")
    arrived: dict[int, float] = {}
    sent: dict[int, float] = {}
    done = asyncio.Event()
    expected = 0

    async def on_message(message: Msg) -> None:
        arrived[json.loads(message.data)["n"]] = time.perf_counter()
        if len(arrived) >= expected:
            done.set()

    await partner.jetstream().subscribe(subject, stream=inbound, ordered_consumer=True, cb=on_message)
    js = origin.jetstream()

    async def send(n: int) -> None:
        sent[n] = time.perf_counter()
        await js.publish(subject, json.dumps({"n": n}).encode(), headers={"Nats-Msg-Id": f"ping-{n}"})

    expected = int(args.rate * args.seconds)
    await paced(expected, args.rate, send)
    await asyncio.wait_for(done.wait(), 60)
    fixed = [(arrived[n] - sent[n]) * 1e3 for n in range(expected)]
    print(line(f"bare publish across the link, {args.rate:g}/s", fixed))

    done.clear()
    base = expected
    expected = base + args.burst
    start = time.perf_counter()
    await asyncio.gather(*(send(base + n) for n in range(args.burst)))
    await asyncio.wait_for(done.wait(), 120)
    elapsed = max(arrived.values()) - start
    burst = [(arrived[n] - sent[n]) * 1e3 for n in range(base, expected)]
    print(line(f"bare publish across the link, burst of {args.burst}", burst, args.burst / elapsed))
    await partner.jetstream().purge_stream(inbound)
    await origin.close()
    await partner.close()


def case_event(n: int) -> CaseOpened:
    return CaseOpened(
        case_id=new_id(),
        agency_id="bawaslu-3375",
        opened_at=datetime.now(UTC),
        first_report_id=new_id(),
        region_code="33.75",
        canonical_url=f"https://www.facebook.com/groups/bench/posts/{n}-{secrets.token_hex(3)}",
        summary=f"Surat suara sudah dicoblos, sebarkan ({n})",
        categories=(CategoryScore(category=Category("hoaks"), score=0.8, reason="Narasi hoaks pemilu"),),
        priority=60,
        priority_level=PriorityLevel.HIGH,
        routed_to=("komdigi",),
    )


async def referrals(federation: Federation, subjects: Subjects, args: argparse.Namespace) -> None:
    origin = await nats.connect(federation.nats.url("pekalongan"))
    partner = await nats.connect(federation.nats.url("komdigi"))
    seen_origin: dict[str, float] = {}
    seen_partner: dict[str, float] = {}
    done = asyncio.Event()
    expected = 0

    async def origin_opened(message: Msg) -> None:
        seen_origin[json.loads(message.data)["case_id"]] = time.perf_counter()

    async def partner_opened(message: Msg) -> None:
        # The partner's case names the referral as its first report: stable from the origin's id.
        seen_partner[json.loads(message.data)["first_report_id"]] = time.perf_counter()
        if len(seen_partner) >= expected:
            done.set()

    await origin.subscribe(subjects.event("bawaslu-3375", "case.opened"), cb=origin_opened)
    await partner.subscribe(subjects.event("komdigi", "case.opened"), cb=partner_opened)
    await origin.flush()
    await partner.flush()
    js = origin.jetstream()
    cases: list[str] = []
    # The origin's case rows, as its triage would have stored them before publishing.
    db = await asyncpg.create_pool(
        federation.instances["pekalongan"].platform.database_url, min_size=1, max_size=8
    )

    async def send(n: int) -> None:
        case = case_event(n)
        await db.execute(
            "INSERT INTO triage.cases (case_id, agency_id, state, opened_at, updated_at, platform, priority,"
            " priority_level, routed_to) VALUES ($1, $2, 'new', $3, $3, 'facebook', 60, 'high', $4)",
            case.case_id,
            case.agency_id,
            case.opened_at,
            list(case.routed_to),
        )
        cases.append(str(case.case_id))
        envelope = Envelope(data=case, source="/bench", agency_id=case.agency_id)
        await js.publish(envelope.data.address(subjects), envelope.body(), headers=envelope.headers())

    def latencies(chosen: list[str]) -> list[float]:
        return [
            (seen_partner[str(stable_id("referral", f"{c}:komdigi"))] - seen_origin[c]) * 1e3 for c in chosen
        ]

    expected = int(args.rate * args.seconds)
    await paced(expected, args.rate, send)
    await asyncio.wait_for(done.wait(), 120)
    print(line(f"referral, origin case -> partner case, {args.rate:g}/s", latencies(cases)))

    done.clear()
    first = len(cases)
    expected = first + args.burst
    start = time.perf_counter()
    await asyncio.gather(*(send(first + n) for n in range(args.burst)))
    await asyncio.wait_for(done.wait(), 300)
    elapsed = max(seen_partner.values()) - start
    print(line(f"referral, burst of {args.burst}", latencies(cases[first:]), args.burst / elapsed))
    await db.close()
    await origin.close()
    await partner.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0, help="events a second in the fixed-rate phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=1000, help="events sent at once for the throughput")
    args = parser.parse_args()
    table = FederationTable.load(DEMO_TABLE)
    root = "bf" + secrets.token_hex(3)
    subjects = Subjects(root)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        servers = start_servers(home / "servers", with_nats=False)
        federated = FederatedNats(home / "nats", table, subjects)
        federated.start()
        federation = Federation(
            home, federated, DEMO_TABLE, servers.database_url, servers.redis_url, free_port(),
            subject_root=root, database_prefix=root,
        )  # fmt: skip
        try:
            asyncio.run(baseline(federated, subjects, table, args))
            federation.prepare(extra_env={"PANTAU_LOG_LEVEL": "WARNING"})
            # The origin's triage refers (asking intake for the evidence), the partner's opens.
            federation.start({"pekalongan": ("intake", "triage"), "komdigi": ("triage",), "jateng": ()})
            asyncio.run(referrals(federation, subjects, args))
        finally:
            federation.stop()
            federated.stop()
            for name in federation.instances:
                asyncio.run(drop_database(servers.database_url, f"{root}_{name}"))
            servers.stop()


if __name__ == "__main__":
    main()
