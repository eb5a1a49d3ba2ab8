"""The work queue: lists of cases, reports and alerts with filters and cursors, assignment,
notes and bulk transitions. Answered by triage (cases), intake (reports) and notify (alerts)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from pantau_shared.contract.queue import (
    CASE_ASSIGN,
    CASE_LIST,
    CASE_NOTE,
    CASE_NOTES,
    CASE_TRANSITION_MANY,
    DELIVERY_LIST,
    REPORT_LIST,
    AddNote,
    AssignCase,
    Assignment,
    BulkOutcomes,
    BulkStateChange,
    CaseListQuery,
    CaseNote,
    CasePage,
    DeliveryListQuery,
    DeliveryPage,
    NoteIn,
    QueueCase,
    ReportListQuery,
    ReportPage,
    TransitionCases,
)
from pantau_shared.contract.rpc import CaseQuery

from . import users
from .conditional import NOT_MODIFIED, IfNoneMatch, conditional
from .deps import OriginDep, StateDep
from .problems import Problem
from .roles import ALL_ROLES, STAFF, Principal, Role, Scope, require

router = APIRouter(prefix="/v1")
CaseReader = Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)]
CaseWorker = Annotated[Principal, require(*STAFF, scope=Scope.CASES_WRITE)]
# Handing cases out is a supervisor's (or an admin's) decision.
Dispatcher = Annotated[Principal, require(Role.ADMIN, Role.SUPERVISOR, scope=Scope.CASES_WRITE)]
ReportReader = Annotated[Principal, require(*ALL_ROLES, scope=Scope.REPORTS_READ)]


@router.get("/cases", response_model=CasePage, responses={**NOT_MODIFIED, 422: {}})
async def list_cases(
    query: Annotated[CaseListQuery, Query()],
    state: StateDep,
    caller: CaseReader,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The agency's queue: the cases it owns and those routed to it (`scope`), filtered, sorted
    (`priority` highest first, `oldest`, `newest`, `updated` most recent change first) and paged:
    pass `next_cursor` back as `cursor`. Lists repeat for every value (`state=new&state=verifying`)."""
    page: CasePage = await state.rpc.call(caller.agency_id, CASE_LIST, query)
    return conditional(page, if_none_match)


@router.get("/reports", response_model=ReportPage, responses={**NOT_MODIFIED, 422: {}})
async def list_reports(
    query: Annotated[ReportListQuery, Query()],
    state: StateDep,
    caller: ReportReader,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The agency's reports, newest first; never the reporters' contacts."""
    page: ReportPage = await state.rpc.call(caller.agency_id, REPORT_LIST, query)
    return conditional(page, if_none_match)


@router.get("/notifications", response_model=DeliveryPage, responses={**NOT_MODIFIED, 422: {}})
async def list_deliveries(
    query: Annotated[DeliveryListQuery, Query()],
    state: StateDep,
    caller: CaseReader,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The alerts and news the agency's teams and reporters were sent, newest first."""
    page: DeliveryPage = await state.rpc.call(caller.agency_id, DELIVERY_LIST, query)
    return conditional(page, if_none_match)


@router.put("/cases/{case_id}/assignee", response_model=QueueCase, responses={403: {}, 404: {}})
async def assign_case(
    case_id: UUID, assignment: Assignment, state: StateDep, caller: Dispatcher, origin: OriginDep
) -> QueueCase:
    """Hand an owned case to one of the agency's users (`assignee`: the user id, as
    `GET /v1/users` lists it; `null` takes it back); recorded in its history. An unknown or
    disabled user, or another agency's, is a 404 as an unknown case is."""
    if assignment.assignee is not None:
        await _check_assignee(state, caller.agency_id, assignment.assignee)
    command = AssignCase.model_validate({**dict(assignment), "case_id": case_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, CASE_ASSIGN, command)


async def _check_assignee(state: StateDep, agency_id: str, assignee: UUID) -> None:
    user = await users.get(state.infra.pool, agency_id, assignee)
    if user is None or user.disabled_at is not None:
        raise Problem(404, f"pengguna {assignee} tidak ada atau tidak aktif di instansi ini")


@router.post("/cases/{case_id}/notes", status_code=201, response_model=CaseNote, responses={404: {}})
async def add_note(
    case_id: UUID, note: NoteIn, state: StateDep, caller: CaseWorker, origin: OriginDep
) -> CaseNote:
    """A note on a case the agency owns or was routed to; only this agency reads its notes."""
    command = AddNote.model_validate({**dict(note), "case_id": case_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, CASE_NOTE, command)


@router.get("/cases/{case_id}/notes", response_model=list[CaseNote], responses={404: {}})
async def case_notes(case_id: UUID, state: StateDep, caller: CaseReader) -> list[CaseNote]:
    return (await state.rpc.call(caller.agency_id, CASE_NOTES, CaseQuery(case_id=case_id))).notes


@router.post("/cases:transition", response_model=BulkOutcomes, responses={422: {}})
async def transition_cases(
    change: BulkStateChange, state: StateDep, caller: CaseWorker, origin: OriginDep
) -> BulkOutcomes:
    """Move up to 200 cases to one state. Each case is changed or refused on its own, with the
    status a single transition would give it (403 routed to this agency, 404 unknown, 409 not
    allowed from its state, with the allowed ones)."""
    command = TransitionCases.model_validate({**dict(change), **origin.fields()})
    return await state.rpc.call(caller.agency_id, CASE_TRANSITION_MANY, command)
