"""Typed payloads of every event on the bus, one model per versioned CloudEvents `type`.

Evolution rule: within a major version (`.v1`) only optional fields are added, and consumers ignore
fields they do not know, so producers and consumers can be upgraded in any order. A breaking change
is a new type (`.v2`) published beside the old one until every consumer has moved.
"""

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from .content import ContactCard, Location, SenderAuth
from .fields import Count, EmailAddress, ExternalId, Name, PhoneNumber, RegionCode, ReportText, WebUrl
from .ids import stable_id
from .sealed import SealedBox
from .taxonomy import Category

if TYPE_CHECKING:
    from .subjects import Subjects

# Agency ids appear as one token of a NATS subject, so no dots, spaces or wildcards.
AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
AgencyId = Annotated[str, Field(pattern=AGENCY_ID_PATTERN)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a UTC offset")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class Channel(StrEnum):
    API = "api"
    WEB = "web"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    PATROL = "patrol"
    CRAWLER = "crawler"
    # A watched account's post with a finding (triage's observed-post path).
    MONITORING = "monitoring"


class Platform(StrEnum):
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    X = "x"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WEB = "web"
    UNKNOWN = "unknown"


class CaseState(StrEnum):
    NEW = "new"
    VERIFYING = "verifying"
    FOLLOW_UP = "follow_up"
    REFERRED = "referred"
    TAKEDOWN_REQUESTED = "takedown_requested"
    CLOSED = "closed"


class PriorityLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EventData(BaseModel):
    """Base of every payload. `TYPE` is the CloudEvents type; `SUBJECT` the subject suffix."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    SUBJECT: ClassVar[str]
    # The value placed in the CloudEvents `subject` attribute: the aggregate this event is about.
    KEY_FIELD: ClassVar[str]

    def key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))

    def address(self, subjects: "Subjects") -> str:
        """The subject the event is published on; events between instances override it."""
        return subjects.event(getattr(self, "agency_id"), self.SUBJECT)  # noqa: B009


class Reporter(BaseModel):
    """Who sent a report. Contact details are personal data (UU 27/2022): intake keeps them apart."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: Name = None
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None
    wants_updates: StrictBool = False

    @classmethod
    def lenient(cls, *, wants_updates: bool, **contacts: str | None) -> "Reporter | None":
        """What a channel says of its sender (a mail's From, a WhatsApp profile): a contact
        that does not pass is left out rather than refusing the report; None if none is left."""
        kept: dict[str, str] = {}
        for field, value in contacts.items():
            try:
                checked = getattr(cls.model_validate({field: value}), field)
            except ValidationError:
                continue
            if checked:
                kept[field] = checked
        return cls.model_validate(kept | {"wants_updates": wants_updates}) if kept else None


class PersonalData(BaseModel):
    """What the sealed box of a submission holds (as JSON): who sent it and the contact cards
    they passed on. Only intake opens it (`pantau_shared.sealing`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    reporter: Reporter | None = None
    contacts: tuple[ContactCard, ...] = Field(default=(), max_length=20)


class Attachment(BaseModel):
    """A file sent with a report: the provider's media id, and its hash when known."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    media_id: Annotated[str | None, Field(max_length=500)] = None
    mime_type: Annotated[str | None, Field(max_length=255)] = None
    # Hex, or base64 as WhatsApp webhooks sometimes send it.
    sha256: Annotated[str | None, Field(max_length=128)] = None
    filename: Name = None
    size: Count | None = None


class ReportSubmitted(EventData):
    TYPE: ClassVar[str] = "report.submitted.v1"
    SUBJECT: ClassVar[str] = "report.submitted"
    KEY_FIELD: ClassVar[str] = "report_id"

    report_id: UUID
    agency_id: AgencyId
    channel: Channel
    submitted_at: AwareDatetime
    # Every field is checked here, where a report enters, so whatever an entry point accepts
    # intake can store.
    text: ReportText | None = None
    url: WebUrl | None = None
    region_code: RegionCode | None = None
    author_handle: Name = None
    # The reporter and the contact cards, sealed to intake's public key: `PersonalData`, which
    # only intake can open. The clear `reporter` and `contacts` below are what an entry point
    # builds before sealing, and what messages published before sealing carry: intake still
    # reads them, publishers never send them (`pantau_shared.sealing.seal_report`).
    sealed_personal: SealedBox | None = None
    reporter: Reporter | None = None
    # Followers of the author or views of the post, when the reporter or a crawler knows it.
    reach: Count | None = None
    # The channel's own id of the message (WhatsApp wamid, email Message-ID), for replies.
    external_id: ExternalId = None
    forwarded: bool = False
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=100)
    # What kind of channel message this is (WhatsApp: text, image, voice, sticker, location,
    # contacts, answer, edit, ...): intake gathers a sender's messages into one report by it.
    message_kind: str | None = Field(default=None, max_length=40)
    location: Location | None = None
    contacts: tuple[ContactCard, ...] = Field(default=(), max_length=20)
    # An edit: the channel id of the message it replaces.
    revises: ExternalId = None
    sender_auth: SenderAuth | None = None

    def content_digest(self) -> str:
        """SHA-256 of what the sender said (not when, nor the ids): two submissions with one
        channel id and different digests are two reports, never a duplicate. A sealed box is left
        out (each sealing of the same data differs), so a resent submission keeps its event id;
        intake takes the digest of the opened submission, contact cards included."""
        content = self.model_dump(
            mode="json", include={"text", "url", "region_code", "author_handle", "location", "contacts"}
        )
        content["attachments"] = [[a.media_id, a.sha256, a.filename, a.size] for a in self.attachments]
        content["revises"] = self.revises
        encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()

    def event_id(self) -> UUID:
        """The `Nats-Msg-Id`: a retry of this submission is dropped by the stream, a different
        submission under the same channel id is not."""
        return stable_id("report.submitted", f"{self.report_id}:{self.content_digest()}")

    @model_validator(mode="after")
    def _something_to_check(self) -> "ReportSubmitted":
        if self.sealed_personal is not None and (self.reporter is not None or self.contacts):
            raise ValueError("data pribadi dikirim tersegel atau terbuka, tidak keduanya")
        nothing = self.text is None and self.url is None and not self.attachments
        # Sealed contact cards are content too: checked when intake opens them.
        if nothing and self.location is None and not self.contacts and self.sealed_personal is None:
            raise ValueError("laporan harus berisi teks, tautan, lampiran, lokasi, atau kontak")
        return self


class ReportReceived(EventData):
    TYPE: ClassVar[str] = "report.received.v1"
    SUBJECT: ClassVar[str] = "report.received"
    KEY_FIELD: ClassVar[str] = "report_id"

    report_id: UUID
    agency_id: AgencyId
    channel: Channel
    submitted_at: AwareDatetime
    received_at: AwareDatetime
    text: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    platform: Platform
    region_code: RegionCode | None = None
    author_handle: str | None = None
    # Evidence: SHA-256 of the text exactly as received, and of its normalised form (for matching).
    raw_sha256: str
    content_sha256: str | None = None
    # Pseudonymous and stable per contact; the contact itself never leaves intake.
    reporter_id: str | None = None
    # Set when the sender went over the daily limit of its channel: kept, but flagged.
    sender_flagged: bool = False
    sender_reports_today: int | None = None
    reach: int | None = None
    external_id: str | None = None
    forwarded: bool = False
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    # Contact cards the reporter passed on: personal data, answered by `report.get` from intake's
    # store and always empty on the bus (`on_bus`).
    contacts: tuple[ContactCard, ...] = ()
    sender_auth: SenderAuth | None = None
    # Channel messages gathered into this report (a WhatsApp conversation: text, photo, place).
    parts: int = 1
    # Only answers, stickers or voice notes without text: kept as evidence, opens no case.
    fragments_only: bool = False

    def on_bus(self) -> "ReportReceived":
        """The event as published: without the contact cards, which stay in intake."""
        return self.model_copy(update={"contacts": ()}) if self.contacts else self


Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class PostObserved(EventData):
    """A post that intake's collectors found on a watched account (a registered participant's,
    an official's): kept as evidence whatever it says; triage opens a case only on a finding."""

    TYPE: ClassVar[str] = "post.observed.v1"
    SUBJECT: ClassVar[str] = "post.observed"
    KEY_FIELD: ClassVar[str] = "observation_id"

    # Stable per (platform, account, post): see `observation_key`, so a post fetched twice is
    # one observation and one event.
    observation_id: UUID
    agency_id: AgencyId
    platform: Platform
    # The platform's own ids: the account's (a YouTube channel id, a feed URL) and the post's.
    account_id: Annotated[str, Field(min_length=1, max_length=500)]
    account_handle: Name = None
    post_id: Annotated[str, Field(min_length=1, max_length=500)]
    url: WebUrl | None = None
    text: Annotated[str, Field(max_length=100_000)] | None = None
    media_sha256: tuple[Sha256Hex, ...] = Field(default=(), max_length=100)
    # The post's own time (as the platform says), not when Pantau saw it: the election calendar
    # judges the post by when it was published.
    posted_at: AwareDatetime
    observed_at: AwareDatetime
    # Views of the post, or followers of the account when the platform gives no views.
    reach: Count | None = None
    # Evidence: SHA-256 of the platform's answer for this post exactly as fetched.
    evidence_sha256: Sha256Hex
    # The account's region in the registry: the election calendar that applies to the post.
    region_code: RegionCode | None = None
    # Whose account: a registered participant's, a watched official's, a feed an agency named.
    account_kind: Literal["participant", "official", "feed"] | None = None

    @staticmethod
    def observation_key(platform: Platform, account_id: str, post_id: str) -> UUID:
        return stable_id("post.observed", f"{platform.value}:{account_id}:{post_id}")


class CategoryScore(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    category: Category
    score: float = Field(ge=0.0, le=1.0)
    reason: str


class Resolution(StrEnum):
    """Why a case was closed."""

    VIOLATION_HANDLED = "violation_handled"
    TAKEN_DOWN = "taken_down"
    NOT_A_VIOLATION = "not_a_violation"
    DUPLICATE = "duplicate"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    REFERRED_ELSEWHERE = "referred_elsewhere"


class ReferralState(StrEnum):
    """Where an agency a case was routed to stands with it (not the owner's case state)."""

    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DECLINED = "declined"


class ClaimRef(BaseModel):
    """A fact-checked claim the case's content matches."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    claim_id: str
    verdict: str
    source_url: str
    score: float = Field(ge=0.0, le=1.0)


class CaseOpened(EventData):
    TYPE: ClassVar[str] = "case.opened.v1"
    SUBJECT: ClassVar[str] = "case.opened"
    KEY_FIELD: ClassVar[str] = "case_id"

    case_id: UUID
    agency_id: AgencyId
    opened_at: AwareDatetime
    first_report_id: UUID
    state: CaseState = CaseState.NEW
    region_code: RegionCode | None = None
    platform: Platform = Platform.UNKNOWN
    canonical_url: str | None = None
    summary: str = ""
    categories: tuple[CategoryScore, ...] = ()
    priority: int = Field(ge=0, le=100)
    priority_level: PriorityLevel
    priority_reasons: tuple[str, ...] = ()
    report_count: int = 1
    reporter_count: int = 0
    # Agencies with jurisdiction besides the owner (e.g. Komdigi for a hoax takedown).
    routed_to: tuple[AgencyId, ...] = ()
    claims: tuple[ClaimRef, ...] = ()
    # The first report's channel: `monitoring` says a collector found the post on a watched
    # account and no person reported it, which an alert must say (optional within v1).
    channel: Channel | None = None


class CaseUpdated(EventData):
    TYPE: ClassVar[str] = "case.updated.v1"
    SUBJECT: ClassVar[str] = "case.updated"
    KEY_FIELD: ClassVar[str] = "case_id"

    case_id: UUID
    agency_id: AgencyId
    updated_at: AwareDatetime
    change: Literal["report_attached", "state_changed", "reclassified", "partner_status"]
    state: CaseState
    region_code: RegionCode | None = None
    categories: tuple[CategoryScore, ...] = ()
    priority: int = Field(ge=0, le=100)
    priority_level: PriorityLevel
    report_count: int
    reporter_count: int
    report_id: UUID | None = None
    actor: str | None = None
    previous_state: CaseState | None = None
    resolution: Resolution | None = None
    note: str | None = None
    routed_to: tuple[AgencyId, ...] = ()
    # For "partner_status": what an agency the case was referred to did with it, on this instance
    # (its referral record) or another (its own case's state and resolution); either way the
    # owner's case gets this one event per step (`pantau_triage.federation.news`).
    partner_agency: AgencyId | None = None
    partner_state: CaseState | None = None
    partner_resolution: Resolution | None = None
    # The routed agency's record on the owner's case after this step.
    partner_referral_state: ReferralState | None = None


class NotificationChannel(StrEnum):
    EMAIL = "email"
    WHATSAPP = "whatsapp"


class DeliveryEvent(EventData):
    """Fields every event about one delivery (a message to one recipient) carries."""

    KEY_FIELD: ClassVar[str] = "delivery_id"

    delivery_id: UUID
    agency_id: AgencyId
    # A receipt answers a report before any case exists: it names the report instead.
    case_id: UUID | None = None
    channel: NotificationChannel
    template: str
    recipient_id: str
    report_id: UUID | None = None


class NotificationRequested(DeliveryEvent):
    TYPE: ClassVar[str] = "notification.requested.v1"
    SUBJECT: ClassVar[str] = "notification.requested"

    requested_at: AwareDatetime
    # 0 for the first alert; each escalation to the next person on duty adds one.
    escalation_level: int = 0


class NotificationAcknowledged(EventData):
    """A patrol member confirmed they are handling an alert; escalation for it stops."""

    TYPE: ClassVar[str] = "notification.acknowledged.v1"
    SUBJECT: ClassVar[str] = "notification.acknowledged"
    KEY_FIELD: ClassVar[str] = "delivery_id"

    delivery_id: UUID
    agency_id: AgencyId
    case_id: UUID
    acknowledged_at: AwareDatetime
    acknowledged_by: str
    via: Literal["api", "link", "whatsapp"]
    # Who sent it within the agency, besides the name typed: `key:<API key id>`, `link`, `whatsapp`.
    principal: str | None = None


class NotificationStatus(EventData):
    """What the provider later says of a sent message (WhatsApp delivered, read, failed)."""

    TYPE: ClassVar[str] = "notification.status.v1"
    SUBJECT: ClassVar[str] = "notification.status"
    KEY_FIELD: ClassVar[str] = "provider_message_id"

    provider_message_id: str
    agency_id: AgencyId
    channel: NotificationChannel
    status: Literal["sent", "delivered", "read", "failed", "deleted"]
    at: AwareDatetime
    error_code: int | None = None
    error_title: str | None = None
    # What notify gave the provider to echo (WhatsApp's biz_opaque_callback_data): resolves a
    # send whose answer, and so its provider message id, was lost.
    delivery_id: UUID | None = None


class NotificationSent(DeliveryEvent):
    TYPE: ClassVar[str] = "notification.sent.v1"
    SUBJECT: ClassVar[str] = "notification.sent"

    sent_at: AwareDatetime
    provider_message_id: str | None = None


class NotificationFailed(DeliveryEvent):
    TYPE: ClassVar[str] = "notification.failed.v1"
    SUBJECT: ClassVar[str] = "notification.failed"

    failed_at: AwareDatetime
    reason: str
    permanent: bool


class KeyRevoked(EventData):
    """An API key was revoked: every gateway instance drops it from its key cache at once.

    Sent over core NATS, not kept in a stream: an instance that starts later reads the key's
    state from the database anyway.
    """

    TYPE: ClassVar[str] = "gateway.key.revoked.v1"
    SUBJECT: ClassVar[str] = "gateway.key.revoked"
    KEY_FIELD: ClassVar[str] = "key_id"

    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{1,64}$")]
    agency_id: AgencyId
    revoked_at: AwareDatetime


EVENT_TYPES: dict[str, type[EventData]] = {
    model.TYPE: model
    for model in (
        ReportSubmitted,
        ReportReceived,
        PostObserved,
        CaseOpened,
        CaseUpdated,
        NotificationRequested,
        NotificationSent,
        NotificationFailed,
        NotificationAcknowledged,
        NotificationStatus,
        KeyRevoked,
    )
}
