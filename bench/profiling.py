"""py-spy on running service processes, one recording per process per benchmark phase, and a
short text summary of where each spent its CPU (what `bench/profiles.md` quotes).

py-spy samples from outside the process (no instrumentation in the code measured) and, without
`--idle`, counts only samples where a thread was running, so the shares are shares of CPU.
"""

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")
# Our frames at the bottom of every stack: a sample whose deepest frame of ours is one of these
# was in the event loop itself (socket writes, protocol callbacks), not in a step of ours.
ROOTS = {"<module>", "main", "worker_main", "run_until_signalled"}


class Profiler:
    def __init__(self, out: Path | None, pids: dict[str, int], *, rate: int = 67) -> None:
        self._out = out
        self._pids = pids
        self._rate = rate
        self._running: dict[Path, subprocess.Popen[bytes]] = {}

    def start(self, phase: str) -> None:
        if self._out is None:
            return
        self._out.mkdir(parents=True, exist_ok=True)
        for name, pid in self._pids.items():
            path = self._out / f"{phase}-{name}.txt"
            self._running[path] = subprocess.Popen(
                [
                    str(PY_SPY),
                    "record",
                    "--pid",
                    str(pid),
                    "--format",
                    "raw",
                    "--rate",
                    str(self._rate),
                    "--nonblocking",
                    "--output",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self, top: int = 12) -> None:
        """Stop the recordings (py-spy writes its file on SIGINT) and print their summaries."""
        for process in self._running.values():
            process.send_signal(signal.SIGINT)
        for path, process in self._running.items():
            process.wait(timeout=60)
            if path.exists():
                print(summarise(path, top), flush=True)
        self._running.clear()


def summarise(path: Path, top: int = 12) -> str:
    """Three views of the samples: our functions by inclusive share (a function counted once per
    stack, however deep it recurs; the frames every sample shares left out), the samples
    charged to the deepest of our functions on the stack (what each step costs with the library
    calls it makes), and the self share (where the CPU actually went)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_short(frame) for frame in stack.split(";")[1:]]  # the first is the thread
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        if frames:
            leaf[frames[-1]] += samples
        ours = [frame for frame in frames if "pantau_" in frame and frame.split(" ")[0] not in ROOTS]
        own[ours[-1] if ours else "(the event loop: socket writes, protocol callbacks)"] += samples
    lines = [f"--- {path.stem}: {total} samples"]
    informative = [(f, n) for f, n in inclusive.most_common() if "pantau_" in f and n < 0.8 * total]
    lines += [f"  incl {100 * n / total:5.1f}%  {frame}" for frame, n in informative[:top]]
    lines += [f"  own  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += [f"  self {100 * n / total:5.1f}%  {frame}" for frame, n in leaf.most_common(top // 2)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """`fetch (asyncpg/pool.py:12)` -> `fetch (asyncpg/pool.py)`: lines split one function apart."""
    name, _, where = frame.partition(" (")
    module = where.rsplit(":", 1)[0].removesuffix(")")
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in module:
            module = module.split(marker, 1)[1]
    return f"{name} ({module})"
