"""The work queue over request/reply: listing cases, reports and deliveries, assigning, notes,
bulk transitions and the figures of the cases.

Every list takes the same `CaseFilter` (the queue, the export and the statistics agree on what a
filter means) and pages with an opaque cursor: the position after the last item, so an insert
never shifts a page already read. The agency in the subject decides what is visible: the cases
it owns and those routed to it, as for `case.get`.
"""

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from .events import CaseState, Channel, NotificationChannel, Platform, Resolution
from .fields import REGION_PATTERN, Text
from .reads import CaseView, NotificationView
from .rpc import Actor, CaseQuery, Command, Method, MethodKind, Note, Request
from .taxonomy import Category

_ISO_MOMENT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


def _iso_moment(value: object) -> object:
    # pydantic would read 0.5 (or "0.5" in a query string) as seconds since 1970.
    if not isinstance(value, datetime) and not (isinstance(value, str) and _ISO_MOMENT.match(value)):
        raise ValueError("harus berupa waktu ISO 8601 dengan zona waktu, misalnya 2024-02-14T07:00:00+07:00")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_iso_moment)]
Cursor = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[A-Za-z0-9_-]+$")]
PageSize = Annotated[int, Field(ge=1, le=200)]
RegionPrefix = Annotated[
    str, Field(pattern=REGION_PATTERN, examples=["33", "33.75"], description="Kemendagri code prefix")
]
Assignee = Annotated[UUID, Field(description="Who the case is handed to: a user of the agency (its id)")]
MAX_BULK = 200


class CaseSort(StrEnum):
    PRIORITY = "priority"  # highest first
    OLDEST = "oldest"  # longest waiting first
    NEWEST = "newest"
    UPDATED = "updated"  # most recently changed first


class CaseScope(StrEnum):
    ALL = "all"
    OWNED = "owned"  # opened by the agency
    ROUTED = "routed"  # another agency's, routed to it


class CaseSource(StrEnum):
    REPORT = "report"  # a report from the public or a partner
    MONITORING = "monitoring"  # the agency's own watch of registered accounts


class CaseFilter(BaseModel):
    """What the queue, the export and the statistics select; every field narrows, none widens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: list[CaseState] = Field(default=[], max_length=10, description="Any of; default all")
    category: list[Category] = Field(default=[], max_length=10, description="Any of")
    min_priority: int | None = Field(default=None, ge=0, le=100)
    region: RegionPrefix | None = None
    scope: CaseScope = CaseScope.ALL
    source: CaseSource | None = None
    assignee: Assignee | None = None
    unassigned: bool = Field(default=False, description="Only cases nobody has been given")
    opened_from: Moment | None = None
    opened_to: Moment | None = None
    updated_from: Moment | None = None
    updated_to: Moment | None = None
    text: Annotated[Text, Field(min_length=3, max_length=200)] | None = Field(
        default=None, description="Words in the case's summary (case-insensitive)"
    )


class CaseListQuery(CaseFilter, Request):
    sort: CaseSort = CaseSort.PRIORITY
    cursor: Cursor | None = None
    limit: PageSize = 50


class QueueCase(CaseView):
    """A case as the queue shows it: the case and who has it."""

    assignee: str | None = None
    assigned_at: datetime | None = None
    source: CaseSource = CaseSource.REPORT


class CasePage(BaseModel):
    cases: list[QueueCase]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; none at the end")


class Assignment(BaseModel):
    """Hand a case to someone (or take it back with `assignee: null`); the owner's to do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    assignee: Assignee | None
    actor: Actor
    note: Note = None


class AssignCase(Assignment, Command):
    case_id: UUID


class NoteIn(BaseModel):
    """A note on a case; only the agency that writes it reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[Text, Field(max_length=5_000)]
    actor: Actor


class AddNote(NoteIn, Command):
    case_id: UUID


class CaseNote(BaseModel):
    note_id: UUID
    case_id: UUID
    agency_id: str
    actor: str
    text: str
    at: datetime


class CaseNotes(BaseModel):
    notes: list[CaseNote]


class BulkStateChange(BaseModel):
    """Move many cases at once; each case is changed (or refused) on its own, as one transition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
    to: CaseState
    actor: Actor
    resolution: Resolution | None = None
    note: Note = None


class TransitionCases(BulkStateChange, Command):
    pass


class CaseOutcome(BaseModel):
    """One case of a bulk change: its HTTP status as for a single transition."""

    case_id: UUID
    status: Literal[200, 403, 404, 409, 422]
    state: CaseState | None = Field(default=None, description="The case's state after the change")
    detail: str | None = None
    allowed: list[str] = []


class BulkOutcomes(BaseModel):
    changed: int
    refused: int
    outcomes: list[CaseOutcome]


class ExportCase(QueueCase):
    """A case as an export row needs it: besides the queue's view, its first reports (whose
    authors, times and evidence hashes intake keeps) and the hash of its normalised text."""

    content_sha256: str | None = None
    report_ids: list[UUID] = Field(default=[], max_length=20)


class ExportPage(BaseModel):
    cases: list[ExportCase]
    next_cursor: str | None


class StatisticsQuery(CaseFilter, Request):
    """The figures of the cases the filter selects; days are counted in the given time zone."""

    time_zone: Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"] = "Asia/Jakarta"
    region_level: Literal["province", "regency"] = Field(
        default="regency", description="Group regions by province (33) or regency/city (33.75)"
    )


class Tally(BaseModel):
    key: str
    count: int


class DayTally(BaseModel):
    day: date
    count: int
    by_category: dict[str, int]


class Durations(BaseModel):
    """Seconds from a case's opening to an event, over the cases that reached it."""

    count: int
    median_s: float | None
    p90_s: float | None
    mean_s: float | None


class CaseStatistics(BaseModel):
    total: int
    by_state: list[Tally]
    by_category: list[Tally]
    by_region: list[Tally]
    by_source: list[Tally]
    by_day: list[DayTally]
    time_to_acknowledge: Durations = Field(
        description="To the first change a person made (assignment, state change, correction)"
    )
    time_to_close: Durations
    referred: int = Field(description="Cases routed to at least one other agency")
    referrals_by_agency: list[Tally]
    referrals_by_state: list[Tally] = Field(description="What the agencies routed to recorded")
    # The selected cases' takedown requests by status (null from instances before issue 13).
    takedowns: list[Tally] | None = None


# Reports and deliveries, listed by the services that keep them.


class ReportListQuery(Request):
    received_from: Moment | None = None
    received_to: Moment | None = None
    channel: list[Channel] = Field(default=[], max_length=10)
    region: RegionPrefix | None = None
    report_ids: list[UUID] = Field(default=[], max_length=1_000, description="Only these")
    cursor: Cursor | None = None
    limit: PageSize = 50


class ReportSummary(BaseModel):
    """A report as a list shows it: what came in and its evidence, never the reporter's contact."""

    report_id: UUID
    agency_id: str
    channel: Channel
    submitted_at: datetime
    received_at: datetime
    platform: Platform
    region_code: str | None
    text: str | None
    url: str | None
    canonical_url: str | None
    author_handle: str | None
    raw_sha256: str
    content_sha256: str | None
    attachment_sha256: list[str] = []
    reporter_id: str | None = Field(default=None, description="A pseudonym, stable per reporter")


class ReportPage(BaseModel):
    reports: list[ReportSummary]
    next_cursor: str | None


class DeliveryListQuery(Request):
    state: list[Literal["pending", "sending", "sent", "failed", "skipped"]] = Field(default=[], max_length=5)
    channel: list[NotificationChannel] = Field(default=[], max_length=5)
    unacknowledged: bool = Field(default=False, description="Only team alerts nobody acknowledged")
    created_from: Moment | None = None
    created_to: Moment | None = None
    cursor: Cursor | None = None
    limit: PageSize = 50


class DeliveryPage(BaseModel):
    notifications: list[NotificationView]
    next_cursor: str | None


Q, C = MethodKind.QUERY, MethodKind.COMMAND
CASE_LIST = Method("case.list", Q, "triage", CaseListQuery, CasePage, "A page of the agency's queue")
CASE_ASSIGN = Method("case.assign", C, "triage", AssignCase, QueueCase, "Hand an owned case to someone")
CASE_NOTE = Method("case.note", C, "triage", AddNote, CaseNote, "Add the agency's note to a case")
CASE_NOTES = Method("case.notes", Q, "triage", CaseQuery, CaseNotes, "The agency's notes on a case")
CASE_TRANSITION_MANY = Method(
    "case.transition_many", C, "triage", TransitionCases, BulkOutcomes, "Change many cases' states"
)
REPORT_LIST = Method(
    "report.list", Q, "intake", ReportListQuery, ReportPage, "A page of the agency's reports"
)
DELIVERY_LIST = Method(
    "notification.deliveries", Q, "notify", DeliveryListQuery, DeliveryPage, "A page of the agency's alerts"
)

CASE_EXPORT = Method(
    "case.export", Q, "triage", CaseListQuery, ExportPage, "A page of cases with their first reports' ids"
)
CASE_STATISTICS = Method(
    "case.statistics", Q, "triage", StatisticsQuery, CaseStatistics, "Figures of the agency's cases"
)

QUEUE_METHODS: tuple[Method[Any, Any], ...] = (
    CASE_LIST,
    CASE_EXPORT,
    CASE_STATISTICS,
    CASE_ASSIGN,
    CASE_NOTE,
    CASE_NOTES,
    CASE_TRANSITION_MANY,
    REPORT_LIST,
    DELIVERY_LIST,
)
