"""`./dev` as a newcomer meets it: help without installing anything, a clear word on typos."""

import shutil
import subprocess
from pathlib import Path

import pytest

DEV = Path(__file__).resolve().parents[3] / "dev"


def run_dev(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A copy alone in an empty folder: if help installed the environment first, the folder
    # would gain .tools/ or .venv/ (and the run would take minutes).
    script = tmp_path / "dev"
    shutil.copy(DEV, script)
    return subprocess.run(["sh", str(script), *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("args", [(), ("help",), ("--help",), ("-h",)])
def test_help_prints_usage_and_succeeds_without_installing(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run_dev(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: ./dev COMMAND")
    for command in ("run", "test", "bench", "lint", "help"):
        assert f"\n  {command} " in done.stdout
    assert "#" not in done.stdout and "set -eu" not in done.stdout
    assert done.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev"]


def test_unknown_command_is_named_and_exits_2(tmp_path: Path) -> None:
    done = run_dev(tmp_path, "rnu")
    assert done.returncode == 2
    assert done.stderr.startswith("./dev: unknown command 'rnu'\n")
    assert "Usage: ./dev COMMAND" in done.stderr
    assert done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev"]


def test_every_pantau_dev_option_says_what_it_does() -> None:
    import argparse

    from pantau_devstack.__main__ import command_line

    parser = command_line()
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers.extend(action.choices.values())
    for each in parsers:
        for action in each._actions:
            assert action.help, f"{each.prog} {action.dest} has no help text"
