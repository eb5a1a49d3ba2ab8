"""The four services as separate processes, the way a deployment runs them."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

WORKERS = ("intake", "triage", "notify")


@dataclass
class Platform:
    """Where the servers are and how the services are reached; becomes their environment."""

    nats_url: str
    database_url: str
    redis_url: str
    smtp_port: int
    subject_root: str = "pantau"
    gateway_port: int = 8080
    health_ports: dict[str, int] = field(
        default_factory=lambda: {"intake": 8081, "triage": 8082, "notify": 8083}
    )
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
        env.update(
            {
                "PANTAU_NATS_URL": self.nats_url,
                "PANTAU_DATABASE_URL": self.database_url,
                "PANTAU_REDIS_URL": self.redis_url,
                "PANTAU_SUBJECT_ROOT": self.subject_root,
                "PANTAU_GATEWAY_PORT": str(self.gateway_port),
                "PANTAU_NOTIFY_SMTP_HOST": "127.0.0.1",
                "PANTAU_NOTIFY_SMTP_PORT": str(self.smtp_port),
                # Links in messages (the case page, acknowledging) lead to this gateway.
                "PANTAU_PUBLIC_URL": f"http://127.0.0.1:{self.gateway_port}",
            }
        )
        # A health port not named is any free one, so parallel stacks never clash.
        for name in (*WORKERS, "gateway"):
            env[f"PANTAU_{name.upper()}_HEALTH_PORT"] = str(self.health_ports.get(name, 0))
        env.update(self.extra_env)
        return env

    def readiness_urls(self) -> dict[str, str]:
        urls = {name: f"http://127.0.0.1:{port}/readyz" for name, port in self.health_ports.items()}
        urls["gateway"] = f"http://127.0.0.1:{self.gateway_port}/readyz"
        return urls

    def command(
        self, service: str, *args: str, output: IO[str] | None = None, stdin: str | None = None
    ) -> str:
        """Run one admin command of a service (`stdin` given to it) and return what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", f"pantau_{service}", *args],
            env=self.env(),
            input=stdin,
            check=True,
            stdout=subprocess.PIPE,
            stderr=output,
            text=True,
            timeout=120,
        )
        return done.stdout.strip()


class ServiceProcesses:
    def __init__(self, platform: Platform, *, stdout: IO[bytes] | int | None = None) -> None:
        self._platform = platform
        self._stdout = stdout
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, services: tuple[str, ...] = (*WORKERS, "gateway")) -> None:
        env = self._platform.env()
        for name in services:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"pantau_{name}"],
                env=env,
                stdout=self._stdout,
                stderr=subprocess.STDOUT if self._stdout is not None else None,
                # A terminal's Ctrl-C goes to the supervisor alone, which then drains each
                # service with one SIGTERM; a second signal would force them to exit.
                start_new_session=True,
            )

    def wait_ready(self, deadline_s: float = 60, on_ready: Callable[[str], None] | None = None) -> None:
        pending = {
            name: url for name, url in self._platform.readiness_urls().items() if name in self.processes
        }
        deadline = time.monotonic() + deadline_s
        while pending:
            for name, url in list(pending.items()):
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {process.returncode}")
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            del pending[name]
                            if on_ready is not None:
                                on_ready(name)
                except (urllib.error.URLError, OSError):
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {deadline_s:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.1)

    def stop(self, timeout_s: float = 20) -> dict[str, int]:
        """SIGTERM every service, wait for them to drain, kill what is left; exit codes."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        deadline = time.monotonic() + timeout_s
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes
