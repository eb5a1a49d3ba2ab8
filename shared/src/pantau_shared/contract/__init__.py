"""The event contract every Pantau service speaks: typed events, subjects and the envelope."""

from .envelope import ContractError, Envelope, decode
from .events import (
    EVENT_TYPES,
    CaseOpened,
    CaseState,
    CaseUpdated,
    CategoryScore,
    Channel,
    ClaimRef,
    EventData,
    NotificationAcknowledged,
    NotificationChannel,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    Platform,
    PriorityLevel,
    Reporter,
    ReportReceived,
    ReportSubmitted,
    Resolution,
)
from .ids import new_id, stable_id
from .reads import CaseHistoryEntry, CaseView, NotificationView, ReportView
from .subjects import CONTRACT_MAJOR, Subjects
from .taxonomy import TAXONOMY, Category, CategoryInfo

__all__ = [
    "CONTRACT_MAJOR",
    "EVENT_TYPES",
    "TAXONOMY",
    "CaseHistoryEntry",
    "CaseOpened",
    "CaseState",
    "CaseUpdated",
    "CaseView",
    "Category",
    "CategoryInfo",
    "CategoryScore",
    "Channel",
    "ClaimRef",
    "ContractError",
    "Envelope",
    "EventData",
    "NotificationAcknowledged",
    "NotificationChannel",
    "NotificationFailed",
    "NotificationRequested",
    "NotificationSent",
    "NotificationView",
    "Platform",
    "PriorityLevel",
    "ReportReceived",
    "ReportSubmitted",
    "ReportView",
    "Reporter",
    "Resolution",
    "Subjects",
    "decode",
    "new_id",
    "stable_id",
]
