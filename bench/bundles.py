"""What building and verifying a case's evidence bundle costs, by evidence size, on one core.

    .venv/bin/python bench/bundles.py [--megabytes 64]

Measured: `build_bundle` and `verify_bundle` of a case holding one WARC of the given size, a
screenshot and a voice note, each stamped by the local TSA's signing code, with a custody chain
of 200 entries; time and peak memory (tracemalloc) of each; the verifier both from bytes in memory and from
the file on disk, as `pantau-evidence` reads it. Baseline in the same run: the floor
any bundle pays, hashing the same bytes with SHA-256 and writing and reading them as a stored
zip.
"""

import argparse
import hashlib
import io
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from pantau_devstack.tsa import TsaIdentity
from pantau_shared.bundles import BundleItem, build_bundle, verify_bundle
from pantau_shared.custody import CustodyAction, CustodyEntry, link
from pantau_shared.timestamping import request

T = TypeVar("T")
AT = datetime(2024, 2, 11, 8, 0, tzinfo=UTC)


def measured(work: Callable[[], T]) -> tuple[T, float, float]:
    """The result, seconds, and peak MiB allocated while it ran."""
    tracemalloc.start()
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, elapsed, peak


def items(identity: TsaIdentity, megabytes: int) -> list[BundleItem]:
    blobs = {
        "page.warc": (b"WARC/1.1\r\n" + bytes(range(256)) * 4096) * (megabytes * 1024 // 1024),
        "screenshot.png": b"\x89PNG\r\n\x1a\n" + b"\x10" * 400_000,
        "voice.ogg": b"OggS" + b"\x01" * 60_000,
    }
    made = []
    for name, data in blobs.items():
        digest = hashlib.sha256(data).hexdigest()
        made.append(
            BundleItem(
                name=name,
                data=data,
                media_type="application/octet-stream",
                source_url=None,
                fetched_at=AT,
                sha256=digest,
                timestamp=identity.respond(request(digest, 1)),
            )
        )
    return made


def chain(n: int) -> list[CustodyEntry]:
    entries: list[CustodyEntry] = []
    for i in range(n):
        previous = entries[-1] if entries else None
        entries.append(
            link(previous, at=AT + timedelta(seconds=i), actor="analis", action=CustodyAction.ACCESSED,
                 subject="0" * 64, detail=f"dibuka {i}")
        )  # fmt: skip
    return entries


def floor(evidence: list[BundleItem]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in evidence:
            hashlib.sha256(item.data).hexdigest()
            archive.writestr(item.name, item.data)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        for name in archive.namelist():
            hashlib.sha256(archive.read(name)).hexdigest()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=64)
    megabytes = parser.parse_args().megabytes
    identity, key = TsaIdentity.generate(), Ed25519PrivateKey.generate()
    evidence, entries = items(identity, megabytes), chain(200)
    size = sum(len(item.data) for item in evidence) / 2**20

    def build() -> bytes:
        return build_bundle(
            case_id="bench", case_number="BENCH-1", items=evidence, custody=entries,
            tsa_roots_pem=[identity.root.public_bytes(Encoding.PEM)], signing_key=key,
            key_id="bench", created_at=AT,
        )  # fmt: skip

    _, floor_s, floor_mib = measured(lambda: floor(evidence))
    data, build_s, build_mib = measured(build)
    verdict, verify_s, verify_mib = measured(lambda: verify_bundle(data))
    assert verdict.ok, verdict.failures
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bundle.zip"
        path.write_bytes(data)
        verdict, file_s, file_mib = measured(lambda: verify_bundle(path))
    assert verdict.ok, verdict.failures
    print(f"evidence {size:.1f} MiB in 3 files, 200 custody entries; bundle {len(data) / 2**20:.1f} MiB")
    print(f"{'':28}{'seconds':>10}{'MiB/s':>10}{'peak MiB':>10}")
    for label, seconds, peak in (
        ("baseline: sha256 + zip r/w", floor_s, floor_mib),
        ("build_bundle", build_s, build_mib),
        ("verify_bundle (bytes)", verify_s, verify_mib),
        ("verify_bundle (file)", file_s, file_mib),
    ):
        print(f"{label:28}{seconds:10.3f}{size / seconds:10.0f}{peak:10.0f}")


if __name__ == "__main__":
    main()
