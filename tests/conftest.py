"""Fixtures shared by the integration and end-to-end tiers.

The servers are the ones PANTAU_NATS_URL / PANTAU_DATABASE_URL / PANTAU_REDIS_URL name, or
embedded ones started for this run. Either way each run gets its own database, subject root and
Redis key prefix, and removes its streams at the end, so leftovers never matter.
"""

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.js.errors import NotFoundError

from pantau_devstack.stack import Servers, drop_database, ensure_database, start_servers
from pantau_shared.bus import provision, stream_configs
from pantau_shared.contract import Subjects
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings, ServiceSettings


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    started = start_servers(Path(tmp_path_factory.mktemp("servers")))
    yield started
    started.stop()


@pytest.fixture(scope="session")
def run_id() -> str:
    return "t" + secrets.token_hex(4)


@pytest.fixture(scope="session")
async def platform(servers: Servers, run_id: str) -> AsyncIterator[PlatformSettings]:
    database = f"pantau_{run_id}"
    settings = PlatformSettings(
        environment="test",
        nats_url=servers.nats_url,
        database_url=await ensure_database(servers.database_url, database),
        redis_url=servers.redis_url,
        subject_root=run_id,
        log_format="text",
    )
    yield settings
    await remove_streams(settings)
    await drop_database(servers.database_url, database)


async def remove_streams(settings: PlatformSettings) -> None:
    import nats

    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    for config in stream_configs(Subjects(settings.subject_root)):
        try:
            await js.delete_stream(config.name or "")
        except NotFoundError:
            pass
    await nc.close()


@pytest.fixture
def agency() -> str:
    """An agency id of this test alone, so counts and lookups see only its own data."""
    return "agency-" + secrets.token_hex(4)


async def connect(platform: PlatformSettings, service: str) -> Infrastructure:
    infra = await Infrastructure.connect(platform, ServiceSettings(), service=service, schema=service)
    await infra.migrate(f"pantau_{service}", service)
    await provision(infra.js, infra.subjects, [])
    return infra


@pytest.fixture(scope="session", autouse=True)
def tracing() -> None:
    """A real SDK tracer, as every service sets up, so trace context is created and carried."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())
