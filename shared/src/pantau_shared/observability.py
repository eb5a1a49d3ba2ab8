"""Structured logs and OpenTelemetry tracing, set up once per process at the entrypoint."""

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

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

    provider = TracerProvider(resource=Resource.create({"service.name": f"pantau-{service}"}))
    if platform.telemetry_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
