"""Shapes of the answers to request/reply reads, shared by the answering service and the gateway."""

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
    ReportReceived,
    Resolution,
)


class ReportView(ReportReceived):
    case_id: UUID | None = None


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


class CaseHistoryEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: datetime
    change: str
    actor: str | None
    from_state: CaseState | None
    to_state: CaseState
    resolution: Resolution | None
    note: str | None


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
