"""Runs every benchmark in turn; each prints its own figures and baseline."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = [
    "pipeline.py",
    "federation.py",
    "notifications.py",
    "classifier.py",
    "matching.py",
    "registries.py",
    "audit.py",
    "queue_indexes.py",
    "exports.py",
    "sealing.py",
    "bundles.py",
    "takedowns.py",
]

if __name__ == "__main__":
    # `./dev bench` runs all; `./dev bench a.py b.py` those; `./dev bench a.py --flag …` one, with
    # its own arguments.
    args = sys.argv[1:]
    if args and args[0].startswith("-"):
        sys.exit("./dev bench: name the benchmark first: ./dev bench NAME.py [ARGS...]")
    one_with_arguments = any(a.startswith("-") for a in args[1:])
    names, flags = (args[:1], args[1:]) if one_with_arguments else (args or BENCHES, [])
    for name in names:
        print(f"\n=== bench/{name}", flush=True)
        subprocess.run([sys.executable, str(HERE / name), *flags], check=True)
