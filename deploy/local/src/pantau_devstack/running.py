"""One platform per data directory: a second `pantau-dev up` finds the first and leaves it be.

The lock is an flock on `run.lock`, so it goes away with its process however that ends (Ctrl-C,
SIGTERM, a crash, kill -9): a stale lock never blocks the next start.
"""

import fcntl
import os
from pathlib import Path
from typing import IO


class RunLock:
    def __init__(self, home: Path) -> None:
        self._path = home / "run.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        """Take the lock and write our pid in it; False when another run holds it."""
        file = open(self._path, "a+")  # held open for the whole run: the lock lives with it
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file
        return True

    def holder(self) -> str:
        """The pid of the run that holds the lock, as it wrote it."""
        try:
            return self._path.read_text().strip() or "?"
        except FileNotFoundError:
            return "?"

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
