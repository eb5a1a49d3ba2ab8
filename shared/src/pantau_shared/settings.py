"""Settings every process shares; each service adds its own class with its own prefix.

Both are read once, at the entrypoint, and passed down. A Kubernetes secret mounted as files under
`PANTAU_SECRETS_DIR` (one file per variable, named like it: `PANTAU_GATEWAY_API_KEY_PEPPER`) supplies
the environment.
"""

import ipaddress
import os
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]
DEV_ACK_SECRET = "dev-only-ack-link-secret"
DEV_PUBLIC_URL = "http://127.0.0.1:8080"


class PlatformSettings(BaseSettings):
    """`PANTAU_*`: where the shared servers are and how every process behaves."""

    # Settings carry secrets (passwords in URLs, keys): an error names the setting and the
    # rule it breaks, never the value given.
    model_config = SettingsConfigDict(env_prefix="PANTAU_", extra="ignore", hide_input_in_errors=True)

    environment: Environment = "development"
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/pantau"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Root of every subject and stream name: lets deployments and test runs share one NATS.
    subject_root: str = "pantau"
    # `otlp` exports traces and metrics to the collector the standard OTEL_* variables name.
    telemetry_exporter: Literal["none", "console", "otlp"] = "none"
    # The standard OpenTelemetry variable (no PANTAU_ prefix); the exporters read the others.
    otlp_protocol: Literal["http/protobuf", "grpc"] = Field(
        "http/protobuf", validation_alias="OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    # How long a SIGTERM waits for in-flight work before cancelling it: one deadline for the
    # whole drain (pull loops, HTTP requests, background work).
    drain_timeout_s: float = 10.0
    # Connection attempts at start-up back off exponentially up to this delay.
    connect_backoff_max_s: float = 30.0
    # How often queue gauges (consumer pending, outbox backlog, dead letters) are sampled.
    metrics_interval_s: float = 15.0
    # Signs acknowledgement links in alerts (notify signs, the gateway verifies).
    ack_link_secret: SecretStr = SecretStr(DEV_ACK_SECRET)
    # Where people open links from messages: the gateway's public address.
    public_url: str = DEV_PUBLIC_URL

    @classmethod
    def load(cls) -> Self:
        return cls(_secrets_dir=secrets_dir())


class ServiceSettings(BaseSettings):
    """Base of each service's own settings (health port, limits); subclasses set `env_prefix`."""

    # As above: the subclasses' configs merge with this one, so no service echoes a secret.
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    health_host: str = "127.0.0.1"
    health_port: int = 0
    # Messages fetched per pull and handled concurrently by one process.
    fetch_batch: int = 64
    db_pool_min: int = 2
    db_pool_max: int = 10

    @classmethod
    def load(cls) -> Self:
        return cls(_secrets_dir=secrets_dir())

    @model_validator(mode="after")
    def _pool_bounds(self) -> Self:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("db_pool_min must not exceed db_pool_max")
        return self


def secrets_dir() -> Path | None:
    configured = os.environ.get("PANTAU_SECRETS_DIR", "/run/secrets/pantau")
    path = Path(configured)
    return path if path.is_dir() else None


class DevelopmentDefault:
    """Marks a setting whose default only development may use (`Annotated[..., DEVELOPMENT]`),
    such as the sealing keys: production refuses it, also as one item of a list."""


DEVELOPMENT = DevelopmentDefault()


def _is_development_default(field: FieldInfo, value: object) -> bool:
    if isinstance(field.default, SecretStr):
        return value == field.default
    if not any(isinstance(meta, DevelopmentDefault) for meta in field.metadata):
        return False
    default = field.get_default(call_default_factory=True)
    if isinstance(default, list) and isinstance(value, list):
        return any(item in default for item in value)
    return bool(value == default)


def production_errors(*models: BaseSettings) -> list[str]:
    """Why these settings may not run in production: any secret or key left at its development
    default, links (the public URL, link bases) that point at this machine, and a fetcher's
    test allowlist of private networks."""
    errors: list[str] = []
    for model in models:
        prefix = str(model.model_config.get("env_prefix", ""))
        for name, field in type(model).model_fields.items():
            variable = (prefix + name).upper()
            value = getattr(model, name)
            if _is_development_default(field, value):
                errors.append(f"{variable} is the development default; set a secret of your own")
            elif (name == "public_url" or name.endswith("_link_base")) and _local(str(value)):
                errors.append(f"{variable} is {value}; set the address people open links at")
            elif name.endswith(("_test_allowlist", "_test_hosts")) and value:
                errors.append(f"{variable} lets fetches reach private addresses; it is for tests only")
    return errors


def _local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost") or not host:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
