"""Views of stored records that queries return, shared by the answering service and the gateway."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .events import (
    CaseState,
    CategoryScore,
    ClaimRef,
    NotificationChannel,
    Platform,
    PriorityLevel,
    ReferralState,
    ReportReceived,
    Resolution,
)


class StoredReport(ReportReceived):
    """A report as intake keeps it: what was received, and whether its sender has since
    withdrawn it (deleted the message in the chat; the report and its evidence stay)."""

    withdrawn_at: datetime | None = None


class ReportView(StoredReport):
    case_id: UUID | None = None


class Referral(BaseModel):
    """One routed agency's own record on a case: its state and note, nobody else's."""

    model_config = ConfigDict(extra="ignore")

    agency_id: str
    state: ReferralState = ReferralState.PENDING
    note: str | None = None
    updated_at: datetime | None = None


class CaseView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    case_id: UUID
    agency_id: str
    state: CaseState
    opened_at: datetime
    updated_at: datetime
    region_code: str | None
    platform: Platform
    canonical_url: str | None
    summary: str
    categories: list[CategoryScore]
    priority: int
    priority_level: PriorityLevel
    priority_reasons: list[str]
    report_count: int
    reporter_count: int
    routed_to: list[str] = []
    claims: list[ClaimRef] = []
    resolution: Resolution | None = None
    # One per agency in `routed_to`, in the same order.
    referrals: list[Referral] = []


class CaseHistoryEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: datetime
    change: str
    actor: str | None
    from_state: CaseState | None
    to_state: CaseState
    resolution: Resolution | None
    note: str | None
    # Who made the change besides the free-text actor: the agency, and its user (`user:<id>`),
    # API key (`key:<id>`) or other principal; none for the changes triage makes itself.
    agency_id: str | None = None
    principal: str | None = None
    # For `referral_updated`: the state the routed agency (`agency_id`) recorded.
    referral_state: ReferralState | None = None


class NotificationView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delivery_id: UUID
    case_id: UUID
    channel: NotificationChannel
    template: str
    recipient: str
    state: str
    attempts: int
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    escalation_level: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    # `key:<API key id>`, `link` or `whatsapp`: how the acknowledgement came.
    acknowledged_principal: str | None = None
