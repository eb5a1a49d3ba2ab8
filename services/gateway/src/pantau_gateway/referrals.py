"""Referrals between instances: what agencies on other instances handed this one, and what
became of the cases this one handed on. Answered by triage's federation link."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter

from pantau_shared.contract import (
    CASE_REFERRALS,
    REFERRAL_ACCEPT,
    REFERRAL_DECLINE,
    REFERRAL_LIST,
    DecideReferral,
    ReferralDecision,
    Referrals,
    ReferralsQuery,
    ReferralView,
)
from pantau_shared.contract.rpc import CaseQuery

from .deps import OriginDep, StateDep
from .roles import ALL_ROLES, Principal, Role, Scope, require

router = APIRouter(prefix="/v1")


@router.get("/referrals", response_model=Referrals)
async def list_referrals(
    state: StateDep,
    caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)],
    status: Literal["pending", "accepted", "declined"] | None = None,
) -> Referrals:
    """Referrals received from agencies on other instances (`status=pending`: those to decide)."""
    return await state.rpc.call(caller.agency_id, REFERRAL_LIST, ReferralsQuery(state=status))


@router.post("/referrals/{referral_id}/accept", response_model=ReferralView, responses={404: {}, 409: {}})
async def accept_referral(
    referral_id: UUID,
    decision: ReferralDecision,
    state: StateDep,
    caller: Annotated[Principal, require(Role.ADMIN, Role.SUPERVISOR, scope=Scope.CASES_WRITE)],
    origin: OriginDep,
) -> ReferralView:
    """Take the referral on; the case it opened here is this agency's to move."""
    command = DecideReferral.model_validate({**dict(decision), "referral_id": referral_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, REFERRAL_ACCEPT, command)


@router.post("/referrals/{referral_id}/decline", response_model=ReferralView, responses={404: {}, 409: {}})
async def decline_referral(
    referral_id: UUID,
    decision: ReferralDecision,
    state: StateDep,
    caller: Annotated[Principal, require(Role.ADMIN, Role.SUPERVISOR, scope=Scope.CASES_WRITE)],
    origin: OriginDep,
) -> ReferralView:
    command = DecideReferral.model_validate({**dict(decision), "referral_id": referral_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, REFERRAL_DECLINE, command)


@router.get("/cases/{case_id}/referrals", response_model=Referrals, responses={404: {}})
async def case_referrals(
    case_id: UUID, state: StateDep, caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)]
) -> Referrals:
    """The case's referrals to agencies on other instances: pending or decided, and the
    partner's own case state and history as it reported them."""
    return await state.rpc.call(caller.agency_id, CASE_REFERRALS, CaseQuery(case_id=case_id))
