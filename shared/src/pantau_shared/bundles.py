"""Evidence bundles: one signed zip per case that anyone can verify offline.

`build_bundle` writes, in this order and always the same bytes for the same input:

    manifest.json     BundleManifest: every other file's path, SHA-256, size (and for
                      evidence its media type, source, fetch time and timestamp)
    manifest.sig      Ed25519 signature (64 raw bytes) over the bytes of manifest.json
    signer.pem        the signer's public key (SubjectPublicKeyInfo)
    tsa-roots.pem     the TSA root certificates the timestamps chain to
    custody.jsonl     the custody chain, one CustodyEntry per line
    evidence/<name>   the evidence files, as kept
    timestamps/<name>.tsr   the RFC 3161 reply (DER) over each stamped file's SHA-256

Members are stored uncompressed with fixed metadata, and the zip comment carries the archive
seal: an Ed25519 signature over every byte before the comment (prefixed by `SEAL_DOMAIN`), so
a change anywhere, even in zip metadata that holds no evidence, fails verification.

Ed25519 keys are cryptography's (`Ed25519PrivateKey`), not PyNaCl's: the same library already
reads the TSA's X.509 certificates, and it writes the PEM forms openssl verifies with, so a
bundle can also be checked without Pantau (docs/evidence-bundles.md).

`verify_bundle` never raises on a malformed archive: it returns a verdict listing every check.
"""

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from . import timestamping
from .bundle_keys import fingerprint, public_key_from_text, public_key_pem, raw_public_key
from .contract.evidence_bundle import (
    BundleFile,
    BundleManifest,
    BundlePart,
    BundleSigner,
    BundleTimestamp,
    CustodySummary,
)
from .contract.reasons import reasons
from .custody import GENESIS, ChainBroken, CustodyEntry, verify_chain

__all__ = ["BundleCheck", "BundleItem", "BundleVerdict", "build_bundle", "verify_bundle"]

MANIFEST, SIGNATURE, SIGNER, ROOTS, CUSTODY = (
    "manifest.json",
    "manifest.sig",
    "signer.pem",
    "tsa-roots.pem",
    "custody.jsonl",
)
SEAL_DOMAIN = b"pantau-evidence-bundle-seal-v1\n"
_SEAL_PREFIX = b"pantau-seal ed25519 "
_SEAL_LENGTH = len(_SEAL_PREFIX) + 128


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


class BundleCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    detail: str


class BundleVerdict(BaseModel):
    """Every check made, in order; `ok` only when all passed."""

    model_config = ConfigDict(frozen=True)

    checks: list[BundleCheck]
    manifest: BundleManifest | None
    key_source: Literal["given", "bundle"]
    fingerprint: str | None
    timestamps: dict[str, datetime]  # evidence path -> verified TSA time
    custody_head: str | None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[BundleCheck]:
        return [check for check in self.checks if not check.ok]


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
) -> bytes:
    """The signed zip of a case's evidence. Refuses (ValueError) an item whose bytes do not
    hash to its sha256, duplicate names, and a custody chain that does not verify."""
    verify_chain(custody)
    files: dict[str, bytes] = {}
    listed: list[BundleFile] = []
    for item in items:
        path = f"evidence/{item.name}"
        if hashlib.sha256(item.data).hexdigest() != item.sha256:
            raise ValueError(f"{item.name}: the bytes do not hash to {item.sha256}")
        if path in files:
            raise ValueError(f"{item.name}: two items of one name")
        files[path] = item.data
        stamp_path = f"timestamps/{item.name}.tsr"
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
    custody_bytes = b"".join(entry.model_dump_json().encode() + b"\n" for entry in custody)
    roots = b"".join(pem.strip() + b"\n" for pem in tsa_roots_pem)
    raw_key = raw_public_key(signing_key)
    manifest = BundleManifest(
        case_id=case_id,
        case_number=case_number,
        created_at=created_at,
        files=listed,
        custody=CustodySummary(
            **_part(CUSTODY, custody_bytes).model_dump(),
            entries=len(custody),
            head_hash=custody[-1].hash if custody else GENESIS,
        ),
        tsa_roots=_part(ROOTS, roots),
        signer=BundleSigner(key_id=key_id, public_key=raw_key.hex(), path=SIGNER),
    )
    manifest_bytes = manifest.model_dump_json(indent=2).encode() + b"\n"
    members = {
        MANIFEST: manifest_bytes,
        SIGNATURE: signing_key.sign(manifest_bytes),
        SIGNER: public_key_pem(raw_key),
        ROOTS: roots,
        CUSTODY: custody_bytes,
        **files,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(_member(name, created_at), data)
        archive.comment = b"\0" * _SEAL_LENGTH
    unsealed = buffer.getvalue()[:-_SEAL_LENGTH]
    return unsealed + _SEAL_PREFIX + signing_key.sign(SEAL_DOMAIN + unsealed).hex().encode()


class _Checks:
    def __init__(self) -> None:
        self.checks: list[BundleCheck] = []
        self.damaged: set[str] = set()  # members whose bytes fail the zip's own CRC-32

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(BundleCheck(name=name, ok=ok, detail=detail))
        return ok


def _read_members(data: bytes, checks: _Checks) -> tuple[dict[str, bytes], bytes] | None:
    """The members and the zip comment, or None (with the failed check) if it is no bundle zip."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        checks.add("arsip", False, f"bukan berkas zip yang dapat dibaca ({error})")
        return None
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            checks.add("arsip", False, "ada nama berkas ganda di dalam zip")
            return None
        if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
            # A bundle stores members uncompressed: anything else is not ours (or a zip bomb).
            checks.add("arsip", False, "berkas di dalam zip dimampatkan, bukan format bundel Pantau")
            return None
        if sum(info.file_size for info in infos) > len(data):
            checks.add("arsip", False, "ukuran berkas yang tercatat melebihi ukuran arsip")
            return None
        members: dict[str, bytes] = {}
        for info in infos:
            try:
                members[info.filename] = archive.read(info)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
                # Named again by the check of the file itself, so the verdict says which one changed.
                checks.damaged.add(info.filename)
        if checks.damaged:
            damaged = ", ".join(sorted(checks.damaged))
            checks.add(
                "arsip", False, f"zip terbaca, tetapi isi berkas ini tidak cocok dengan CRC-32: {damaged}"
            )
        else:
            checks.add("arsip", True, f"zip terbaca, {len(members)} berkas")
        return members, archive.comment


def _trusted_key(
    members: dict[str, bytes], given: bytes | None, checks: _Checks
) -> tuple[Ed25519PublicKey | None, bytes | None]:
    own: bytes | None = None
    try:
        own = public_key_from_text(members.get(SIGNER, b"").decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        checks.add("kunci penanda tangan", False, f"{SIGNER} tidak ada atau bukan kunci publik Ed25519")
    raw = given if given is not None else own
    if given is not None and own is not None:
        if given == own:
            checks.add("kunci penanda tangan", True, "kunci di bundel sama dengan kunci yang diberikan")
        else:
            checks.add(
                "kunci penanda tangan",
                False,
                f"bundel ditandatangani kunci lain (sidik jari {fingerprint(own)}), "
                f"bukan kunci yang diberikan ({fingerprint(given)})",
            )
    if raw is None:
        return None, None
    try:
        return Ed25519PublicKey.from_public_bytes(raw), raw
    except ValueError:
        checks.add("kunci penanda tangan", False, "kunci publik yang diberikan bukan kunci Ed25519")
        return None, None


def _signed(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _check_seal(data: bytes, comment: bytes, key: Ed25519PublicKey, checks: _Checks) -> None:
    if len(comment) != _SEAL_LENGTH or not comment.startswith(_SEAL_PREFIX) or not data.endswith(comment):
        checks.add("segel arsip", False, "segel arsip tidak ada atau ada data tambahan di akhir zip")
        return
    written = comment[len(_SEAL_PREFIX) :]
    try:
        signature = bytes.fromhex(written.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        signature = b""
    if signature.hex().encode() != written:  # one spelling only: lower-case hex
        checks.add("segel arsip", False, "segel arsip rusak")
        return
    if _signed(key, signature, SEAL_DOMAIN + data[: -len(comment)]):
        checks.add("segel arsip", True, "setiap bait arsip sesuai dengan yang ditandatangani")
    else:
        checks.add("segel arsip", False, "arsip zip diubah setelah ditandatangani")


def _check_manifest(
    members: dict[str, bytes], key: Ed25519PublicKey, raw_key: bytes, checks: _Checks
) -> BundleManifest | None:
    manifest_bytes = members.get(MANIFEST)
    if MANIFEST in checks.damaged:
        checks.add("tanda tangan manifest", False, "manifest.json berubah (CRC-32 zip tidak cocok)")
        return None
    if manifest_bytes is None:
        checks.add("manifest", False, f"{MANIFEST} tidak ada")
        return None
    if not _signed(key, members.get(SIGNATURE, b""), manifest_bytes):
        checks.add("tanda tangan manifest", False, "tanda tangan atas manifest.json tidak sah atau tidak ada")
        return None
    checks.add("tanda tangan manifest", True, "tanda tangan Ed25519 atas manifest.json sah")
    try:
        manifest = BundleManifest.model_validate_json(manifest_bytes)
    except ValidationError as error:
        checks.add("manifest", False, f"manifest.json tidak sesuai format: {reasons(error)}")
        return None
    checks.add(
        "manifest",
        manifest.signer.public_key == raw_key.hex() and manifest.signer.path == SIGNER,
        f"perkara {manifest.case_number}, {len(manifest.files)} berkas bukti, kunci {manifest.signer.key_id}",
    )
    return manifest


def _check_parts(members: dict[str, bytes], manifest: BundleManifest, checks: _Checks) -> set[str]:
    """The paths whose bytes are as the manifest says."""
    parts: list[BundlePart] = [manifest.custody, manifest.tsa_roots]
    for file in manifest.files:
        parts.append(file)
        if file.timestamp is not None:
            parts.append(file.timestamp)
    intact: set[str] = set()
    for part in parts:
        data = members.get(part.path)
        if part.path in checks.damaged:
            checks.add(f"berkas {part.path}", False, "isinya berubah (CRC-32 zip tidak cocok)")
        elif data is None:
            checks.add(f"berkas {part.path}", False, "hilang dari bundel")
        elif len(data) != part.size or hashlib.sha256(data).hexdigest() != part.sha256:
            checks.add(
                f"berkas {part.path}", False, "isinya berubah: hash SHA-256 tidak cocok dengan manifest"
            )
        else:
            checks.add(f"berkas {part.path}", True, f"SHA-256 {part.sha256} cocok, {part.size} bait")
            intact.add(part.path)
    expected = {MANIFEST, SIGNATURE, SIGNER, *(part.path for part in parts)}
    extra = sorted((set(members) | checks.damaged) - expected)
    checks.add(
        "daftar berkas",
        not extra,
        "tidak ada berkas di luar manifest" if not extra else f"berkas di luar manifest: {', '.join(extra)}",
    )
    return intact


def _check_timestamps(
    members: dict[str, bytes], manifest: BundleManifest, intact: set[str], checks: _Checks
) -> dict[str, datetime]:
    roots = [members.get(manifest.tsa_roots.path, b"")]
    verified: dict[str, datetime] = {}
    for file in manifest.files:
        if file.timestamp is None:
            checks.add(f"cap waktu {file.path}", True, "tidak ada cap waktu untuk berkas ini")
            continue
        if file.path not in intact:
            # The token may well be valid, for bytes that are no longer the ones in the bundle.
            checks.add(f"cap waktu {file.path}", False, "tidak berlaku: berkasnya tidak sama lagi")
            continue
        try:
            time = timestamping.verify(members.get(file.timestamp.path, b""), file.sha256, roots)
        except timestamping.TimestampInvalid as error:
            checks.add(f"cap waktu {file.path}", False, str(error))
            continue
        if time != file.timestamp.time:
            checks.add(f"cap waktu {file.path}", False, "waktu di manifest berbeda dari waktu di token TSA")
            continue
        verified[file.path] = time
        checks.add(f"cap waktu {file.path}", True, f"sah, dari {file.timestamp.tsa}")
    return verified


def _check_custody(members: dict[str, bytes], manifest: BundleManifest, checks: _Checks) -> str | None:
    lines = members.get(manifest.custody.path, b"").splitlines()
    try:
        entries = [CustodyEntry.model_validate_json(line) for line in lines]
        verify_chain(entries)
    except ValidationError as error:
        checks.add("rantai kustodi", False, f"entri tidak sesuai format: {reasons(error)}")
        return None
    except ChainBroken as error:
        checks.add("rantai kustodi", False, f"rantai putus di {error}")
        return None
    head = entries[-1].hash if entries else GENESIS
    if len(entries) != manifest.custody.entries or head != manifest.custody.head_hash:
        checks.add("rantai kustodi", False, "jumlah entri atau kepala rantai berbeda dari manifest")
        return None
    checks.add("rantai kustodi", True, f"{len(entries)} entri menyambung, kepala rantai {head}")
    return head


@dataclass
class _Findings:
    manifest: BundleManifest | None = None
    fingerprint: str | None = None
    timestamps: dict[str, datetime] = field(default_factory=dict)
    custody_head: str | None = None


def _verify(data: bytes, public_key: bytes | None, checks: _Checks, found: _Findings) -> None:
    read = _read_members(data, checks)
    if read is None:
        return
    members, comment = read
    key, raw_key = _trusted_key(members, public_key, checks)
    if key is None or raw_key is None:
        return
    found.fingerprint = fingerprint(raw_key)
    _check_seal(data, comment, key, checks)
    found.manifest = _check_manifest(members, key, raw_key, checks)
    if found.manifest is not None:
        intact = _check_parts(members, found.manifest, checks)
        found.timestamps = _check_timestamps(members, found.manifest, intact, checks)
        found.custody_head = _check_custody(members, found.manifest, checks)


def verify_bundle(data: bytes, *, public_key: bytes | None = None) -> BundleVerdict:
    """Every check of a bundle. With `public_key` (32 raw bytes, from the issuing agency) the
    bundle must be signed by that key; without it the bundle's own key is used, which proves
    only that the bundle is unchanged since someone signed it: the verdict says so and gives
    the key's fingerprint to compare out of band."""
    checks, found = _Checks(), _Findings()
    try:
        _verify(data, public_key, checks, found)
    except Exception as error:
        # Belt and braces: whatever a crafted archive trips over is a failed check, never a crash.
        checks.add("pemeriksaan", False, f"bundel tidak dapat diperiksa ({type(error).__name__})")
    return BundleVerdict(
        checks=checks.checks,
        manifest=found.manifest,
        key_source="given" if public_key is not None else "bundle",
        fingerprint=found.fingerprint,
        timestamps=found.timestamps,
        custody_head=found.custody_head,
    )
