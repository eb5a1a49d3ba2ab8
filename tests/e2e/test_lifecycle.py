"""One service process's life on real servers: health before connecting, backoff, SIGTERM at
any point, and production mode refusing development settings."""

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pantau_devstack.servers import NatsServer, free_port
from pantau_shared.settings import PlatformSettings
from tests.waiting import eventually

# A module-scoped platform starts inside the first test's time: ten CLI processes and four
# services, each importing for seconds on a slow shared machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


async def readyz(health: str) -> httpx.Response | None:
    """The readiness answer, or None while nothing listens yet."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(health + "/readyz")
    except httpx.TransportError:
        return None


class Intake:
    """`pantau-intake serve` as a process, its log in a file."""

    def __init__(self, platform: PlatformSettings, nats_url: str, log: Path) -> None:
        self.health = f"http://127.0.0.1:{free_port()}"
        env = {
            "PATH": "/usr/bin:/bin",
            "PANTAU_NATS_URL": nats_url,
            "PANTAU_DATABASE_URL": platform.database_url,
            "PANTAU_REDIS_URL": platform.redis_url,
            "PANTAU_SUBJECT_ROOT": platform.subject_root,
            "PANTAU_LOG_FORMAT": "text",
            "PANTAU_CONNECT_BACKOFF_MAX_S": "0.5",
            "PANTAU_INTAKE_HEALTH_PORT": self.health.rsplit(":", 1)[1],
        }
        self.log = log
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pantau_intake"], env=env, stdout=output, stderr=subprocess.STDOUT
            )

    def stop(self, timeout: float = 15) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@pytest.fixture
def no_nats() -> str:
    return f"nats://127.0.0.1:{free_port()}"


@pytest.fixture
def intake(platform: PlatformSettings, no_nats: str, tmp_path: Path) -> Iterator[Intake]:
    process = Intake(platform, no_nats, tmp_path / "intake.log")
    yield process
    if process.process.poll() is None:
        process.process.kill()
        process.process.wait()


async def test_health_answers_while_nats_is_unreachable_and_sigterm_stops_the_wait(intake: Intake) -> None:
    async def waiting_for_nats() -> httpx.Response | None:
        answer = await readyz(intake.health)
        return answer if answer is not None and "attempt 2" in answer.json()["checks"]["nats"] else None

    answer = await eventually(waiting_for_nats, timeout=60, what="readyz reporting the NATS attempts")
    assert answer.status_code == 503 and answer.json()["ready"] is False
    assert answer.json()["checks"]["postgres"] == answer.json()["checks"]["redis"] == "connecting"
    async with httpx.AsyncClient() as client:
        alive = await client.get(intake.health + "/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    # The first SIGTERM ends the wait at once, cleanly.
    assert intake.stop(timeout=10) == 0
    log = intake.log.read_text()
    assert "nats at nats://127.0.0.1:" in log and "not reachable (attempt 2)" in log, log
    assert "stopped before its servers were reached" in log, log


async def test_a_service_started_before_nats_becomes_ready_when_nats_comes_up(
    intake: Intake, no_nats: str, tmp_path: Path
) -> None:
    await eventually(lambda: readyz(intake.health), timeout=60, what="health server up")
    nats = NatsServer(tmp_path / "nats", int(no_nats.rsplit(":", 1)[1]))
    nats.start()
    try:

        async def ready() -> httpx.Response | None:
            answer = await readyz(intake.health)
            return answer if answer is not None and answer.status_code == 200 else None

        answer = await eventually(ready, timeout=60, what="ready once NATS is up")
        assert answer.json()["checks"] == {"nats": "ok", "postgres": "ok", "redis": "ok"}
        assert intake.stop() == 0
    finally:
        nats.stop()
    assert "reached after" in intake.log.read_text()


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("gateway", ["PANTAU_PUBLIC_URL", "PANTAU_ACK_LINK_SECRET", "PANTAU_GATEWAY_API_KEY_PEPPER"]),
        ("intake", ["PANTAU_PUBLIC_URL", "PANTAU_ACK_LINK_SECRET", "PANTAU_INTAKE_REPORTER_PEPPER"]),
        ("notify", ["PANTAU_PUBLIC_URL", "PANTAU_ACK_LINK_SECRET"]),
    ],
)
def test_production_refuses_development_settings(service: str, expected: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"pantau_{service}"],
        env={
            "PATH": "/usr/bin:/bin",
            "PANTAU_ENVIRONMENT": "production",
            "PANTAU_SECRETS_DIR": "/nonexistent",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "refuses to start in production" in done.stderr
    for variable in expected:
        assert variable in done.stderr, done.stderr
