"""Every Prometheus metric Pantau exports, in one place, and the `/metrics` endpoint.

Counters and histograms are updated where the work happens (one call each); the gauges about
queues (consumer pending, outbox backlog, dead letters) are sampled periodically by
`sampling.py`. Names, labels and alert-worthy signals are listed in the README (Operability).
"""

import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Handler latencies run from a millisecond to a slow SMTP server's tens of seconds.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

MESSAGES = Counter(
    "pantau_messages",
    "Messages settled by a durable consumer, by outcome: handled, ignored (a type it does not "
    "act on), retried (nak), dead_lettered.",
    ["durable", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "pantau_handler_duration_seconds",
    "Time from a message's fetch to its settlement, per durable consumer.",
    ["durable"],
    buckets=_LATENCY_BUCKETS,
)
DEAD_LETTERS = Counter(
    "pantau_dead_letters",
    "Dead-letter records written by this process, per source stream and consumer.",
    ["stream", "consumer"],
)
CONSUMER_PENDING = Gauge(
    "pantau_consumer_pending_messages",
    "Messages in the stream not yet delivered to the durable consumer (JetStream num_pending).",
    ["stream", "durable"],
)
CONSUMER_ACK_PENDING = Gauge(
    "pantau_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not yet acknowledged (num_ack_pending).",
    ["stream", "durable"],
)
CONSUMER_REDELIVERED = Gauge(
    "pantau_consumer_redelivered_messages",
    "Messages delivered more than once and not yet acknowledged (num_redelivered).",
    ["stream", "durable"],
)
STREAM_MESSAGES = Gauge(
    "pantau_stream_messages",
    "Messages kept in a stream (the dead-letter stream's growth is worth an alert).",
    ["stream"],
)
OUTBOX_BACKLOG = Gauge(
    "pantau_outbox_backlog_events", "Events committed to this service's outbox, not yet published."
)
OUTBOX_OLDEST_AGE = Gauge(
    "pantau_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event (0 when empty)."
)
OUTBOX_PUBLISHED = Counter("pantau_outbox_published_events", "Outbox events published to JetStream.")
DELIVERIES = Counter(
    "pantau_notify_deliveries",
    "Notification deliveries settled by notify, by channel and state (sent, failed).",
    ["channel", "state"],
)
ACKNOWLEDGEMENT_SECONDS = Histogram(
    "pantau_notify_acknowledgement_seconds",
    "Time from a patrol alert being sent to its acknowledgement.",
    ["via"],
    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400),
)
HTTP_REQUESTS = Counter(
    "pantau_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "pantau_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)


def settled(durable: str, outcome: str, started: float) -> None:
    """Count a message's outcome and its handling time (`started` from `time.perf_counter()`)."""
    MESSAGES.labels(durable, outcome).inc()
    HANDLER_SECONDS.labels(durable).observe(time.perf_counter() - started)


def metrics_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def http_answered(method: str, route: str, status: int, started: float) -> None:
    """Count an HTTP answer by the route template it matched (never the raw path, so ids do not
    explode the label set) and its status, with its time (`started` from `time.perf_counter()`)."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)
