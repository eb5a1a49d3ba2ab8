"""Checking an evidence bundle offline: every check listed, never an exception.

The order follows trust: the zip is read (stored members only, so nothing inflates), the signer's
key is settled (the one given, else the bundle's own, said so in the verdict), the archive seal
and the manifest signature are checked with it, and only a signed manifest's word is used to
check the files, the timestamps (against the TSA roots given, else the bundle's) and the
custody chains. Check names and details are in Bahasa Indonesia: `pantau-evidence` prints them.
"""

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import BaseModel, ConfigDict, ValidationError

from . import timestamping
from .bundle_keys import fingerprint, public_key_from_text
from .bundle_layout import EVIDENCE_DIR, MANIFEST, SEAL_DOMAIN, SEAL_LENGTH, SEAL_PREFIX, SIGNATURE, SIGNER
from .contract.evidence_bundle import BundleManifest, BundlePart, CustodySummary
from .contract.reasons import reasons
from .custody import GENESIS, ChainBroken, CustodyEntry, verify_chain

__all__ = ["BundleCheck", "BundleVerdict", "verify_bundle"]

_CHUNK = 1 << 20
# Members the checks read whole (everything but evidence): a bundle's are a few KiB to MiB.
_KEEP_BYTES = 64 << 20


class BundleCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    detail: str


class BundleVerdict(BaseModel):
    """Every check made, in order; `ok` only when all passed. The rest is what a person needs
    to read the result: whose key and which TSA roots were trusted, the verified TSA times, the
    custody history and the chain heads."""

    model_config = ConfigDict(frozen=True)

    checks: list[BundleCheck]
    manifest: BundleManifest | None
    key_source: Literal["given", "bundle"]
    fingerprint: str | None
    tsa_roots_source: Literal["given", "bundle"] = "bundle"
    tsa_roots: list[str] = []  # subject and SHA-256 of each trusted root certificate
    timestamps: dict[str, datetime] = {}  # evidence path -> verified TSA time
    custody: list[CustodyEntry] = []  # the case's chain, verified
    custody_head: str | None = None
    chain_heads: dict[str, str] = {}  # further chains, path -> verified head

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[BundleCheck]:
        return [check for check in self.checks if not check.ok]


class _Checks:
    def __init__(self) -> None:
        self.checks: list[BundleCheck] = []
        self.damaged: set[str] = set()  # members whose bytes fail the zip's own CRC-32

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(BundleCheck(name=name, ok=ok, detail=detail))
        return ok


class _Members:
    """What the zip holds: every member's SHA-256 and size, read in chunks, and the bytes of the
    small ones the checks read (the manifest, keys, roots, chains, tokens). Evidence files are
    only hashed, so a bundle of any size verifies in little memory."""

    def __init__(self) -> None:
        self.digests: dict[str, tuple[str, int]] = {}
        self.kept: dict[str, bytes] = {}

    def get(self, name: str) -> bytes:
        return self.kept.get(name, b"")

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        keep = not info.filename.startswith(EVIDENCE_DIR) and info.file_size <= _KEEP_BYTES
        digest, size, chunks = hashlib.sha256(), 0, []
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if keep:
                    chunks.append(chunk)
        self.digests[info.filename] = (digest.hexdigest(), size)
        if keep:
            self.kept[info.filename] = b"".join(chunks)


def _read_members(file: BinaryIO, size: int, checks: _Checks) -> tuple[_Members, bytes] | None:
    """The members and the zip comment, or None (with the failed check) if it is no bundle zip."""
    try:
        archive = zipfile.ZipFile(file)
    # NotImplementedError: a zip version or feature the standard library does not read.
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as error:
        checks.add("arsip", False, f"bukan berkas zip yang dapat dibaca ({error})")
        return None
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            checks.add("arsip", False, "ada nama berkas ganda di dalam zip")
            return None
        if any(info.flag_bits & 0x1 for info in infos):
            # Pantau never encrypts a member; a set encryption bit is a changed byte.
            checks.add("arsip", False, "berkas di dalam zip bertanda terenkripsi, bukan format bundel Pantau")
            return None
        if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
            # A bundle stores members uncompressed: anything else is not ours (or a zip bomb).
            checks.add("arsip", False, "berkas di dalam zip dimampatkan, bukan format bundel Pantau")
            return None
        if sum(info.file_size for info in infos) > size:
            checks.add("arsip", False, "ukuran berkas yang tercatat melebihi ukuran arsip")
            return None
        members = _Members()
        for info in infos:
            try:
                members.read(archive, info)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
                # Named again by the check of the file itself, so the verdict says which one changed.
                checks.damaged.add(info.filename)
        if checks.damaged:
            damaged = ", ".join(sorted(checks.damaged))
            checks.add(
                "arsip", False, f"zip terbaca, tetapi isi berkas ini tidak cocok dengan CRC-32: {damaged}"
            )
        else:
            checks.add("arsip", True, f"zip terbaca, {len(members.digests)} berkas")
        return members, archive.comment


def _trusted_key(
    members: _Members, given: bytes | None, checks: _Checks
) -> tuple[Ed25519PublicKey | None, bytes | None]:
    own: bytes | None = None
    try:
        own = public_key_from_text(members.get(SIGNER).decode("ascii"))
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


def _prefix_digest(file: BinaryIO, length: int) -> bytes:
    digest = hashlib.sha512()
    file.seek(0)
    while length > 0 and (chunk := file.read(min(_CHUNK, length))):
        digest.update(chunk)
        length -= len(chunk)
    return digest.digest()


def _check_seal(file: BinaryIO, size: int, comment: bytes, key: Ed25519PublicKey, checks: _Checks) -> None:
    file.seek(max(size - len(comment), 0))
    if len(comment) != SEAL_LENGTH or not comment.startswith(SEAL_PREFIX) or file.read() != comment:
        checks.add("segel arsip", False, "segel arsip tidak ada atau ada data tambahan di akhir zip")
        return
    written = comment[len(SEAL_PREFIX) :]
    try:
        signature = bytes.fromhex(written.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        signature = b""
    if signature.hex().encode() != written:  # one spelling only: lower-case hex
        checks.add("segel arsip", False, "segel arsip rusak")
        return
    if _signed(key, signature, SEAL_DOMAIN + _prefix_digest(file, size - len(comment))):
        checks.add("segel arsip", True, "setiap bait arsip sesuai dengan yang ditandatangani")
    else:
        checks.add("segel arsip", False, "arsip zip diubah setelah ditandatangani")


def _check_manifest(
    members: _Members, key: Ed25519PublicKey, raw_key: bytes, checks: _Checks
) -> BundleManifest | None:
    manifest_bytes = members.kept.get(MANIFEST)
    if MANIFEST in checks.damaged:
        checks.add("tanda tangan manifest", False, "manifest.json berubah (CRC-32 zip tidak cocok)")
        return None
    if manifest_bytes is None:
        checks.add("manifest", False, f"{MANIFEST} tidak ada atau terlalu besar")
        return None
    if not _signed(key, members.get(SIGNATURE), manifest_bytes):
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


def _check_parts(members: _Members, manifest: BundleManifest, checks: _Checks) -> set[str]:
    """The paths whose bytes are as the manifest says."""
    parts: list[BundlePart] = [manifest.custody, *manifest.chains, manifest.tsa_roots]
    for file in manifest.files:
        parts.append(file)
        if file.timestamp is not None:
            parts.append(file.timestamp)
    intact: set[str] = set()
    for part in parts:
        seen = members.digests.get(part.path)
        if part.path in checks.damaged:
            checks.add(f"berkas {part.path}", False, "isinya berubah (CRC-32 zip tidak cocok)")
        elif seen is None:
            checks.add(f"berkas {part.path}", False, "hilang dari bundel")
        elif seen != (part.sha256, part.size):
            checks.add(
                f"berkas {part.path}", False, "isinya berubah: hash SHA-256 tidak cocok dengan manifest"
            )
        else:
            checks.add(f"berkas {part.path}", True, f"SHA-256 {part.sha256} cocok, {part.size} bait")
            intact.add(part.path)
    expected = {MANIFEST, SIGNATURE, SIGNER, *(part.path for part in parts)}
    extra = sorted((set(members.digests) | checks.damaged) - expected)
    checks.add(
        "daftar berkas",
        not extra,
        "tidak ada berkas di luar manifest" if not extra else f"berkas di luar manifest: {', '.join(extra)}",
    )
    return intact


def _describe_roots(roots_pem: Sequence[bytes]) -> list[str]:
    described = []
    for pem in roots_pem:
        try:
            certificates = x509.load_pem_x509_certificates(pem)
        except ValueError:
            described.append("sertifikat tidak terbaca")
            continue
        for certificate in certificates:
            digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
            described.append(f"{certificate.subject.rfc4514_string()}, SHA-256 {digest}")
    return described


def _check_timestamps(
    members: _Members,
    manifest: BundleManifest,
    intact: set[str],
    roots: Sequence[bytes],
    checks: _Checks,
) -> dict[str, datetime]:
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
            time = timestamping.verify(members.get(file.timestamp.path), file.sha256, roots)
        except timestamping.TimestampInvalid as error:
            checks.add(f"cap waktu {file.path}", False, str(error))
            continue
        if time != file.timestamp.time:
            checks.add(f"cap waktu {file.path}", False, "waktu di manifest berbeda dari waktu di token TSA")
            continue
        verified[file.path] = time
        checks.add(f"cap waktu {file.path}", True, f"sah, dari {file.timestamp.tsa}")
    return verified


def _check_chain(members: _Members, summary: CustodySummary, checks: _Checks) -> list[CustodyEntry] | None:
    name = f"rantai kustodi {summary.path}"
    try:
        entries = [CustodyEntry.model_validate_json(line) for line in members.get(summary.path).splitlines()]
        verify_chain(entries)
    except ValidationError as error:
        checks.add(name, False, f"entri tidak sesuai format: {reasons(error)}")
        return None
    except ChainBroken as error:
        checks.add(name, False, f"rantai putus di {error}")
        return None
    head = entries[-1].hash if entries else GENESIS
    if len(entries) != summary.entries or head != summary.head_hash:
        checks.add(name, False, "jumlah entri atau kepala rantai berbeda dari manifest")
        return None
    checks.add(name, True, f"{len(entries)} entri menyambung, kepala rantai {head}")
    return entries


@dataclass
class _Findings:
    manifest: BundleManifest | None = None
    fingerprint: str | None = None
    tsa_roots: list[str] = field(default_factory=list)
    timestamps: dict[str, datetime] = field(default_factory=dict)
    custody: list[CustodyEntry] = field(default_factory=list)
    custody_head: str | None = None
    chain_heads: dict[str, str] = field(default_factory=dict)


def _check_contents(
    members: _Members,
    manifest: BundleManifest,
    tsa_roots: Sequence[bytes] | None,
    checks: _Checks,
    found: _Findings,
) -> None:
    intact = _check_parts(members, manifest, checks)
    roots = list(tsa_roots) if tsa_roots is not None else [members.get(manifest.tsa_roots.path)]
    found.tsa_roots = _describe_roots(roots)
    found.timestamps = _check_timestamps(members, manifest, intact, roots, checks)
    case_chain = _check_chain(members, manifest.custody, checks)
    if case_chain is not None:
        found.custody = case_chain
        found.custody_head = case_chain[-1].hash if case_chain else GENESIS
    for summary in manifest.chains:
        chain = _check_chain(members, summary, checks)
        if chain is not None:
            found.chain_heads[summary.path] = summary.head_hash


def _verify(
    file: BinaryIO,
    public_key: bytes | None,
    tsa_roots: Sequence[bytes] | None,
    checks: _Checks,
    found: _Findings,
) -> None:
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    read = _read_members(file, size, checks)
    if read is None:
        return
    members, comment = read
    key, raw_key = _trusted_key(members, public_key, checks)
    if key is None or raw_key is None:
        return
    found.fingerprint = fingerprint(raw_key)
    _check_seal(file, size, comment, key, checks)
    found.manifest = _check_manifest(members, key, raw_key, checks)
    if found.manifest is not None:
        _check_contents(members, found.manifest, tsa_roots, checks, found)


def verify_bundle(
    bundle: bytes | Path, *, public_key: bytes | None = None, tsa_roots_pem: Sequence[bytes] | None = None
) -> BundleVerdict:
    """Every check of a bundle, given as bytes or as a file (read in chunks: any size).

    With `public_key` (32 raw bytes, from the issuing agency) the bundle must be signed by that
    key; without it the bundle's own key is used, which proves only that the bundle is
    unchanged since someone signed it: the verdict says so and gives the key's fingerprint to
    compare out of band. Likewise the timestamps are checked against `tsa_roots_pem` (the TSA's
    published roots) when given, else against the roots the signer put in the bundle."""
    checks, found = _Checks(), _Findings()
    try:
        with open(bundle, "rb") if isinstance(bundle, Path) else io.BytesIO(bundle) as file:
            _verify(file, public_key, tsa_roots_pem, checks, found)
    except OSError as error:
        checks.add("arsip", False, f"berkas tidak dapat dibaca ({error.strerror or error})")
    except Exception as error:
        # Belt and braces: whatever a crafted archive trips over is a failed check, never a crash.
        checks.add("pemeriksaan", False, f"bundel tidak dapat diperiksa ({type(error).__name__})")
    return BundleVerdict(
        checks=checks.checks,
        manifest=found.manifest,
        key_source="given" if public_key is not None else "bundle",
        fingerprint=found.fingerprint,
        tsa_roots_source="given" if tsa_roots_pem is not None else "bundle",
        tsa_roots=found.tsa_roots,
        timestamps=found.timestamps,
        custody=found.custody,
        custody_head=found.custody_head,
        chain_heads=found.chain_heads,
    )
