"""What the owner's case says when an agency it was referred to takes a step.

One trail whichever instance that agency is on: on this one it records its referral on the
owner's case (`case.referral`); on another it accepts, declines and moves its own case, and the
news comes back over the federation. Either way the owner's case gets one `case.updated.v1`
(`partner_status`) per step, so its subscribers and reporters hear the same things.
"""

from datetime import datetime
from typing import Any

from pantau_shared.contract import CaseState, CaseUpdated, ReferralState, Resolution

from .. import repository as cases


def case_event(case: cases.Case, now: datetime, change: str, state: CaseState, **fields: Any) -> CaseUpdated:
    return CaseUpdated(
        case_id=case.case_id,
        agency_id=case.agency_id,
        updated_at=now,
        change=change,  # type: ignore[arg-type]
        state=state,
        region_code=case.region_code,
        categories=case.categories,
        priority=case.priority,
        priority_level=case.priority_level,
        report_count=case.report_count,
        reporter_count=case.reporter_count,
        routed_to=case.routed_to,
        **fields,
    )


def referral_news(
    case: cases.Case,
    now: datetime,
    agency_id: str,
    referral_state: ReferralState | None,
    *,
    actor: str | None,
    note: str | None,
    partner_state: CaseState | None = None,
    partner_resolution: Resolution | None = None,
) -> CaseUpdated:
    """The owner's case event for one step of `agency_id` with its referral. An agency on this
    instance has no case of its own: its referral done is its handling closed."""
    if partner_state is None and referral_state is ReferralState.DONE:
        partner_state = CaseState.CLOSED
    return case_event(
        case,
        now,
        "partner_status",
        case.state,
        actor=actor,
        note=note,
        partner_agency=agency_id,
        partner_state=partner_state,
        partner_resolution=partner_resolution,
        partner_referral_state=referral_state,
    )
