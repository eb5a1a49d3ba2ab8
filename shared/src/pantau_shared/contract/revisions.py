"""A reporter changing a message after Pantau kept it: WhatsApp edits and deletions ("revokes").

The original stays as evidence in every case. The gateway says a message was revoked
(`report.revoked`, since a deletion carries no content to submit); intake, which knows which
report holds the message, tells triage with `report.revised`, for an edit or a deletion alike.
"""

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from .events import AgencyId, AwareDatetime, Channel, EventData
from .fields import ReportText
from .ids import stable_id

ChannelId = Annotated[str, Field(min_length=1, max_length=500)]


class MessageRevoked(EventData):
    """The sender deleted one of their messages in the chat (WhatsApp's `revoke`)."""

    TYPE: ClassVar[str] = "report.revoked.v1"
    SUBJECT: ClassVar[str] = "report.revoked"
    KEY_FIELD: ClassVar[str] = "external_id"

    agency_id: AgencyId
    channel: Channel
    # The revoke's own channel id, and the id of the message it deletes.
    external_id: ChannelId
    revises: ChannelId
    revoked_at: AwareDatetime

    def event_id(self) -> UUID:
        """The `Nats-Msg-Id`: the provider's retries of one revoke are one event."""
        return stable_id("report.revoked", f"{self.agency_id}:{self.external_id}")


class ReportRevised(EventData):
    """A stored report changed by its reporter: an edit (the new text) or a withdrawal."""

    TYPE: ClassVar[str] = "report.revised.v1"
    SUBJECT: ClassVar[str] = "report.revised"
    KEY_FIELD: ClassVar[str] = "report_id"

    report_id: UUID
    agency_id: AgencyId
    change: Literal["edited", "withdrawn"]
    revised_at: AwareDatetime
    # The channel id of the edit or revoke, and of the message it changes.
    external_id: ChannelId
    revises: ChannelId
    # For "edited": the text as the reporter now has it.
    text: ReportText | None = None

    def event_id(self) -> UUID:
        return stable_id("report.revised", f"{self.report_id}:{self.external_id}")


REVISION_EVENTS: tuple[type[EventData], ...] = (MessageRevoked, ReportRevised)
