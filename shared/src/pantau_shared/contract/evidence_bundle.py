"""The evidence bundle's documents: they leave Pantau for lawyers, police and courts.

A bundle is a zip (see docs/evidence-bundles.md): `manifest.json` (a `BundleManifest`, signed
in `manifest.sig`), the evidence files, their RFC 3161 tokens, `custody.jsonl` (one
`CustodyEntry` per line) and the TSA root certificates. Both documents are read by other
organisations' tools, so their fields only grow within a format version.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

__all__ = [
    "BUNDLE_FORMAT",
    "BundleFile",
    "BundleManifest",
    "BundlePart",
    "BundleSigner",
    "BundleTimestamp",
    "CustodyAction",
    "CustodyEntry",
    "CustodySummary",
    "Sha256Hex",
    "custody_time",
]

BUNDLE_FORMAT: Literal["pantau.evidence-bundle.v1"] = "pantau.evidence-bundle.v1"
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]
# Paths inside the zip: relative, `/`-separated, no segment starting with a dot (so no `..`).
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
BundlePath = Annotated[str, Field(pattern=f"^{_SEGMENT}(/{_SEGMENT})*$", max_length=200)]


def custody_time(at: datetime) -> str:
    """The one text form of a custody time: UTC, microseconds, `Z` (hashed as written)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


CustodyTime = Annotated[AwareDatetime, PlainSerializer(custody_time, return_type=str, when_used="json")]


class CustodyAction(StrEnum):
    PRESERVED = "preserved"
    TIMESTAMPED = "timestamped"
    ACCESSED = "accessed"
    EXPORTED = "exported"
    DELETED = "deleted"
    VERIFIED = "verified"


class CustodyEntry(BaseModel):
    """One link of the custody chain: who did what to which evidence, when.

    `hash` is the SHA-256 of the entry's canonical encoding (`pantau_shared.custody`), which
    includes `previous_hash`, the hash of the entry before it (`"0" * 64` for the first)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sequence: Annotated[int, Field(ge=1)]
    at: CustodyTime
    actor: Annotated[str, Field(min_length=1, max_length=200)]
    action: CustodyAction
    subject: Annotated[str, Field(min_length=1, max_length=200, description="Evidence SHA-256 or bundle id")]
    detail: Annotated[str, Field(max_length=2000)]
    previous_hash: Sha256Hex
    hash: Sha256Hex


class BundlePart(BaseModel):
    """A file of the bundle and what it must hash to."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    path: BundlePath
    sha256: Sha256Hex
    size: Annotated[int, Field(ge=0)]


class BundleTimestamp(BundlePart):
    """An RFC 3161 token (DER TimeStampResp) over a file's SHA-256, as the TSA sent it."""

    time: AwareDatetime = Field(description="The TSA's genTime")
    tsa: Annotated[str, Field(max_length=500)]
    serial: Annotated[str, Field(pattern=r"^[0-9]{1,60}$", description="Decimal: serials exceed 64 bits")]


class BundleFile(BundlePart):
    """An evidence file: what was kept, from where, when."""

    media_type: Annotated[str, Field(max_length=200, examples=["application/warc", "image/png"])]
    source_url: Annotated[str, Field(max_length=4000)] | None = None
    fetched_at: AwareDatetime
    timestamp: BundleTimestamp | None = None


class CustodySummary(BundlePart):
    entries: Annotated[int, Field(ge=0)]
    head_hash: Sha256Hex = Field(description="The last entry's hash: quote it to pin the chain")


class BundleSigner(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    algorithm: Literal["ed25519"] = "ed25519"
    key_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,100}$")]
    public_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Raw Ed25519 key, hex")]
    path: BundlePath = Field(description="The same key as PEM (SubjectPublicKeyInfo), for openssl")


class BundleManifest(BaseModel):
    """`manifest.json`: every file of the bundle but the manifest and its signature."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: Literal["pantau.evidence-bundle.v1"] = BUNDLE_FORMAT
    case_id: Annotated[str, Field(min_length=1, max_length=100)]
    case_number: Annotated[str, Field(min_length=1, max_length=100)]
    created_at: AwareDatetime
    files: list[BundleFile]
    custody: CustodySummary = Field(description="The case's custody chain")
    chains: list[CustodySummary] = Field(
        default=[], description="Further custody chains the case's chain pins, one per report"
    )
    tsa_roots: BundlePart
    signer: BundleSigner
