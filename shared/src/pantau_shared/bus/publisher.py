"""Publishing envelopes to JetStream with the trace context in the headers.

Publishes made within a short window (concurrent HTTP requests, the items of a bulk request) go
out as one group: each is sent without waiting, then the group's acks are awaited together, under
one timeout, instead of one request/reply round with its own timer per message. Every caller still
gets its own ack (or error) back before it answers, so nothing is acknowledged to a client before
the stream has stored it.
"""

import asyncio
from collections.abc import Iterable
from uuid import UUID

from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import propagate

from ..contract import Envelope, EventData, Subjects

_Pending = tuple[str, bytes, dict[str, str], "asyncio.Future[PubAck]"]


async def publish_group(
    js: JetStreamContext, messages: Iterable[tuple[str, bytes, dict[str, str]]], timeout: float
) -> tuple[list["asyncio.Future[PubAck]"], set["asyncio.Future[PubAck]"]]:
    """Every message sent without waiting (one socket write for the lot), then the stream's acks
    awaited together under one timeout, instead of a request/reply round with its own timer each.
    Returns every ack in order and those still pending at the timeout, cancelled, which frees
    their slots among the client's pending acks. A connection failing mid-group raises."""
    acks: list[asyncio.Future[PubAck]] = []
    try:
        for subject, body, headers in messages:
            acks.append(await js.publish_async(subject, body, headers=headers))
        _, pending = await asyncio.wait(acks, timeout=timeout)
    except BaseException:
        for ack in acks:
            ack.cancel()
        raise
    for ack in pending:
        ack.cancel()
    return acks, pending


class Publisher:
    def __init__(
        self, js: JetStreamContext, subjects: Subjects, source: str, *, window: float = 0.001
    ) -> None:
        self._js = js
        self._subjects = subjects
        self.source = source
        self._window = window
        self._pending: list[_Pending] = []
        self._groups: set[asyncio.Task[None]] = set()

    def envelope(self, data: EventData, event_id: UUID | None = None) -> Envelope[EventData]:
        """`event_id` makes a re-publish of the same fact a duplicate the stream drops."""
        agency_id: str = data.agency_id  # type: ignore[attr-defined]
        if event_id is None:
            return Envelope(data=data, source=self.source, agency_id=agency_id)
        # Made with its id rather than copied with it: the copy (dataclasses.replace) was 4.5% of
        # the gateway's CPU on the bulk path.
        return Envelope(data=data, source=self.source, agency_id=agency_id, id=event_id)

    def subject_for(self, envelope: Envelope[EventData]) -> str:
        return envelope.data.address(self._subjects)

    async def publish(self, envelope: Envelope[EventData], timeout: float = 5.0) -> PubAck:
        """The stream's ack of this envelope, published with whatever else arrives in the window."""
        headers = envelope.headers()
        propagate.inject(headers)
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[PubAck] = loop.create_future()
        if not self._pending:
            loop.call_later(self._window, self._flush, timeout)
        self._pending.append((self.subject_for(envelope), envelope.body(), headers, acked))
        return await acked

    def _flush(self, timeout: float) -> None:
        group, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(group, timeout))
        self._groups.add(task)
        task.add_done_callback(self._groups.discard)

    async def _send(self, group: list[_Pending], timeout: float) -> None:
        try:
            acks, pending = await publish_group(self._js, (queued[:3] for queued in group), timeout)
        except Exception as error:  # the connection failed mid-group: everyone hears it
            for *_, acked in group:
                if not acked.done():
                    acked.set_exception(error)
            return
        for ack, (*_, acked) in zip(acks, group, strict=True):
            if acked.done():  # the caller went away (a client that disconnected)
                continue
            if ack in pending:
                acked.set_exception(TimeoutError(f"no ack from the stream within {timeout} s"))
            elif (refused := ack.exception()) is not None:
                acked.set_exception(refused)
            else:
                acked.set_result(ack.result())
