"""Takedown requests to platforms on a case, the platforms' answers, and their figures.
Answered by triage, which re-checks each URL until it finds the content gone."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from pantau_shared.contract.rpc import CaseQuery
from pantau_shared.contract.takedowns import (
    TAKEDOWN_GET,
    TAKEDOWN_LIST,
    TAKEDOWN_REQUEST,
    TAKEDOWN_RESPOND,
    TAKEDOWN_STATISTICS,
    RecordTakedownResponse,
    RequestTakedown,
    TakedownQuery,
    TakedownRequestIn,
    TakedownResponseIn,
    Takedowns,
    TakedownStatistics,
    TakedownStatisticsQuery,
    TakedownView,
)

from .conditional import NOT_MODIFIED, IfNoneMatch, conditional
from .deps import OriginDep, StateDep
from .roles import ALL_ROLES, STAFF, Principal, Scope, require

router = APIRouter(prefix="/v1")
Reader = Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)]
Worker = Annotated[Principal, require(*STAFF, scope=Scope.CASES_WRITE)]


@router.post(
    "/cases/{case_id}/takedowns",
    status_code=201,
    response_model=TakedownView,
    responses={404: {}, 409: {}, 422: {}},
)
async def request_takedown(
    case_id: UUID, body: TakedownRequestIn, state: StateDep, caller: Worker, origin: OriginDep
) -> TakedownView:
    """Record a takedown request sent to a platform about the case's content. The deadline is
    24 hours from `requested_at`, 4 hours when `urgent` (Permenkominfo 5/2020, art. 14); the URL
    is re-checked from now on until it is gone. An owned case moves to `takedown_requested`."""
    command = RequestTakedown.model_validate({**dict(body), "case_id": case_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, TAKEDOWN_REQUEST, command)


@router.get("/cases/{case_id}/takedowns", response_model=Takedowns, responses={404: {}})
async def case_takedowns(case_id: UUID, state: StateDep, caller: Reader) -> Takedowns:
    """The case's takedown requests, oldest first, with the platforms' answers and re-checks."""
    return await state.rpc.call(caller.agency_id, TAKEDOWN_LIST, CaseQuery(case_id=case_id))


@router.get("/takedowns/statistics", response_model=TakedownStatistics, responses={**NOT_MODIFIED, 422: {}})
async def takedown_statistics(
    query: Annotated[TakedownStatisticsQuery, Query()],
    state: StateDep,
    caller: Reader,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Requests, removals, refusals and overdue ones, and the median and p90 time to removal,
    per platform, of the takedowns requested within [`since`, `until`)."""
    figures: TakedownStatistics = await state.rpc.call(caller.agency_id, TAKEDOWN_STATISTICS, query)
    return conditional(figures, if_none_match)


@router.get("/takedowns/{takedown_id}", response_model=TakedownView, responses={404: {}})
async def get_takedown(takedown_id: UUID, state: StateDep, caller: Reader) -> TakedownView:
    return await state.rpc.call(caller.agency_id, TAKEDOWN_GET, TakedownQuery(takedown_id=takedown_id))


@router.post(
    "/takedowns/{takedown_id}/responses",
    status_code=201,
    response_model=TakedownView,
    responses={404: {}, 422: {}},
)
async def record_response(
    takedown_id: UUID, body: TakedownResponseIn, state: StateDep, caller: Worker, origin: OriginDep
) -> TakedownView:
    """What the platform answered: `acknowledged`, `refused` (with its `reason`), or
    `claims_removed` (a re-check follows at once; only a re-check marks the content removed)."""
    command = RecordTakedownResponse.model_validate(
        {"response": body, "takedown_id": takedown_id, **origin.fields()}
    )
    return await state.rpc.call(caller.agency_id, TAKEDOWN_RESPOND, command)
