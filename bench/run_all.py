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
    chosen = sys.argv[1:] or BENCHES
    for name in chosen:
        print(f"\n=== bench/{name}", flush=True)
        subprocess.run([sys.executable, str(HERE / name)], check=True)
