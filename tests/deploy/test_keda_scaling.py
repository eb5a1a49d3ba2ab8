"""KEDA scales the workers on the lag it reads from NATS: the names in each ScaledObject must be
the ones the server really has, or KEDA silently scales on something else (a consumer it cannot
find falls back to the stream's last sequence).

This starts nats-server with the rendered overlay's own nats.conf (the cluster block removed: one
node), provisions the streams and consumers exactly as the services do, puts load on a durable
consumer (some messages pending, some delivered and unacknowledged), reads the same
`/jsz?acc=…&consumers=true&config=true` URL KEDA's nats-jetstream scaler builds, finds each
trigger's account, stream and consumer the way the scaler does, and computes the replica count
KEDA's HPA would choose.
"""

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from pantau_devstack.servers import free_port, wait_for_port
from pantau_shared.bus import provision
from pantau_shared.contract import Subjects

from ..waiting import eventually
from .manifests import WORKERS, config, named, nats_conf, of_kind, rendered, subscriptions
from .test_manifests import replicas_keda_would_choose

OVERLAY = "komdigi"  # an overlay with components/keda
PASSWORD = "lag-test-password"


@pytest.fixture(scope="module")
def monitored_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """(client URL as the services' user, monitoring port) of a nats-server on the overlay's config."""
    directory = tmp_path_factory.mktemp("nats")
    client, monitor = free_port(), free_port()
    conf = nats_conf(rendered(OVERLAY))
    conf = re.sub(r"^cluster \{.*?^\}\n", "", conf, flags=re.M | re.S)
    conf = re.sub(r"^include .*$", "", conf, flags=re.M)
    conf = conf.replace("port: 4222", f"port: {client}").replace("http_port: 8222", f"http_port: {monitor}")
    conf = conf.replace("store_dir: /data", f"store_dir: {directory / 'js'}")
    conf = conf.replace("/var/run/nats/nats.pid", str(directory / "nats.pid"))
    assert f"port: {client}" in conf and str(directory) in conf and "cluster {" not in conf
    (directory / "nats.conf").write_text(conf)
    env = {
        "POD_NAME": "nats-0",
        "NATS_JETSTREAM_DOMAIN": "komdigi",
        "PANTAU_PASSWORD": PASSWORD,
        "SYS_PASSWORD": "s",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "nats-server"), "-c", str(directory / "nats.conf")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(client, 20, process, "nats-server")
        wait_for_port(monitor, 20, process, "nats-server monitoring")
        yield f"nats://pantau:{PASSWORD}@127.0.0.1:{client}", monitor
    finally:
        process.terminate()
        process.wait(10)


def jsz(monitor: int, endpoint: str, account: str) -> dict[str, Any]:
    """What KEDA's scaler fetches: getNATSJetStreamMonitoringURL(useHTTPS=false, endpoint, account),
    with the in-cluster host replaced by this test's server."""
    url = f"http://{endpoint}/jsz?acc={account}&consumers=true&config=true"
    url = re.sub(r"//[^/]+/", f"//127.0.0.1:{monitor}/", url)
    with urllib.request.urlopen(url, timeout=5) as response:
        loaded: dict[str, Any] = json.load(response)
    return loaded


def keda_lag(document: dict[str, Any], account: str, stream: str, consumer: str) -> int:
    """The scaler's getMaxMsgLag: num_pending + num_ack_pending of the named consumer of the named
    stream in the named account. Where KEDA would fall back to the stream's last sequence (the
    consumer not found), this fails instead."""
    (details,) = [a for a in document.get("account_details", []) if a["name"] == account]
    (found,) = [s for s in details.get("stream_detail", []) if s["name"] == stream]
    (state,) = [c for c in found.get("consumer_detail", []) if c["name"] == consumer]
    return int(state.get("num_pending", 0)) + int(state.get("num_ack_pending", 0))


@pytest.fixture(scope="module")
async def loaded_bus(monitored_nats: tuple[str, int]) -> AsyncIterator[Subjects]:
    url, _ = monitored_nats
    subjects = Subjects(config(rendered(OVERLAY))["PANTAU_SUBJECT_ROOT"])
    nc = await nats.connect(url)
    js = nc.jetstream()
    await provision(js, subjects, [s for worker in WORKERS for s in subscriptions(worker)])
    # 1,000 received reports waiting for triage; triage has taken 100 of them and not yet acked.
    triage = next(s for s in subscriptions("triage") if s.durable == "triage-reports")
    for i in range(1_000):
        await nc.publish(subjects.event(f"agency-{i % 7}", "report.received"), b"{}")
    await nc.flush()

    async def stored() -> bool:
        info = await js.stream_info(subjects.stream(triage.stream))
        return info.state.messages >= 1_000

    await eventually(stored, what="the reports stored")
    puller = await js.pull_subscribe_bind(triage.durable, subjects.stream(triage.stream))
    taken = await puller.fetch(100, timeout=5)
    assert len(taken) == 100
    yield subjects
    await nc.close()


async def test_keda_finds_every_trigger_and_scales_triage_on_its_lag(
    monitored_nats: tuple[str, int], loaded_bus: Subjects
) -> None:
    _, monitor = monitored_nats
    objects = rendered(OVERLAY)
    chosen: dict[str, int] = {}
    lags: dict[str, int] = {}
    for worker in WORKERS:
        scaled = named(objects, "ScaledObject", f"pantau-{worker}")["spec"]
        wanted = []
        for trigger in scaled["triggers"]:
            meta = trigger["metadata"]
            document = jsz(monitor, meta["natsServerMonitoringEndpoint"], meta["account"])
            lag = keda_lag(document, meta["account"], meta["stream"], meta["consumer"])
            lags[meta["consumer"]] = lag
            wanted.append(
                replicas_keda_would_choose(
                    lag, int(meta["lagThreshold"]), scaled["minReplicaCount"], scaled["maxReplicaCount"]
                )
            )
        # Several triggers: the HPA takes the largest proposal.
        chosen[worker] = max(wanted)
    triage = next(s for s in subscriptions("triage") if s.durable == "triage-reports")
    assert lags[triage.durable] == 1_000, "900 pending + 100 delivered and unacknowledged"
    # notify-receipts reads the same REPORTS stream and subject, so it sees the same load.
    assert lags["notify-receipts"] == 1_000
    assert lags["intake-submissions"] == 0 and lags["notify-cases"] == 0
    assert lags["triage-revisions"] == 0 and lags["intake-revocations"] == 0
    triage_threshold = int(
        named(objects, "ScaledObject", "pantau-triage")["spec"]["triggers"][0]["metadata"]["lagThreshold"]
    )
    assert chosen["triage"] == 1_000 // triage_threshold == 5
    assert chosen["notify"] == 5
    # Intake writes a report's evidence jobs as it stores it: no intake consumer reads
    # report.received, so the load of stored reports does not scale intake (the submissions do).
    assert "intake-evidence-reports" not in lags and chosen["intake"] == 2
    assert len(of_kind(objects, "ScaledObject")) == len(WORKERS) + 1  # and the gateway's, on CPU
