import pytest
from opentelemetry.sdk.trace import TracerProvider

from pantau_shared.observability import span_sampler
from pantau_shared.settings import PlatformSettings


def test_no_exporter_records_no_span_but_still_makes_trace_ids() -> None:
    provider = TracerProvider(sampler=span_sampler(PlatformSettings(telemetry_exporter="none")))
    with provider.get_tracer("test").start_as_current_span("POST /v1/reports") as span:
        assert not span.is_recording()
        context = span.get_span_context()
        # Log lines still carry a trace id, and traceparent still crosses NATS.
        assert context.is_valid
        assert not context.trace_flags.sampled


def test_an_exporter_leaves_the_sampler_to_the_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    provider = TracerProvider(sampler=span_sampler(PlatformSettings(telemetry_exporter="otlp")))
    with provider.get_tracer("test").start_as_current_span("POST /v1/reports") as span:
        assert span.is_recording()
