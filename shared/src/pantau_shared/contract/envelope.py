"""CloudEvents 1.0 in NATS binary content mode: attributes in `ce-*` headers, the data as JSON.

The event id doubles as `Nats-Msg-Id`, so JetStream drops a re-publish of the same event within
its duplicate window, and consumers can use it as an idempotency key.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import UUID

from pydantic import ValidationError

from .events import EVENT_TYPES, EventData
from .ids import new_id

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

T = TypeVar("T", bound=EventData)


class ContractError(ValueError):
    """A message that does not follow the contract: it can never succeed, so it is dead-lettered."""


@dataclass(frozen=True)
class Envelope(Generic[T]):
    data: T
    source: str
    agency_id: str
    id: UUID = field(default_factory=new_id)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def type(self) -> str:
        return self.data.TYPE

    @property
    def subject(self) -> str:
        return self.data.key()

    def headers(self) -> dict[str, str]:
        return {
            "ce-specversion": SPEC_VERSION,
            "ce-id": str(self.id),
            "ce-source": self.source,
            "ce-type": self.type,
            "ce-time": self.time.isoformat(),
            "ce-subject": self.subject,
            "ce-agency": self.agency_id,
            "content-type": CONTENT_TYPE,
            "Nats-Msg-Id": str(self.id),
        }

    def body(self) -> bytes:
        return self.data.model_dump_json().encode()


def decode(headers: dict[str, str] | None, body: bytes) -> Envelope[EventData]:
    headers = headers or {}
    if headers.get("ce-specversion") != SPEC_VERSION:
        raise ContractError(f"ce-specversion must be {SPEC_VERSION!r}")
    event_type = headers.get("ce-type", "")
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise ContractError(f"unknown event type {event_type!r}")
    try:
        event_id = UUID(headers["ce-id"])
        time = datetime.fromisoformat(headers["ce-time"])
        data = model.model_validate_json(body)
    except KeyError as missing:
        raise ContractError(f"missing header {missing.args[0]}") from None
    except ValidationError as invalid:
        raise ContractError(f"invalid {event_type} data: {invalid}") from None
    except ValueError as invalid:
        raise ContractError(f"invalid header value: {invalid}") from None
    agency = headers.get("ce-agency") or str(getattr(data, "agency_id", ""))
    return Envelope(data=data, source=headers.get("ce-source", ""), agency_id=agency, id=event_id, time=time)
