"""Events that cross from one agency's Pantau instance to another's.

A referral hands a case to an agency that runs its own instance (Komdigi for a takedown, the
province's Bawaslu for an escalation). The receiving instance opens a case of its own and reports
back what it does with it; neither instance ever writes the other's case.

What may cross is deliberately narrow: the case's facts (categories with reasons, priority,
canonical URL, counts) and its evidence as hashes and links. Reporters' contacts and their
pseudonymous ids never cross: there is no field for them, and a test reads the federation stream
raw to check. Every event names the sending agency (`agency_id`) and the receiving one
(`to_agency`); its CloudEvents id is its idempotency key on the receiving side.

Subjects put the receiver first, then the sender: `{root}.fed.v1.{to_agency}.{agency_id}.{suffix}`,
so a partner's link is allowed exactly the subjects addressed to it.
"""

from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .events import (
    AgencyId,
    AwareDatetime,
    CaseState,
    CategoryScore,
    ClaimRef,
    EventData,
    Platform,
    PriorityLevel,
    Resolution,
)
from .fields import RegionCode
from .rpc import Actor, CaseQuery, Command, Method, MethodKind, Note, Request
from .subjects import CONTRACT_MAJOR

if TYPE_CHECKING:
    from .subjects import Subjects


class ReferralReason(StrEnum):
    # The routing rules give the case to another agency as well (e.g. a hoax to Komdigi).
    ROUTING = "routing"
    # The case happened in another regency: its Bawaslu has jurisdiction.
    LOCUS = "locus"
    # The escalation rules send it up the Bawaslu hierarchy (regency -> province -> RI).
    ESCALATION = "escalation"


class Evidence(BaseModel):
    """Evidence as a hash and where to find it, never the file itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["text", "normalised_text", "attachment", "link"]
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    url: str | None = Field(default=None, max_length=4_096)
    mime_type: str | None = None


class FederationEvent(EventData):
    """Base of the events between instances: sent by `agency_id`, addressed to `to_agency`."""

    KEY_FIELD: ClassVar[str] = "referral_id"

    referral_id: UUID
    agency_id: AgencyId
    to_agency: AgencyId

    def address(self, subjects: "Subjects") -> str:
        return federation_subject(subjects.root, self.to_agency, self.agency_id, self.SUBJECT)


def federation_subject(root: str, to_agency: str, from_agency: str, suffix: str) -> str:
    return f"{root}.fed.{CONTRACT_MAJOR}.{to_agency}.{from_agency}.{suffix}"


class CaseReferred(FederationEvent):
    """The origin hands a case to an agency on another instance, which opens its own case."""

    TYPE: ClassVar[str] = "case.referred.v1"
    SUBJECT: ClassVar[str] = "case.referred"

    origin_case_id: UUID
    referred_at: AwareDatetime
    reason: ReferralReason
    # Why, in words for the receiving patrol (Indonesian).
    note: str = ""
    origin_url: str | None = Field(default=None, max_length=2_000)
    region_code: RegionCode | None = None
    platform: Platform = Platform.UNKNOWN
    canonical_url: str | None = None
    summary: str = Field(default="", max_length=280)
    categories: tuple[CategoryScore, ...] = ()
    priority: int = Field(ge=0, le=100)
    priority_level: PriorityLevel
    priority_reasons: tuple[str, ...] = ()
    report_count: int = Field(ge=0)
    reporter_count: int = Field(ge=0)
    evidence: tuple[Evidence, ...] = ()
    claims: tuple[ClaimRef, ...] = ()


class PartnerEvent(FederationEvent):
    """What the receiving agency says back about a referral. `sequence` is the step's place in
    the partner case's history (rising, not consecutive), so the origin orders them, and keeps
    the latest state, however late and in whatever order they arrive."""

    partner_case_id: UUID
    sequence: int = Field(ge=1)
    at: AwareDatetime
    actor: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2_000)


class ReferralAccepted(PartnerEvent):
    TYPE: ClassVar[str] = "referral.accepted.v1"
    SUBJECT: ClassVar[str] = "referral.accepted"


class ReferralDeclined(PartnerEvent):
    TYPE: ClassVar[str] = "referral.declined.v1"
    SUBJECT: ClassVar[str] = "referral.declined"


class PartnerCaseStatus(PartnerEvent):
    """The partner's own case changed state (verifying, takedown requested, closed...)."""

    TYPE: ClassVar[str] = "case.partner_status.v1"
    SUBJECT: ClassVar[str] = "case.partner_status"

    state: CaseState
    previous_state: CaseState | None = None
    resolution: Resolution | None = None


FEDERATION_EVENTS: tuple[type[FederationEvent], ...] = (
    CaseReferred,
    ReferralAccepted,
    ReferralDeclined,
    PartnerCaseStatus,
)


class ReferralUpdateView(BaseModel):
    """One message the partner sent about a referral, as the origin keeps it."""

    model_config = ConfigDict(extra="ignore")

    sequence: int
    at: AwareDatetime
    change: str
    actor: str | None
    state: CaseState | None
    resolution: Resolution | None
    note: str | None


class ReferralView(BaseModel):
    """A referral as one instance sees it: `out` for one it sent (with the partner's reported
    state and history), `in` for one it received (with the case it opened for it)."""

    model_config = ConfigDict(extra="ignore")

    referral_id: UUID
    direction: Literal["out", "in"]
    case_id: UUID
    partner_agency: str
    reason: ReferralReason
    state: Literal["pending", "accepted", "declined"]
    referred_at: AwareDatetime
    partner_case_id: UUID | None = None
    partner_state: CaseState | None = None
    partner_resolution: Resolution | None = None
    origin_case_id: UUID | None = None
    origin_url: str | None = None
    updates: list[ReferralUpdateView] = []


# Request/reply at each instance about its referrals (never across instances: a partner's
# instance answers its own agency only).


class ReferralsQuery(Request):
    state: Literal["pending", "accepted", "declined"] | None = None


class Referrals(BaseModel):
    referrals: list[ReferralView]


class ReferralDecision(BaseModel):
    """Accept or decline a referral from an agency on another instance. Declining closes the
    case it opened here (`referred_elsewhere`) unless reports of this instance stand behind it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Actor
    note: Note = None


class DecideReferral(ReferralDecision, Command):
    referral_id: UUID


REFERRAL_LIST = Method(
    "referral.list", MethodKind.QUERY, "triage", ReferralsQuery, Referrals, "Referrals from other instances"
)
REFERRAL_ACCEPT = Method(
    "referral.accept", MethodKind.COMMAND, "triage", DecideReferral, ReferralView, "Take a referral on"
)
REFERRAL_DECLINE = Method(
    "referral.decline", MethodKind.COMMAND, "triage", DecideReferral, ReferralView, "Decline a referral"
)
CASE_REFERRALS = Method(
    "case.referrals",
    MethodKind.QUERY,
    "triage",
    CaseQuery,
    Referrals,
    "A case's referrals across instances, with the partner's state and history",
)
FEDERATION_METHODS: tuple[Method[Any, Any], ...] = (
    REFERRAL_LIST,
    REFERRAL_ACCEPT,
    REFERRAL_DECLINE,
    CASE_REFERRALS,
)
