"""The worker runtime's drain order against real NATS and PostgreSQL: work committed while
draining is published before the process exits."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from pantau_shared.bus import Answer, Subscription, provision
from pantau_shared.contract import Envelope, EventData, NotificationAcknowledged, new_id
from pantau_shared.settings import PlatformSettings, ServiceSettings
from pantau_shared.worker import run_worker
from tests.conftest import connect
from tests.integration.test_bus import publish, read_subject, report

# Longer than the relay's sweep interval (1 s), which is when the relay used to stop.
WORK_S = 1.5


class SlowHandlers:
    """One consumer whose handler is still working when the drain starts, then commits an event."""

    def __init__(self, infra, agency: str, stopping: asyncio.Event) -> None:
        self._infra, self._agency, self._stopping = infra, agency, stopping
        self.started = asyncio.Event()
        self.staged: list[NotificationAcknowledged] = []

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable=f"test-drain-order-{self._agency}",
                stream="REPORTS",
                subject_suffix="report.submitted",
                handler=self.handle,
                agency=self._agency,
            )
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return []

    async def handle(self, envelope: Envelope[EventData]) -> None:
        self.started.set()
        await self._stopping.wait()
        await asyncio.sleep(WORK_S)  # the rest of the work, done while the process drains
        event = NotificationAcknowledged(
            delivery_id=new_id(),
            agency_id=self._agency,
            case_id=new_id(),
            acknowledged_at=datetime.now(UTC),
            acknowledged_by="Siti",
            via="api",
        )
        async with self._infra.pool.acquire() as conn, conn.transaction():
            await self._infra.outbox.stage(conn, event)
        self._infra.outbox.committed()
        self.staged.append(event)


async def test_events_committed_during_drain_are_published_before_exit(
    platform: PlatformSettings, agency: str
) -> None:
    infra = await connect(platform, "intake")
    stopping = asyncio.Event()
    handlers = SlowHandlers(infra, agency, stopping)
    await provision(infra.js, infra.subjects, handlers.subscriptions())
    await publish(infra, report(agency))
    drain_platform = platform.model_copy(update={"drain_timeout_s": 10.0})
    worker = asyncio.create_task(run_worker(infra, drain_platform, ServiceSettings(), handlers, stopping))
    await asyncio.wait_for(handlers.started.wait(), 10)
    began = time.monotonic()
    stopping.set()
    await asyncio.wait_for(worker, 15)  # run_worker closes `infra`: nothing is left running
    assert WORK_S <= time.monotonic() - began < 10  # waited for the handler, not the deadline
    assert len(handlers.staged) == 1

    reader = await connect(platform, "intake")
    try:
        published = await read_subject(
            reader, "NOTIFICATIONS", reader.subjects.event(agency, NotificationAcknowledged.SUBJECT)
        )
        assert [m.headers["ce-subject"] for m in published] == [str(handlers.staged[0].delivery_id)]
        await reader.js.delete_consumer(reader.subjects.stream("REPORTS"), f"test-drain-order-{agency}")
    finally:
        await reader.close()
