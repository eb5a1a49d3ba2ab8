"""The publisher's grouped publishes against a real JetStream: each caller gets its own ack, or
its own error, and only once the stream has the message."""

import asyncio

from nats.js.errors import NoStreamResponseError

from pantau_shared.bus import Publisher
from pantau_shared.contract import Subjects
from pantau_shared.infrastructure import Infrastructure
from tests.integration.test_bus import infra as infra  # the fixture
from tests.integration.test_bus import read_subject, report


async def test_concurrent_publishes_each_get_their_own_ack_once_stored(
    infra: Infrastructure, agency: str
) -> None:
    publisher = Publisher(infra.js, infra.subjects, "/test", window=0.005)
    reports = [report(agency, f"Laporan {i}") for i in range(50)]
    acks = await asyncio.gather(*(publisher.publish(publisher.envelope(r)) for r in reports))
    assert len({ack.seq for ack in acks}) == 50 and all(not ack.duplicate for ack in acks)
    stored = await read_subject(infra, "REPORTS", infra.subjects.event(agency, reports[0].SUBJECT))
    assert len(stored) == 50  # acked means stored: every one is there
    # The same event id again is a duplicate the stream drops, and the caller is told so.
    again = await publisher.publish(publisher.envelope(reports[0], event_id=reports[0].report_id))
    repeat = await publisher.publish(publisher.envelope(reports[0], event_id=reports[0].report_id))
    assert not again.duplicate and repeat.duplicate


async def test_a_publish_no_stream_takes_fails_for_its_caller_alone(
    infra: Infrastructure, agency: str
) -> None:
    good = Publisher(infra.js, infra.subjects, "/test")
    nowhere = Publisher(infra.js, Subjects(infra.subjects.root + "-none"), "/test")
    results = await asyncio.gather(
        good.publish(good.envelope(report(agency))),
        nowhere.publish(nowhere.envelope(report(agency))),
        return_exceptions=True,
    )
    assert not isinstance(results[0], BaseException) and results[0].seq > 0
    assert isinstance(results[1], NoStreamResponseError)
