"""A durable consumer no service declares any more is deleted when services declare theirs
(an upgraded deployment keeps none gathering messages nobody reads), on a real NATS server."""

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from pantau_shared.bus import Subscription, provision
from pantau_shared.bus.topology import RETIRED_DURABLES, RetiredDurable, remove_retired
from pantau_shared.contract import ReportReceived
from pantau_shared.infrastructure import Infrastructure
from tests.integration.test_bus import infra as infra  # the fixture


async def test_an_old_deployments_retired_durable_is_deleted_at_declaration_and_again_is_harmless(
    infra: Infrastructure,
) -> None:
    stream = infra.subjects.stream("REPORTS")
    # What an earlier version declared, with messages waiting on it.
    await infra.js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name="intake-evidence-reports",
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=infra.subjects.event_filter(ReportReceived.SUBJECT),
        ),
    )
    await provision(infra.js, infra.subjects, [])
    with pytest.raises(NotFoundError):
        await infra.js.consumer_info(stream, "intake-evidence-reports")
    await provision(infra.js, infra.subjects, [])  # nothing left to delete: no error
    assert {r.durable for r in RETIRED_DURABLES} >= {"intake-evidence-reports", "intake-evidence-posts"}


async def test_a_durable_both_declared_and_retired_is_refused_and_kept(infra: Infrastructure) -> None:
    async def handler(_: object) -> None: ...

    live = Subscription(
        durable="test-retired-live", stream="REPORTS", subject_suffix="report.x", handler=handler
    )
    await provision(infra.js, infra.subjects, [live])
    with pytest.raises(ValueError, match="declared and retired"):
        await remove_retired(
            infra.js, infra.subjects, [live], [RetiredDurable("REPORTS", "test-retired-live")]
        )
    assert (await infra.js.consumer_info(infra.subjects.stream("REPORTS"), "test-retired-live")).name
    await infra.js.delete_consumer(infra.subjects.stream("REPORTS"), "test-retired-live")
