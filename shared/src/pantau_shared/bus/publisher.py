"""Publishing envelopes to JetStream with the trace context in the headers."""

from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import propagate

from ..contract import Envelope, EventData, Subjects


class Publisher:
    def __init__(self, js: JetStreamContext, subjects: Subjects, source: str) -> None:
        self._js = js
        self._subjects = subjects
        self.source = source

    def envelope(self, data: EventData) -> Envelope[EventData]:
        return Envelope(data=data, source=self.source, agency_id=data.agency_id)  # type: ignore[attr-defined]

    def subject_for(self, envelope: Envelope[EventData]) -> str:
        return self._subjects.event(envelope.agency_id, envelope.data.SUBJECT)

    async def publish(self, envelope: Envelope[EventData], timeout: float = 5.0) -> PubAck:
        headers = envelope.headers()
        propagate.inject(headers)
        return await self._js.publish(
            self.subject_for(envelope), envelope.body(), headers=headers, timeout=timeout)
