"""A small case's evidence, stamped by the local TSA's signing code (no server: pure calls)."""

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from pantau_devstack.tsa import TsaIdentity
from pantau_shared.bundles import BundleItem, build_bundle
from pantau_shared.custody import CustodyAction, CustodyEntry, link
from pantau_shared.timestamping import request

FETCHED = datetime(2024, 2, 11, 8, 0, tzinfo=UTC)
KEY_ID = "bawaslu-3375-2024"
REPORT = "0d3f9a52-7c1e-4b8a-9e2f-5a6b7c8d9e01"


def item(identity: TsaIdentity | None, name: str, data: bytes, media_type: str) -> BundleItem:
    digest = hashlib.sha256(data).hexdigest()
    return BundleItem(
        name=name,
        data=data,
        media_type=media_type,
        source_url=f"https://www.facebook.com/posts/{name}",
        fetched_at=FETCHED,
        sha256=digest,
        timestamp=identity.respond(request(digest, 7)) if identity is not None else None,
    )


def evidence(identity: TsaIdentity) -> list[BundleItem]:
    return [
        item(
            identity,
            "page.warc",
            b"WARC/1.1\r\nWARC-Type: response\r\n\r\n" + b"<p>hoaks</p>" * 20,
            "application/warc",
        ),
        item(identity, "screenshot.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2, "image/png"),
        item(None, "voice.ogg", b"OggS" + b"\x01" * 100, "audio/ogg"),
    ]


def custody(items: list[BundleItem]) -> list[CustodyEntry]:
    entries: list[CustodyEntry] = []
    for i, evidence_item in enumerate(items):
        for action in (CustodyAction.PRESERVED, CustodyAction.TIMESTAMPED):
            entries.append(
                link(
                    entries[-1] if entries else None,
                    at=FETCHED + timedelta(seconds=len(entries)),
                    actor="intake",
                    action=action,
                    subject=evidence_item.sha256,
                    detail=f"bukti {i}",
                )
            )
    return entries


def bundle(
    identity: TsaIdentity,
    key: Ed25519PrivateKey,
    items: list[BundleItem],
    entries: list[CustodyEntry] | None = None,
    chains: dict[str, list[CustodyEntry]] | None = None,
) -> bytes:
    return build_bundle(
        case_id="5f0c7b52-2f41-4d43-9a57-6b1f8d1e0c11",
        case_number="2152F563-4A5B",
        items=items,
        custody=custody(items) if entries is None else entries,
        tsa_roots_pem=[identity.root.public_bytes(Encoding.PEM)],
        signing_key=key,
        key_id=KEY_ID,
        created_at=FETCHED + timedelta(hours=2),
        chains={REPORT: custody(items[:1])} if chains is None else chains,
    )
