"""Figures of the agency's cases for the console's charts and the periodic public figures:
by category, region, day and source, time to acknowledgement and to closing, referrals.
Selected with the queue's filters; answered by triage."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from pantau_shared.contract.queue import CASE_STATISTICS, CaseStatistics, StatisticsQuery

from .conditional import NOT_MODIFIED, IfNoneMatch, conditional
from .deps import StateDep
from .roles import ALL_ROLES, Principal, Scope, require

router = APIRouter(prefix="/v1")


@router.get("/statistics/cases", response_model=CaseStatistics, responses={**NOT_MODIFIED, 422: {}})
async def case_statistics(
    query: Annotated[StatisticsQuery, Query()],
    state: StateDep,
    caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The week's figures, for example: `opened_from=2024-02-05T00:00:00%2B07:00&opened_to=…`.
    Days are counted in `time_zone` (WIB by default); `takedowns` counts the selected cases'
    takedown requests by status (`GET /v1/takedowns/statistics` has their times to removal)."""
    figures: CaseStatistics = await state.rpc.call(caller.agency_id, CASE_STATISTICS, query)
    return conditional(figures, if_none_match)
