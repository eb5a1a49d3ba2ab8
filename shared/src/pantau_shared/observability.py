"""Structured logs and OpenTelemetry tracing (and metrics), set up once per process at the
entrypoint.

With `PANTAU_TELEMETRY_EXPORTER=otlp`, spans and metrics go to the collector named by the
standard variables, read by the OpenTelemetry exporters themselves: `OTEL_EXPORTER_OTLP_ENDPOINT`
(or `_TRACES_`/`_METRICS_ENDPOINT`), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default,
or `grpc`), `_HEADERS`, `_TIMEOUT`, `_COMPRESSION`, `_CERTIFICATE`; `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES`; `OTEL_TRACES_SAMPLER` / `_ARG`; `OTEL_BSP_*` (span batching) and
`OTEL_METRIC_EXPORT_INTERVAL`.
"""

import json
import logging
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler
from prometheus_client import REGISTRY

from . import metrics  # noqa: F401  # registers the definitions the bridge reads
from .settings import PlatformSettings


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"
            entry["span_id"] = f"{span.span_id:016x}"
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# Per-request INFO lines that drown the useful ones: access logs of every health probe, a dozen
# lines per incoming mail (including "Connection lost during _handle_client()", which is a client
# hanging up, not an error), and a line for every local HTTP call.
CHATTY_LOGGERS = ("uvicorn.access", "mail.log", "httpx", "httpcore")


def quiet_chatty_libraries() -> None:
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_observability(platform: PlatformSettings, service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if platform.log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    logging.basicConfig(level=platform.log_level.upper(), handlers=[handler], force=True)
    quiet_chatty_libraries()

    # OTEL_RESOURCE_ATTRIBUTES are merged in; OTEL_SERVICE_NAME, when set, names the service.
    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": f"pantau-{service}"}))
    # Spans nobody exports are pure cost (the gateway alone records a server span and two ASGI
    # send/receive spans per request): with no exporter none is recorded. Trace ids are still
    # made and carried across NATS, so log lines still correlate. With an exporter the SDK's own
    # sampler applies (OTEL_TRACES_SAMPLER, parent-based always-on unless set).
    provider = TracerProvider(resource=resource, sampler=span_sampler(platform))
    if platform.telemetry_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif platform.telemetry_exporter == "otlp":
        grpc = platform.otlp_protocol == "grpc"
        provider.add_span_processor(BatchSpanProcessor(_span_exporter(grpc)))
        reader = PeriodicExportingMetricReader(_metric_exporter(grpc))
        otel_metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
        bridge_prometheus(otel_metrics.get_meter("pantau"))
    trace.set_tracer_provider(provider)


def span_sampler(platform: PlatformSettings) -> Sampler | None:
    """None leaves the choice to the SDK, which reads OTEL_TRACES_SAMPLER."""
    return ALWAYS_OFF if platform.telemetry_exporter == "none" else None


def _span_exporter(grpc: bool) -> SpanExporter:
    if grpc:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]  # same name, either protocol
            OTLPSpanExporter,
        )
    return OTLPSpanExporter()


def _metric_exporter(grpc: bool) -> MetricExporter:
    if grpc:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]  # same name, either protocol
            OTLPMetricExporter,
        )
    return OTLPMetricExporter()


def bridge_prometheus(meter: Meter) -> None:
    """The Prometheus metrics (`metrics.py`), read at each OTLP export: counters as counters,
    gauges as gauges, histograms as their `_count` and `_sum`. One set of definitions feeds
    both `/metrics` and the collector."""
    for family in list(REGISTRY.collect()):
        if not family.name.startswith("pantau_"):
            continue
        if family.type == "counter":
            meter.create_observable_counter(family.name + "_total", [_observe(family.name + "_total")])
        elif family.type == "gauge":
            meter.create_observable_gauge(family.name, [_observe(family.name)])
        elif family.type == "histogram":
            for suffix in ("_count", "_sum"):
                meter.create_observable_counter(family.name + suffix, [_observe(family.name + suffix)])


def _observe(sample_name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(sample.value, dict(sample.labels))
            for family in REGISTRY.collect()
            for sample in family.samples
            if sample.name == sample_name
        ]

    return observe
