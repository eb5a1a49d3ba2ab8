"""Publishing envelopes to JetStream with the trace context in the headers."""

from dataclasses import replace
from uuid import UUID

from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import propagate

from ..contract import Envelope, EventData, Subjects


class Publisher:
    def __init__(self, js: JetStreamContext, subjects: Subjects, source: str) -> None:
        self._js = js
        self._subjects = subjects
        self.source = source

    def envelope(self, data: EventData, event_id: UUID | None = None) -> Envelope[EventData]:
        """`event_id` makes a re-publish of the same fact a duplicate the stream drops."""
        envelope: Envelope[EventData] = Envelope(data=data, source=self.source, agency_id=data.agency_id)  # type: ignore[attr-defined]
        return replace(envelope, id=event_id) if event_id is not None else envelope

    def subject_for(self, envelope: Envelope[EventData]) -> str:
        return envelope.data.address(self._subjects)

    async def publish(self, envelope: Envelope[EventData], timeout: float = 5.0) -> PubAck:
        headers = envelope.headers()
        propagate.inject(headers)
        return await self._js.publish(
            self.subject_for(envelope), envelope.body(), headers=headers, timeout=timeout
        )
