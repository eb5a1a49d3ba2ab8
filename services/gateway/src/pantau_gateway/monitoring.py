"""Monitoring of registered accounts: coverage against the SLO, and one account's schedule with
its last observed posts and findings. Intake answers for the schedule, triage for the posts."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pantau_shared.contract import Platform
from pantau_shared.contract.monitoring import (
    MONITORING_ACCOUNT,
    MONITORING_CASE_POSTS,
    MONITORING_COVERAGE,
    MONITORING_POSTS,
    AccountCoverage,
    AccountQuery,
    Coverage,
    CoverageQuery,
    ObservedPosts,
    ObservedPostView,
    PostsQuery,
)
from pantau_shared.contract.rpc import CaseQuery

from .deps import StateDep
from .roles import STAFF, Principal, Scope, require

router = APIRouter(prefix="/v1/monitoring", tags=["monitoring"])
# The agency's own staff read monitoring, as they read cases; partners do not.
Reader = Annotated[Principal, require(*STAFF, scope=Scope.CASES_READ)]


class WatchedAccount(BaseModel):
    account: AccountCoverage
    slo_s: float
    posts: list[ObservedPostView]


@router.get("/coverage", response_model=Coverage)
async def coverage(
    state: StateDep,
    caller: Reader,
    platform: Platform | None = None,
    limit: int = Query(default=100, ge=0, le=1000),
) -> Coverage:
    """The share of the agency's active accounts checked within the SLO of the calendar stage
    (for example every 6 hours in the campaign, every hour in the quiet period), per platform
    the gone, private, renamed and failing accounts, what the quotas allow, and the accounts
    that miss the SLO first."""
    return await state.rpc.call(
        caller.agency_id, MONITORING_COVERAGE, CoverageQuery(platform=platform, limit=limit)
    )


@router.get("/accounts/{platform}/{account_id:path}", response_model=WatchedAccount, responses={404: {}})
async def account(
    platform: Platform,
    account_id: str,
    state: StateDep,
    caller: Reader,
    findings_only: bool = False,
    limit: int = Query(default=20, ge=1, le=200),
) -> WatchedAccount:
    """One watched account: when it was checked, its state, and its last observed posts with
    what was found in them and the case each finding joined."""
    detail = await state.rpc.call(
        caller.agency_id, MONITORING_ACCOUNT, AccountQuery(platform=platform, account_id=account_id)
    )
    posts = await state.rpc.call(
        caller.agency_id,
        MONITORING_POSTS,
        PostsQuery(platform=platform, account_id=account_id, findings_only=findings_only, limit=limit),
    )
    return WatchedAccount(account=detail.account, slo_s=detail.slo_s, posts=posts.posts)


@router.get("/cases/{case_id}", response_model=ObservedPosts)
async def case_posts(case_id: UUID, state: StateDep, caller: Reader) -> ObservedPosts:
    """The observed posts whose findings opened or joined the case: from which watched account,
    posted when (the post's own time) and seen when; empty for a case no monitoring fed."""
    return await state.rpc.call(caller.agency_id, MONITORING_CASE_POSTS, CaseQuery(case_id=case_id))
