"""A second `pantau-dev up` beside a running one: says where it runs, changes nothing."""

import json
import subprocess
import sys
from pathlib import Path

from pantau_devstack.running import RunLock


def test_a_second_run_names_the_first_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "pantau"
    home.mkdir()
    (home / "dev.json").write_text(json.dumps({"gateway_port": 18080}))
    first = RunLock(home)  # the running platform's lock, held as `pantau-dev up` holds it
    assert first.acquire()
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    try:
        second = subprocess.run(
            [sys.executable, "-m", "pantau_devstack", "--home", str(home), "up"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        first.release()
    assert second.returncode == 1, second.stderr
    assert "already running from" in second.stdout and str(home) in second.stdout
    assert "http://127.0.0.1:18080" in second.stdout and f"pid {first.holder()}" in second.stdout
    assert "Traceback" not in second.stdout + second.stderr
    # No server was started, nothing written: the data directory is as the first run left it.
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before


def test_the_lock_goes_with_its_holder(tmp_path: Path) -> None:
    first, second = RunLock(tmp_path), RunLock(tmp_path)
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
