"""Evidence bundles: one signed zip per case that anyone can verify offline.

`build_bundle` writes, in this order and always the same bytes for the same input:

    manifest.json     BundleManifest: every other file's path, SHA-256, size (and for
                      evidence its media type, source, fetch time and timestamp)
    manifest.sig      Ed25519 signature (64 raw bytes) over the bytes of manifest.json
    signer.pem        the signer's public key (SubjectPublicKeyInfo)
    tsa-roots.pem     the TSA root certificates the timestamps chain to
    custody.jsonl     the case's custody chain, one CustodyEntry per line
    custody/<name>.jsonl    further chains the case's chain pins (one per report)
    evidence/<name>   the evidence files, as kept
    timestamps/<name>.tsr   the RFC 3161 reply (DER) over each stamped file's SHA-256

Members are stored uncompressed with fixed metadata, and the zip comment carries the archive
seal: an Ed25519 signature over `SEAL_DOMAIN` and the SHA-512 of every byte before the comment
(a digest, so the verifier reads the archive in chunks), so
a change anywhere, even in zip metadata that holds no evidence, fails verification.

Ed25519 keys are cryptography's (`Ed25519PrivateKey`), not PyNaCl's: the same library already
reads the TSA's X.509 certificates, and it writes the PEM forms openssl verifies with, so a
bundle can also be checked without Pantau (docs/evidence-bundles.md).

`verify_bundle` (in `bundle_verifier`, re-exported here) never raises on a malformed archive:
it returns a verdict listing every check.
"""

import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import timestamping
from .bundle_keys import public_key_pem, raw_public_key
from .bundle_layout import (
    CHAINS_DIR,
    CUSTODY,
    EVIDENCE_DIR,
    MANIFEST,
    ROOTS,
    SEAL_DOMAIN,
    SEAL_LENGTH,
    SEAL_PREFIX,
    SIGNATURE,
    SIGNER,
    TIMESTAMPS_DIR,
)
from .bundle_verifier import BundleCheck, BundleVerdict, verify_bundle
from .contract.evidence_bundle import (
    BundleFile,
    BundleManifest,
    BundlePart,
    BundleSigner,
    BundleTimestamp,
    CustodySummary,
)
from .custody import GENESIS, CustodyEntry, verify_chain

__all__ = ["BundleCheck", "BundleItem", "BundleVerdict", "build_bundle", "verify_bundle"]


@dataclass(frozen=True)
class BundleItem:
    """An evidence file to put in a bundle, as the object store keeps it."""

    name: str  # path under evidence/ in the zip
    data: bytes
    media_type: str
    source_url: str | None
    fetched_at: datetime
    sha256: str
    timestamp: bytes | None = None  # DER TimeStampResp over sha256


def _member(name: str, created_at: datetime) -> zipfile.ZipInfo:
    moment = created_at.astimezone(UTC)
    info = zipfile.ZipInfo(name, date_time=(max(moment.year, 1980), *moment.timetuple()[1:6]))
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o100444 << 16
    return info


def _part(path: str, data: bytes) -> BundlePart:
    return BundlePart(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _stamped(item: BundleItem, path: str) -> BundleTimestamp | None:
    if item.timestamp is None:
        return None
    stamp = timestamping.parse(item.timestamp)
    return BundleTimestamp(
        **_part(path, item.timestamp).model_dump(), time=stamp.time, tsa=stamp.tsa, serial=str(stamp.serial)
    )


def _chain(path: str, entries: Sequence[CustodyEntry], files: dict[str, bytes]) -> CustodySummary:
    verify_chain(entries)
    data = b"".join(entry.model_dump_json().encode() + b"\n" for entry in entries)
    files[path] = data
    head = entries[-1].hash if entries else GENESIS
    return CustodySummary(**_part(path, data).model_dump(), entries=len(entries), head_hash=head)


def _evidence(items: Sequence[BundleItem], files: dict[str, bytes]) -> list[BundleFile]:
    listed: list[BundleFile] = []
    for item in items:
        path = f"{EVIDENCE_DIR}{item.name}"
        if hashlib.sha256(item.data).hexdigest() != item.sha256:
            raise ValueError(f"{item.name}: the bytes do not hash to {item.sha256}")
        if path in files:
            raise ValueError(f"{item.name}: two items of one name")
        files[path] = item.data
        stamp_path = f"{TIMESTAMPS_DIR}{item.name}.tsr"
        timestamp = _stamped(item, stamp_path)
        if item.timestamp is not None:
            files[stamp_path] = item.timestamp
        listed.append(
            BundleFile(
                **_part(path, item.data).model_dump(),
                media_type=item.media_type,
                source_url=item.source_url,
                fetched_at=item.fetched_at,
                timestamp=timestamp,
            )
        )
    return listed


def build_bundle(
    *,
    case_id: str,
    case_number: str,
    items: Sequence[BundleItem],
    custody: Sequence[CustodyEntry],
    tsa_roots_pem: Sequence[bytes],
    signing_key: Ed25519PrivateKey,
    key_id: str,
    created_at: datetime,
    chains: Mapping[str, Sequence[CustodyEntry]] | None = None,
) -> bytes:
    """The signed zip of a case's evidence: `custody` is the case's chain, `chains` further
    chains by name (a report id: `custody/<name>.jsonl`), each checked by the verifier.
    Refuses (ValueError) an item whose bytes do not hash to its sha256, duplicate or unsafe
    names, and a custody chain that does not verify."""
    files: dict[str, bytes] = {}
    listed = _evidence(items, files)
    case_chain = _chain(CUSTODY, custody, files)
    further = [_chain(f"{CHAINS_DIR}{name}.jsonl", chain, files) for name, chain in (chains or {}).items()]
    roots = b"".join(pem.strip() + b"\n" for pem in tsa_roots_pem)
    raw_key = raw_public_key(signing_key)
    manifest = BundleManifest(
        case_id=case_id,
        case_number=case_number,
        created_at=created_at,
        files=listed,
        custody=case_chain,
        chains=further,
        tsa_roots=_part(ROOTS, roots),
        signer=BundleSigner(key_id=key_id, public_key=raw_key.hex(), path=SIGNER),
    )
    manifest_bytes = manifest.model_dump_json(indent=2).encode() + b"\n"
    members = {
        MANIFEST: manifest_bytes,
        SIGNATURE: signing_key.sign(manifest_bytes),
        SIGNER: public_key_pem(raw_key),
        ROOTS: roots,
        CUSTODY: files.pop(CUSTODY),
        **files,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(_member(name, created_at), data)
        archive.comment = b"\0" * SEAL_LENGTH
    with buffer.getbuffer() as view:  # hashed in place: the archive is not copied to be sealed
        prefix = hashlib.sha512(view[:-SEAL_LENGTH]).digest()
    buffer.seek(-SEAL_LENGTH, io.SEEK_END)
    buffer.write(SEAL_PREFIX + signing_key.sign(SEAL_DOMAIN + prefix).hex().encode())
    return buffer.getvalue()
