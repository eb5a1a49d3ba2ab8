"""Evidence of reports: what a reported link pointed at, kept by intake (docs/evidence.md).

Intake fetches each URL of a report or observed post once it is stored, keeps the HTTP exchange
as WARC, a screenshot and the page's media in the object store, and stamps each item's SHA-256
with an RFC 3161 timestamp. `evidence.preserved` tells the other services a URL's evidence is
kept (or why it could not be). The gateway lists a report's or a case's items, reads an item's
bytes, and has intake build a case's signed evidence bundle; every read, export and deletion is
appended to the report's hash-chained custody log, so these are commands, not queries.

An item's bytes (and a bundle) cross NATS in chunks of at most `CHUNK_BYTES`, well under NATS's
default 1 MiB payload once base64 and the envelope are added.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .events import AgencyId, AwareDatetime, EventData, Sha256Hex
from .fields import Text
from .ids import stable_id
from .rpc import Actor, CaseQuery, Command, Method, MethodKind, ReportQuery

CHUNK_BYTES = 512 * 1024

EvidenceKind = Literal["warc", "screenshot", "media", "attachment"]
# preserved: kept in the object store; refused: the URL may not be fetched (file:, loopback,
# private, metadata, too large); failed: unreachable after every retry; unavailable: this kind
# could not be made here (no browser for a screenshot); deleted: removed under retention.
EvidenceStatus = Literal["preserved", "refused", "failed", "unavailable", "deleted"]
# stamped: an RFC 3161 token from the configured authority; not_timestamped: none configured.
TimestampState = Literal["pending", "stamped", "not_timestamped", "failed"]
ItemText = Annotated[str, Field(max_length=2_000)]


class EvidenceSummary(BaseModel):
    """One kept item as an event carries it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: EvidenceKind
    status: EvidenceStatus
    sha256: Sha256Hex | None = None
    size: int | None = None
    media_type: str | None = None
    url: str | None = None
    reason: ItemText | None = None


class EvidencePreserved(EventData):
    """A URL (or an attachment) of a report has been preserved, refused or given up on."""

    TYPE: ClassVar[str] = "evidence.preserved.v1"
    SUBJECT: ClassVar[str] = "evidence.preserved"
    KEY_FIELD: ClassVar[str] = "report_id"

    report_id: UUID
    agency_id: AgencyId
    observation_id: UUID | None = None
    # The reported URL; none for a report's attachments.
    url: Annotated[str, Field(max_length=4_096)] | None = None
    outcome: Literal["preserved", "refused", "failed"]
    reason: ItemText | None = None
    items: tuple[EvidenceSummary, ...] = Field(default=(), max_length=200)
    preserved_at: AwareDatetime

    def event_id(self) -> UUID:
        return stable_id("evidence.preserved", f"{self.report_id}:{self.url}:{self.outcome}")


class EvidenceItem(BaseModel):
    """An item as listed: where it came from, its hash, and its trusted time."""

    item_id: UUID
    report_id: UUID
    observation_id: UUID | None = None
    url: str | None
    kind: EvidenceKind
    status: EvidenceStatus
    sha256: Sha256Hex | None
    size: int | None
    media_type: str | None
    fetched_at: datetime | None
    reason: str | None = None
    timestamp: TimestampState
    timestamp_time: datetime | None = None
    timestamp_tsa: str | None = None
    # The token checked against the trusted roots when listed: None when there is no token.
    timestamp_verified: bool | None = None


class EvidenceList(BaseModel):
    items: list[EvidenceItem]
    # URLs still waiting to be fetched (or retried).
    pending: int = 0


class ReadEvidence(Command):
    """A chunk of an item's (or a built bundle's) bytes. Reading the first chunk of an item
    appends `accessed` to the custody log of each of the agency's reports holding it."""

    sha256: Sha256Hex
    offset: int = Field(default=0, ge=0)
    actor: Actor


class EvidenceChunk(BaseModel):
    # The bytes travel as base64 in JSON and are plain bytes in Python.
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    sha256: Sha256Hex
    media_type: str
    size: int
    offset: int
    data: bytes
    last: bool


class BuildBundle(Command):
    """Build, sign and keep the case's evidence bundle; appends `exported` to each report's log."""

    case_id: UUID
    actor: Actor


class BundleBuilt(BaseModel):
    case_id: UUID
    sha256: Sha256Hex
    size: int
    items: int
    built_at: datetime


class DeleteEvidence(Command):
    """Remove a report's evidence bytes under retention; the items and custody log stay."""

    report_id: UUID
    actor: Actor
    reason: Annotated[Text, Field(min_length=1, max_length=500)]


class EvidenceDeleted(BaseModel):
    report_id: UUID
    deleted: int


Q, C = MethodKind.QUERY, MethodKind.COMMAND
EVIDENCE_REPORT = Method("evidence.report", Q, "intake", ReportQuery, EvidenceList, "A report's evidence")
EVIDENCE_CASE = Method(
    "evidence.case", Q, "intake", CaseQuery, EvidenceList, "The evidence of a case's reports"
)
EVIDENCE_READ = Method(
    "evidence.read", C, "intake", ReadEvidence, EvidenceChunk, "A chunk of an item's bytes (access recorded)"
)
EVIDENCE_BUNDLE = Method(
    "evidence.bundle", C, "intake", BuildBundle, BundleBuilt, "Build a case's signed evidence bundle"
)
EVIDENCE_DELETE = Method(
    "evidence.delete", C, "intake", DeleteEvidence, EvidenceDeleted, "Delete a report's evidence bytes"
)

EVIDENCE_METHODS: tuple[Method[Any, Any], ...] = (
    EVIDENCE_REPORT,
    EVIDENCE_CASE,
    EVIDENCE_READ,
    EVIDENCE_BUNDLE,
    EVIDENCE_DELETE,
)
EVIDENCE_EVENTS: tuple[type[EventData], ...] = (EvidencePreserved,)
