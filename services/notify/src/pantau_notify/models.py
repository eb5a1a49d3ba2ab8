"""What notify's repository reads and writes, as typed objects: who may hear of a case
(subscriptions, teams and their members), and the deliveries at each step of their life."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pantau_shared.contract import NotificationChannel

from .roster import Shift


@dataclass(frozen=True, slots=True)
class CaseSnapshot:
    """A case as notify last heard of it: the fields of its events merged in order (a JSON
    document, so a new optional field of the contract needs no change here)."""

    fields: dict[str, Any]

    @property
    def agencies(self) -> list[str]:
        """The agency that owns the case and those it was routed to: who may be told."""
        return [self.fields["agency_id"], *self.fields.get("routed_to", [])]

    @property
    def region_code(self) -> str | None:
        region: str | None = self.fields.get("region_code")
        return region

    @property
    def categories(self) -> list[str]:
        return [c["category"] for c in self.fields.get("categories", [])]

    @property
    def state(self) -> str:
        return str(self.fields["state"])

    @property
    def partner_agency(self) -> str | None:
        partner: str | None = self.fields.get("partner_agency")
        return partner


@dataclass(frozen=True, slots=True)
class Audience:
    """What a subscription or a team asks to hear of: its agency, a region, categories and a
    least priority. A case whose place is unknown (a WhatsApp or email report) matches every
    region: one alert too many beats none."""

    agency_id: str
    region_prefix: str | None
    categories: tuple[str, ...] | None
    min_priority: int

    def wants(self, case: CaseSnapshot, priority: int) -> bool:
        region = case.region_code
        return (
            self.agency_id in case.agencies
            and self.min_priority <= priority
            and (self.region_prefix is None or region is None or region.startswith(self.region_prefix))
            and (self.categories is None or bool(set(self.categories) & set(case.categories)))
        )


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A mailbox (or number) subscribed to an agency's cases."""

    subscription_id: UUID
    channel: NotificationChannel
    address: str
    audience: Audience


@dataclass(frozen=True, slots=True)
class Member:
    member_id: UUID
    name: str
    email: str | None
    whatsapp: str | None
    position: int
    shifts: tuple[Shift, ...]


@dataclass(frozen=True, slots=True)
class Team:
    team_id: UUID
    name: str
    ack_minutes: int
    supervisor_email: str | None
    audience: Audience
    members: tuple[Member, ...] = ()

    @property
    def agency_id(self) -> str:
        return self.audience.agency_id


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """A message to ask for: a delivery row and its notification.requested event."""

    case_id: UUID
    agency_id: str
    recipient_key: str
    channel: NotificationChannel
    address: str
    template: str
    snapshot: CaseSnapshot
    escalation_level: int = 0
    subscription_id: UUID | None = None
    team_id: UUID | None = None
    member_id: UUID | None = None
    ack_minutes: int | None = None

    @property
    def key(self) -> tuple[UUID, str, str]:
        """At most one delivery per (case, recipient, template), however often events arrive."""
        return (self.case_id, self.recipient_key, self.template)


@dataclass(frozen=True, slots=True)
class DeliveryState:
    delivery_id: UUID
    state: str
    channel: str
    expired: bool
    lease_left_s: float


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery claimed for sending, with what its message needs."""

    delivery_id: UUID
    agency_id: str
    case_id: UUID | None
    report_id: UUID | None
    channel: str
    recipient: str
    template: str
    attempts: int
    case_snapshot: dict[str, Any]
    team_id: UUID | None
    team_name: str | None
    ack_minutes: int | None
    member_email: str | None


@dataclass(frozen=True, slots=True)
class DueEscalation:
    """A team alert past its acknowledgement deadline, with the team it went to."""

    delivery_id: UUID
    case_id: UUID
    template: str
    escalation_level: int
    snapshot: CaseSnapshot
    position: int | None
    team: Team


@dataclass(frozen=True, slots=True)
class Acknowledgeable:
    """A delivery someone acknowledged: a case alert."""

    delivery_id: UUID
    case_id: UUID
    team_id: UUID | None
    acknowledged_at: datetime | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Settled:
    """A delivery whose unknown outcome a provider status settled."""

    delivery_id: UUID
    agency_id: str
    case_id: UUID | None
    report_id: UUID | None
    channel: NotificationChannel
    template: str
    recipient_key: str
