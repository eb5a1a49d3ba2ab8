"""Evidence on the dev stack: a local RFC 3161 TSA (one authority per data directory, kept
across restarts) and the posts site to report links to, served from their own thread, and the
intake settings that point preservation at them.

The fetcher's test allowlist opens loopback only (the posts site, nothing else local), and the
bundle signing key is this data directory's own (`bundle-signing-key.pem`, its public half
beside it as `.pub`, for `pantau-evidence verify --public-key`)."""

import asyncio
import json
import threading
from pathlib import Path

from pantau_shared.bundle_keys import generate_key_pair

from .posts_site import PostsSite
from .tsa import LocalTsa


def evidence_env(home: Path, tsa_url: str, tsa_root_pem: bytes) -> dict[str, str]:
    key_file = home / "bundle-signing-key.pem"
    if not key_file.exists():
        pair = generate_key_pair()
        key_file.write_bytes(pair.private_pem)
        key_file.chmod(0o600)
        key_file.with_suffix(".pub").write_bytes(pair.public_pem)
    return {
        "PANTAU_INTAKE_OBJECT_STORE": json.dumps({"url": f"file://{home / 'evidence'}"}),
        "PANTAU_INTAKE_FETCH_TEST_ALLOWLIST": json.dumps(["127.0.0.1/32"]),
        "PANTAU_INTAKE_EVIDENCE_TSA_URL": tsa_url,
        "PANTAU_INTAKE_EVIDENCE_TSA_ROOTS": json.dumps([tsa_root_pem.decode()]),
        "PANTAU_INTAKE_EVIDENCE_BUNDLE_SIGNING_KEY": key_file.read_text(),
        "PANTAU_INTAKE_EVIDENCE_BUNDLE_KEY_ID": "pantau-dev-" + home.name[:40].replace(" ", "-"),
    }


class LocalEvidence:
    """The TSA and the posts site, in a thread of their own so `pantau-dev up` stays synchronous."""

    def __init__(self, home: Path, tsa_port: int, site_port: int) -> None:
        self._home = home
        self._ports = (tsa_port, site_port)
        self.tsa = LocalTsa(port=tsa_port, data_dir=home / "tsa")
        self.site = PostsSite(port=site_port)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="local-evidence", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(20):
            raise TimeoutError("the local TSA and posts site did not start")
        self.site.add("demo", "Ayo coblos nomor 3 besok pagi, ada amplop untuk warga RT 04")

    def env(self) -> dict[str, str]:
        return evidence_env(self._home, self.tsa.url, self.tsa.root_pem)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.tsa, self.site:
            self._ready.set()
            await self._stop.wait()
