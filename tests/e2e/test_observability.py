"""Metrics and traces out of the four processes: `/metrics` counters move after a report, and
one trace, received over OTLP/HTTP by a receiver speaking the protocol, runs from the HTTP request
to the email."""

import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from pantau_devstack.mailsink import MailSink
from pantau_devstack.processes import WORKERS, Platform, ServiceProcesses
from pantau_devstack.servers import free_port
from pantau_shared.settings import PlatformSettings
from tests.conftest import remove_streams
from tests.waiting import eventually

# A module-scoped platform starts inside the first test's time: ten CLI processes and four
# services, each importing for seconds on a slow shared machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

AGENCY, PATROL = "bawaslu-3375", "patroli@bawaslu-pekalongan.example"
# Unlike each other, so that neither joins the other's case (near-duplicates would).
TEXTS = {
    "1001": "Serangan fajar: amplop 100 ribu tiap rumah asal coblos nomor 3",
    "1002": "Ayo bakar kantor KPU kalau paslon kita kalah, kumpul jam 9 di alun-alun",
}


class OtlpReceiver(ThreadingHTTPServer):
    """The two OTLP/HTTP endpoints of a collector, keeping what they receive. It serves from its
    own thread, so the services' exports never wait on the test's event loop."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        self.spans: list[tuple[str, Any]] = []  # (service.name, span)
        self.metric_names: dict[str, set[str]] = defaultdict(set)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def received(self, path: str, body: bytes) -> None:
        if path == "/v1/traces":
            for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
                service = _service(resource_spans.resource)
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((service, span) for span in scope_spans.spans)
        elif path == "/v1/metrics":
            for resource_metrics in ExportMetricsServiceRequest.FromString(body).resource_metrics:
                service = _service(resource_metrics.resource)
                for scope_metrics in resource_metrics.scope_metrics:
                    self.metric_names[service].update(m.name for m in scope_metrics.metrics)


class _OtlpHandler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        self.server.received(self.path, self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _service(resource: Any) -> str:
    return next(a.value.string_value for a in resource.attributes if a.key == "service.name")


@dataclass
class Running:
    api: str
    key: str
    health: dict[str, str]
    otlp: OtlpReceiver
    sink: MailSink


@pytest.fixture(scope="module")
async def running(
    platform: PlatformSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    home = tmp_path_factory.mktemp("observability")
    receiver = OtlpReceiver()
    sink = MailSink(home / "mail", free_port())
    sink.start()
    health_ports = {name: free_port() for name in (*WORKERS, "gateway")}
    stack = Platform(
        nats_url=platform.nats_url,
        database_url=platform.database_url,
        redis_url=platform.redis_url,
        smtp_port=sink.port,
        # Its own subject root: this stack's consumers see only its own reports.
        subject_root=platform.subject_root + "obs",
        gateway_port=free_port(),
        health_ports=health_ports,
        extra_env={
            "PANTAU_LOG_FORMAT": "text",
            "PANTAU_DRAIN_TIMEOUT_S": "5",
            "PANTAU_METRICS_INTERVAL_S": "0.5",
            "PANTAU_TELEMETRY_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        },
    )
    for service in (*WORKERS, "gateway"):
        stack.command(service, "setup")
    stack.command(
        "gateway", "create-agency", "--id", AGENCY, "--name", "Bawaslu Kota Pekalongan", "--kind", "bawaslu"
    )
    key = stack.command("gateway", "add-key", "--agency", AGENCY)
    stack.command("notify", "add-subscription", "--agency", AGENCY, "--name", "Patroli", "--email", PATROL)
    log = home / "services.log"
    with open(log, "wb") as output:  # noqa: ASYNC230 - set-up, before any test runs
        processes = ServiceProcesses(stack, stdout=output)
        processes.start()
        try:
            processes.wait_ready(180)
            yield Running(
                api=f"http://127.0.0.1:{stack.gateway_port}",
                key=key,
                health={name: f"http://127.0.0.1:{port}" for name, port in health_ports.items()},
                otlp=receiver,
                sink=sink,
            )
        finally:
            codes = processes.stop(timeout_s=20)
            sink.stop()
            receiver.shutdown()
            receiver.server_close()
            await remove_streams(platform.model_copy(update={"subject_root": stack.subject_root}))
    assert codes == dict.fromkeys((*WORKERS, "gateway"), 0), log.read_text()


async def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(url + "/metrics")).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


async def submit(running: Running, request_id: str) -> str:
    """A report of its own post and text, so that it opens a case (and an alert) of its own."""
    report = {
        "text": TEXTS[request_id],
        "url": f"https://www.facebook.com/groups/123/posts/{request_id}",
        "region_code": "33.75",
    }
    async with httpx.AsyncClient(base_url=running.api, headers={"X-API-Key": running.key}) as api:
        accepted = await api.post("/v1/reports", json=report, headers={"X-Request-ID": request_id})
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["report_id"]


async def test_metrics_counters_move_after_a_report(running: Running) -> None:
    before = {name: await scrape(url) for name, url in running.health.items()}
    await submit(running, "1001")

    async def alert_counted() -> dict | None:
        now = await scrape(running.health["notify"])
        sent = total(now, "pantau_notify_deliveries_total", channel="email", state="sent")
        return now if sent > total(before["notify"], "pantau_notify_deliveries_total", state="sent") else None

    notify = await eventually(alert_counted, timeout=90, what="an alert counted as sent")
    assert total(notify, "pantau_handler_duration_seconds_count", durable="notify-cases") >= 1
    assert total(notify, "pantau_outbox_published_events_total") >= 1
    for worker in ("intake", "triage"):
        now = await scrape(running.health[worker])
        handled = total(now, "pantau_messages_total", outcome="handled")
        assert handled > total(before[worker], "pantau_messages_total", outcome="handled"), worker
        assert ("pantau_outbox_backlog_events", frozenset()) in now
        assert total(now, "pantau_stream_messages", stream="DEADLETTER") >= 0

    # Pending and ack-pending come from JetStream's consumer info, for each durable.
    async def sampled() -> dict | None:
        now = await scrape(running.health["notify"])
        names = {labels for (name, labels) in now if name == "pantau_consumer_ack_pending_messages"}
        return now if any(("durable", "notify-cases") in labels for labels in names) else None

    await eventually(sampled, timeout=10, what="consumer gauges sampled")

    # The API counts by route template and status, on its own port.
    api = await scrape(running.api)
    assert total(api, "pantau_http_requests_total", method="POST", route="/v1/reports", status="202") >= 1


async def test_one_trace_from_the_http_request_to_the_email_over_otlp(running: Running) -> None:
    await submit(running, "1002")

    def request_span() -> tuple[str, object] | None:
        for service, span in running.otlp.spans:
            attributes = {a.key: a.value.string_value for a in span.attributes}
            if service == "pantau-gateway" and attributes.get("pantau.request_id") == "1002":
                return service, span
        return None

    async def sent_in_the_same_trace() -> list | None:
        found = request_span()
        if found is None:
            return None
        trace_id = found[1].trace_id
        in_trace = [(service, span.name) for service, span in running.otlp.spans if span.trace_id == trace_id]
        # Each process exports its spans in its own batches, so the email's span may arrive
        # before intake's: wait for the whole trace, not its last span.
        whole = {"pantau-gateway", "pantau-intake", "pantau-triage", "pantau-notify"} <= {
            s for s, _ in in_trace
        }
        return in_trace if whole and ("pantau-notify", "send email") in in_trace else None

    try:
        in_trace = await eventually(sent_in_the_same_trace, timeout=90, what="the email's span")
    except AssertionError as error:
        found = request_span()
        seen = [
            (svc, sp.name) for svc, sp in running.otlp.spans if found and sp.trace_id == found[1].trace_id
        ]
        raise AssertionError(f"{error}; the request's trace has {seen or 'no spans'}") from None
    services = {service for service, _ in in_trace}
    assert services == {"pantau-gateway", "pantau-intake", "pantau-triage", "pantau-notify"}, in_trace
    names = {name for _, name in in_trace}
    assert {"POST /v1/reports", "send email"} <= names
    assert any(m["To"] == PATROL and m["X-Pantau-Case"] for m in running.sink.messages())

    # The same metrics reach the collector over OTLP.
    async def exported() -> set | None:
        names = running.otlp.metric_names["pantau-intake"]
        return names if "pantau_messages_total" in names else None

    await eventually(exported, timeout=10, what="metrics exported over OTLP")
