"""Request/reply over core NATS: every method's name, request, response and kind.

A *query* has no side effect and is safe to retry. A *command* changes state and is idempotent:
a retried command carries the same `command_id` (the HTTP client's Idempotency-Key, or derived
from what it changes) and is applied once. Requests go to `{root}.rpc.v1.{agency}.{method}`;
the agency in the subject is the caller's, so a service never answers for another tenant.

A reply is `{"data": <response>}` or `{"error": <RpcFailure>}`; each error code maps to one
HTTP status and one problem type at the gateway.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .events import AgencyId, CaseState, ReferralState, Resolution
from .fields import IsoDate, Text, WebUrl
from .ids import new_id
from .reads import CaseHistoryEntry, CaseView, NotificationView, StoredReport
from .taxonomy import Category

RequestT = TypeVar("RequestT", bound=BaseModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)

Actor = Annotated[
    Text, Field(max_length=200, description="The officer making the change"), AfterValidator(str.strip)
]
Note = Annotated[Text, Field(max_length=2_000)] | None


class MethodKind(StrEnum):
    QUERY = "query"
    COMMAND = "command"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Command(Request):
    """Fields every command carries besides its own."""

    command_id: UUID = Field(
        default_factory=new_id, description="The same id on a retry: the command is applied once"
    )
    principal: str | None = Field(
        default=None,
        max_length=200,
        description="Who sent it within the agency: `user:<user id>` (a console session),"
        " `key:<API key id>`, `link`, `whatsapp`",
    )


# Queries.


class ReportQuery(Request):
    report_id: UUID


class CaseQuery(Request):
    case_id: UUID


class ReporterQuery(Request):
    reporter_id: str = Field(min_length=1, max_length=200)


class ReporterContact(BaseModel):
    """Where to tell a reporter what became of their report; empty unless they asked."""

    wants_updates: bool
    email: str | None = None
    phone: str | None = None
    name: str | None = None


class CaseOfReport(BaseModel):
    case_id: UUID | None


class CaseHistory(BaseModel):
    entries: list[CaseHistoryEntry]


class CaseReporters(BaseModel):
    reporter_ids: list[str]


class Notifications(BaseModel):
    notifications: list[NotificationView]


# Commands. The `...Change` models are the bodies the HTTP API takes; each command adds the
# target and the command fields to its body, so the gateway does not write the model again.


class StateChange(BaseModel):
    """Move a case through the workflow: new, verifying, follow_up, referred,
    takedown_requested, closed (closing needs a resolution)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: CaseState
    actor: Actor
    resolution: Resolution | None = None
    note: Note = None


class TransitionCase(StateChange, Command):
    case_id: UUID


class CategoryChange(BaseModel):
    """A reviewer's correction of the case's categories; kept as labelled data for retraining."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: list[Category] = Field(min_length=1)
    actor: Actor
    note: Note = None


class ReclassifyCase(CategoryChange, Command):
    case_id: UUID


class ReferralChange(BaseModel):
    """What an agency a case was routed to records of its own handling; the owner's state and
    categories stay the owner's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: ReferralState
    actor: Actor
    note: Note = None


class UpdateReferral(ReferralChange, Command):
    case_id: UUID


class ClaimIn(BaseModel):
    """A claim a fact-checker already examined (Komdigi, Turn Back Hoax, Cek Fakta). It belongs
    to the agency that adds it: another agency's claim id is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim_id: Annotated[Text, Field(max_length=200, examples=["turnbackhoax-2024-0211"])]
    text: Annotated[Text, Field(min_length=10, max_length=5_000)]
    verdict: Annotated[Text, Field(max_length=100, examples=["hoaks"])]
    source_url: Annotated[WebUrl, Field(max_length=2_000)]
    checked_on: IsoDate | None = None


class ClaimBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    claims: list[ClaimIn] = Field(min_length=1, max_length=1_000)


class ImportClaims(ClaimBatch, Command):
    """Idempotent by claim id: importing the same claims again changes nothing."""


class ClaimsImported(BaseModel):
    imported: int


class SubscribeClaims(Command):
    """Match this agency's reports against the claims `publisher` adds too (or stop)."""

    publisher: AgencyId
    subscribed: bool = True


class ClaimSubscriptions(BaseModel):
    """The agencies whose claims this agency's reports are matched against, besides its own."""

    publishers: list[str]


class AcknowledgeNotification(Command):
    """Idempotent by delivery id: a second acknowledgement keeps the first."""

    delivery_id: UUID
    actor: Actor
    via: Literal["api", "link", "whatsapp"] = "api"


class Acknowledged(BaseModel):
    delivery_id: UUID
    case_id: UUID
    acknowledged: bool


@dataclass(frozen=True)
class Method(Generic[RequestT, ResponseT]):
    """One request/reply method: its subject suffix, its models, and the service that answers."""

    name: str
    kind: MethodKind
    service: str
    request: type[RequestT]
    response: type[ResponseT]
    summary: str


Q, C = MethodKind.QUERY, MethodKind.COMMAND
REPORT_GET = Method("report.get", Q, "intake", ReportQuery, StoredReport, "A report as stored")
REPORTER_CONTACT = Method(
    "reporter.contact", Q, "intake", ReporterQuery, ReporterContact, "A reporter's contact, if they opted in"
)
CASE_GET = Method("case.get", Q, "triage", CaseQuery, CaseView, "A case the agency owns or was routed")
CASE_FOR_REPORT = Method(
    "case.for_report", Q, "triage", ReportQuery, CaseOfReport, "The case a report of the agency joined"
)
CASE_HISTORY = Method("case.history", Q, "triage", CaseQuery, CaseHistory, "Every change of a case")
CASE_REPORTERS = Method(
    "case.reporters", Q, "triage", CaseQuery, CaseReporters, "Pseudonyms of a case's reporters"
)
CASE_TRANSITION = Method(
    "case.transition", C, "triage", TransitionCase, CaseView, "Change the state of a case the agency owns"
)
CASE_RECLASSIFY = Method(
    "case.reclassify", C, "triage", ReclassifyCase, CaseView, "Correct the categories of an owned case"
)
CASE_REFERRAL = Method(
    "case.referral", C, "triage", UpdateReferral, CaseView, "Record the routed agency's own handling"
)
CLAIMS_IMPORT = Method(
    "claims.import", C, "triage", ImportClaims, ClaimsImported, "Add or update the agency's claims"
)
CLAIMS_SUBSCRIBE = Method(
    "claims.subscribe", C, "triage", SubscribeClaims, ClaimSubscriptions, "Match another agency's claims"
)
NOTIFICATION_LIST = Method(
    "notification.list", Q, "notify", CaseQuery, Notifications, "The alerts and news sent for a case"
)
NOTIFICATION_ACK = Method(
    "notification.ack", C, "notify", AcknowledgeNotification, Acknowledged, "Stop an alert's escalation"
)

METHODS: dict[str, Method[Any, Any]] = {
    m.name: m
    for m in (
        REPORT_GET,
        REPORTER_CONTACT,
        CASE_GET,
        CASE_FOR_REPORT,
        CASE_HISTORY,
        CASE_REPORTERS,
        CASE_TRANSITION,
        CASE_RECLASSIFY,
        CASE_REFERRAL,
        CLAIMS_IMPORT,
        CLAIMS_SUBSCRIBE,
        NOTIFICATION_LIST,
        NOTIFICATION_ACK,
    )
}


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    INTERNAL = "internal"
    # Raised by the client, never sent: nobody answered, or not in time.
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"


# The HTTP status the gateway gives each error.
ERROR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID: 422,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
}


def problem_type(code: ErrorCode) -> str:
    """The RFC 9457 problem type the gateway gives an error: one per code."""
    return f"urn:pantau:problem:{code.value}"


class RpcFailure(BaseModel):
    """The error half of a reply."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: ErrorCode
    detail: str = ""
    # For a conflict: the states the case may move to from where it is.
    allowed: list[str] = []
