"""Takedown requests to platforms, their answers, and the re-checks that see the content gone.

An agency (Komdigi above all) asks a platform to take content down under a legal basis; the
platform must do so within 1 x 24 hours, or 4 hours when the request is urgent (Permenkominfo
5/2020, art. 14). The deadline follows from the urgency and the time of the request: a client
never chooses it. Triage then re-checks the URL on a schedule: the first re-check that finds it
gone (404, 410, 451, or the platform's "content unavailable" page) dates the removal, to within
the time since the last re-check that still saw it (`removal_precision_s`).

The events travel in the CASES stream (subjects `case.takedown.*`), since each is about a case:
`takedown.requested.v1` when recorded, `takedown.responded.v1` for each answer of the platform,
`takedown.removed.v1` once when a re-check first finds the content gone, and
`takedown.overdue.v1` once when the deadline passes with the content still up.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from .events import AgencyId, AwareDatetime, EventData, Platform
from .fields import Text, WebUrl
from .queue import Durations, Moment
from .rpc import Actor, CaseQuery, Command, Method, MethodKind, Note, Request

# Permenkominfo 5/2020, art. 14(3)-(4): 1 x 24 hours; 4 hours for an urgent request.
NORMAL_DEADLINE = timedelta(hours=24)
URGENT_DEADLINE = timedelta(hours=4)


def takedown_deadline(requested_at: datetime, urgent: bool) -> datetime:
    """When the platform must have removed the content."""
    return requested_at + (URGENT_DEADLINE if urgent else NORMAL_DEADLINE)


class LegalBasis(StrEnum):
    """The provision a request rests on (check the citation against the statute before quoting)."""

    PERMENKOMINFO_5_2020_PASAL_14 = "permenkominfo_5_2020_pasal_14"
    UU_7_2017_PASAL_280 = "uu_7_2017_pasal_280"
    UU_7_2017_PASAL_276 = "uu_7_2017_pasal_276"
    UU_7_2017_PASAL_494 = "uu_7_2017_pasal_494"
    UU_ITE_PASAL_28 = "uu_ite_pasal_28"
    UU_ITE_PASAL_40 = "uu_ite_pasal_40"
    OTHER = "lainnya"


LEGAL_BASIS_LABELS: dict[LegalBasis, str] = {
    LegalBasis.PERMENKOMINFO_5_2020_PASAL_14: "Permenkominfo 5/2020 Pasal 14 (permohonan pemutusan akses)",
    LegalBasis.UU_7_2017_PASAL_280: "UU 7/2017 Pasal 280 (larangan dalam kampanye)",
    LegalBasis.UU_7_2017_PASAL_276: "UU 7/2017 Pasal 276 (kampanye di luar jadwal)",
    LegalBasis.UU_7_2017_PASAL_494: "UU 7/2017 Pasal 494 (netralitas ASN, kepala desa, perangkat desa)",
    LegalBasis.UU_ITE_PASAL_28: "UU ITE Pasal 28 (berita bohong, ujaran kebencian)",
    LegalBasis.UU_ITE_PASAL_40: "UU ITE Pasal 40 (pemutusan akses oleh pemerintah)",
    LegalBasis.OTHER: "Dasar hukum lain (lihat catatan)",
}


class TakedownChannel(StrEnum):
    """How the request reached the platform."""

    EMAIL = "email"
    PORTAL = "portal"
    API = "api"
    LETTER = "letter"


class TakedownStatus(StrEnum):
    REQUESTED = "requested"
    # The platform confirmed it has the request (a ticket), or says it removed the content
    # and a re-check has not confirmed it yet.
    ACKNOWLEDGED = "acknowledged"
    # The deadline passed with the content still reachable; re-checks go on.
    OVERDUE = "overdue"
    REMOVED = "removed"
    REFUSED = "refused"


OPEN_STATUSES = frozenset({TakedownStatus.REQUESTED, TakedownStatus.ACKNOWLEDGED, TakedownStatus.OVERDUE})


class ResponseKind(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    REFUSED = "refused"
    CLAIMS_REMOVED = "claims_removed"


class RemovalKind(StrEnum):
    """What the re-check saw of content that is gone."""

    NOT_FOUND = "http_404"
    GONE = "http_410"
    LEGAL_BLOCK = "http_451"
    UNAVAILABLE_PAGE = "unavailable_page"


class RecheckOutcome(StrEnum):
    LIVE = "live"
    REMOVED = "removed"
    # No answer (timeout, connection refused, DNS): tried again at the next re-check.
    FAILED = "failed"
    # The fetcher refused the target (a private address, too many redirects, too large).
    REFUSED = "refused"


PlatformTicket = Annotated[Text, Field(max_length=200, examples=["FB-LE-2024-118822"])]


class TakedownRequestIn(BaseModel):
    """A takedown request sent to a platform, as the agency records it. The deadline is not
    given: it follows from `urgent` and `requested_at` (24 hours, or 4 when urgent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: WebUrl
    platform: Platform
    legal_basis: LegalBasis
    channel: TakedownChannel
    urgent: StrictBool = False
    platform_request_id: PlatformTicket | None = Field(
        default=None, description="The platform's ticket or request id, when it gave one"
    )
    requested_at: Moment | None = Field(
        default=None, description="When the request was sent; now when left out. Not in the future"
    )
    actor: Actor
    note: Note = None


class RequestTakedown(TakedownRequestIn, Command):
    case_id: UUID


class _PlatformAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform_request_id: PlatformTicket | None = None
    responded_at: Moment | None = Field(
        default=None, description="When the platform answered; now if left out. Not in the future"
    )
    actor: Actor
    note: Note = None


class Acknowledgement(_PlatformAnswer):
    """The platform has the request (often with its ticket)."""

    kind: Literal[ResponseKind.ACKNOWLEDGED]


class Refusal(_PlatformAnswer):
    """The platform refuses, and says why; re-checks stop."""

    kind: Literal[ResponseKind.REFUSED]
    reason: Annotated[Text, Field(max_length=2_000)]


class RemovalClaim(_PlatformAnswer):
    """The platform says the content is removed: a re-check follows at once, and only a
    re-check marks it removed."""

    kind: Literal[ResponseKind.CLAIMS_REMOVED]


TakedownResponseIn = Annotated[Acknowledgement | Refusal | RemovalClaim, Field(discriminator="kind")]


class RecordTakedownResponse(Command):
    takedown_id: UUID
    response: TakedownResponseIn


class TakedownQuery(Request):
    takedown_id: UUID


class TakedownStatisticsQuery(Request):
    """Takedowns requested within [since, until), all of the agency's when left out."""

    since: Moment | None = None
    until: Moment | None = None
    platform: Platform | None = None


class TakedownResponseView(BaseModel):
    kind: ResponseKind
    reason: str | None
    platform_request_id: str | None
    responded_at: datetime
    actor: str
    note: str | None


class RecheckView(BaseModel):
    checked_at: datetime
    outcome: RecheckOutcome
    http_status: int | None
    removal_kind: RemovalKind | None
    detail: str | None


class TakedownView(BaseModel):
    takedown_id: UUID
    case_id: UUID
    agency_id: str
    url: str
    platform: Platform
    legal_basis: LegalBasis
    legal_basis_label: str
    channel: TakedownChannel
    urgent: bool
    platform_request_id: str | None
    requested_at: datetime
    deadline_at: datetime
    requested_by: str
    status: TakedownStatus
    overdue_at: datetime | None = Field(description="When the deadline was seen passed, content still up")
    last_seen_live_at: datetime | None
    removed_at: datetime | None = Field(description="The first re-check that found the content gone")
    removal_kind: RemovalKind | None
    time_to_removal_s: float | None = Field(description="From the request to `removed_at`")
    removal_precision_s: float | None = Field(
        description="The removal happened within this many seconds before `removed_at`: the time"
        " since the last re-check that still saw the content"
    )
    within_deadline: bool | None
    next_check_at: datetime | None
    checks: int
    responses: list[TakedownResponseView]
    recent_checks: list[RecheckView] = Field(description="The last re-checks, newest first")


class Takedowns(BaseModel):
    takedowns: list[TakedownView]


class PlatformTakedowns(BaseModel):
    platform: Platform
    requested: int
    removed: int
    refused: int
    overdue: int = Field(description="Deadline passed before removal (removed late, or still up)")
    open: int
    removed_within_deadline: int
    time_to_removal: Durations


class TakedownStatistics(BaseModel):
    since: datetime | None
    until: datetime | None
    requested: int
    removed: int
    refused: int
    overdue: int
    open: int
    removed_within_deadline: int
    time_to_removal: Durations
    by_platform: list[PlatformTakedowns]


# Events.


class TakedownEvent(EventData):
    KEY_FIELD: ClassVar[str] = "takedown_id"

    takedown_id: UUID
    agency_id: AgencyId
    case_id: UUID
    url: str = Field(max_length=4_096)
    platform: Platform
    requested_at: AwareDatetime
    deadline_at: AwareDatetime
    urgent: bool


class TakedownRequested(TakedownEvent):
    TYPE: ClassVar[str] = "takedown.requested.v1"
    SUBJECT: ClassVar[str] = "case.takedown.requested"

    legal_basis: LegalBasis
    channel: TakedownChannel
    platform_request_id: str | None = None
    actor: str | None = None


class TakedownResponded(TakedownEvent):
    TYPE: ClassVar[str] = "takedown.responded.v1"
    SUBJECT: ClassVar[str] = "case.takedown.responded"

    response_id: UUID
    kind: ResponseKind
    reason: str | None = None
    responded_at: AwareDatetime
    actor: str | None = None


class TakedownRemoved(TakedownEvent):
    """The first re-check that found the content gone: once per takedown."""

    TYPE: ClassVar[str] = "takedown.removed.v1"
    SUBJECT: ClassVar[str] = "case.takedown.removed"

    removed_at: AwareDatetime
    removal_kind: RemovalKind
    last_seen_live_at: AwareDatetime | None = None
    time_to_removal_s: float = Field(ge=0)
    removal_precision_s: float | None = Field(default=None, ge=0)
    within_deadline: bool


class TakedownOverdue(TakedownEvent):
    """The deadline passed and the last re-check still saw the content: once per takedown."""

    TYPE: ClassVar[str] = "takedown.overdue.v1"
    SUBJECT: ClassVar[str] = "case.takedown.overdue"

    overdue_at: AwareDatetime
    legal_basis: LegalBasis
    last_seen_live_at: AwareDatetime | None = None
    platform_request_id: str | None = None


TAKEDOWN_EVENTS: tuple[type[EventData], ...] = (
    TakedownRequested,
    TakedownResponded,
    TakedownRemoved,
    TakedownOverdue,
)


Q, C = MethodKind.QUERY, MethodKind.COMMAND
TAKEDOWN_REQUEST = Method(
    "takedown.request", C, "triage", RequestTakedown, TakedownView, "Record a takedown request on a case"
)
TAKEDOWN_RESPOND = Method(
    "takedown.respond", C, "triage", RecordTakedownResponse, TakedownView, "Record the platform's answer"
)
TAKEDOWN_GET = Method("takedown.get", Q, "triage", TakedownQuery, TakedownView, "One takedown request")
TAKEDOWN_LIST = Method(
    "takedown.list", Q, "triage", CaseQuery, Takedowns, "A case's takedown requests, oldest first"
)
TAKEDOWN_STATISTICS = Method(
    "takedown.statistics",
    Q,
    "triage",
    TakedownStatisticsQuery,
    TakedownStatistics,
    "Requests, removals, refusals, overdue and time to removal per platform",
)
TAKEDOWN_METHODS: tuple[Method[Any, Any], ...] = (
    TAKEDOWN_REQUEST,
    TAKEDOWN_RESPOND,
    TAKEDOWN_GET,
    TAKEDOWN_LIST,
    TAKEDOWN_STATISTICS,
)
