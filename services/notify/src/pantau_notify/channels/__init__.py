"""The channels notify sends on: one `Sender` per channel, chosen from a registry built in
`__main__`. A new channel is one module here and one line in that registry."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from pantau_shared.contract import NotificationChannel


class Template(StrEnum):
    CASE_ALERT = "case_alert"
    CASE_ESCALATION = "case_escalation"
    REPORT_BACK = "report_back"
    REPORT_RECEIPT = "report_receipt"
    TAKEDOWN_OVERDUE = "takedown_overdue"


@dataclass(frozen=True)
class Outgoing:
    """One message to one address, with what its template needs; no database row."""

    delivery_id: UUID
    agency_id: str
    template: Template
    address: str
    snapshot: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    # The team a member or supervisor is alerted for; None for a mailbox subscription.
    team: str | None = None
    ack_minutes: int = 0
    ack_url: str | None = None
    # The read-only page of the case behind an alert's "Buka kasus".
    case_url: str = ""
    # The provider's id of the message this one answers (a reporter's mail or WhatsApp).
    reply_to: str | None = None


class Sender(Protocol):
    async def send(self, message: Outgoing) -> str:
        """Send; return the provider's message id. Raises `PermanentFailure`,
        `TransientFailure`, or `OutcomeUnknown` when the request may have gone out."""
        ...

    async def close(self) -> None: ...


Senders = Mapping[NotificationChannel, Sender]

__all__ = ["Outgoing", "Sender", "Senders", "Template"]
