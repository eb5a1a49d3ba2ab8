"""A collector process for the kill test: YouTube through the local platform server, leases of
a few seconds, run until killed. `python -m tests.integration.collector_child` with
CHILD_PLATFORM (PlatformSettings as JSON) and CHILD_PEER (the platform server's base URL)."""

import asyncio
import os
from datetime import timedelta

from pantau_intake.monitoring import platform_http
from pantau_intake.monitoring.budgets import DAY_PACIFIC, Budget
from pantau_intake.monitoring.collector import Collector
from pantau_intake.monitoring.youtube import YouTubeConnector
from pantau_shared.contract import Platform
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect


async def main() -> None:
    platform = PlatformSettings.model_validate_json(os.environ["CHILD_PLATFORM"])
    infra = await connect(platform, "intake")
    async with platform_http.client(os.environ["CHILD_PEER"]) as client:
        budget = Budget(infra.redis, f"{platform.subject_root}:kill:{os.getpid()}", 10_000, DAY_PACIFIC)
        youtube = YouTubeConnector(client, "youtube-local-key", budget)
        collector = Collector(
            infra.pool,
            infra.outbox,
            lambda agency, p: youtube if p is Platform.YOUTUBE else None,
            interval=lambda lease: timedelta(hours=6),
            batch=10,
            hold=timedelta(seconds=3),
        )
        print("ready", flush=True)
        await collector.run(asyncio.Event(), idle_s=0.2)


if __name__ == "__main__":
    asyncio.run(main())
