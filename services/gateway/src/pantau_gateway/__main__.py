"""pantau-gateway: the composition root of the HTTP API process, and its admin commands.

The API runs as a component of the shared worker runtime: the same settings parse, health
server, admin-command table and drain deadline as the other services.
"""

import sys
from collections.abc import Sequence
from typing import Any

from pantau_shared.bus import Answer, Subscription
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_shared.worker import HttpService, worker_main

from .app import SERVICE, create_app
from .commands import COMMANDS
from .settings import GatewaySettings


class Gateway:
    """What the gateway hands the runtime: no consumers and no reads, one HTTP application."""

    def __init__(self, infra: Infrastructure, platform: PlatformSettings, settings: GatewaySettings) -> None:
        self._http = HttpService(create_app(platform, settings, infra), settings.host, settings.port)

    def subscriptions(self) -> list[Subscription]:
        return []

    def answers(self) -> list[Answer[Any, Any]]:
        return []

    def http(self) -> HttpService:
        return self._http


def main(argv: Sequence[str] | None = None) -> None:
    worker_main(service=SERVICE, settings_type=GatewaySettings, build=Gateway, argv=argv, commands=COMMANDS)


if __name__ == "__main__":
    main(sys.argv[1:])
