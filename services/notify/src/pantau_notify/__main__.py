"""pantau-notify: the composition root of the notify process."""

import argparse
import sys
from collections.abc import Sequence

from pantau_shared.infrastructure import Infrastructure
from pantau_shared.worker import AdminCommand, worker_main

from . import repository
from .email import SmtpSender
from .handlers import NotifyHandlers
from .settings import NotifySettings


def build(infra: Infrastructure, settings: NotifySettings) -> NotifyHandlers:
    return NotifyHandlers(infra.pool, infra.outbox, settings, SmtpSender(settings))


def configure_subscription(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--region", help="Kemendagri code prefix, e.g. 33.75")
    parser.add_argument("--category", action="append", help="repeat; all categories if absent")
    parser.add_argument("--min-priority", type=int, default=0)


async def add_subscription(infra: Infrastructure, settings: NotifySettings,
                           args: argparse.Namespace) -> None:
    subscription_id = await repository.add_subscription(
        infra.pool, agency_id=args.agency, name=args.name, address=args.email,
        region_prefix=args.region, categories=args.category, min_priority=args.min_priority)
    print(subscription_id)


COMMANDS = {
    "add-subscription": AdminCommand[NotifySettings](
        help="subscribe a patrol mailbox to an agency's cases",
        configure=configure_subscription, run=add_subscription),
}


def main(argv: Sequence[str] | None = None) -> None:
    worker_main(service="notify", settings_type=NotifySettings, build=build, argv=argv,
                commands=COMMANDS)


if __name__ == "__main__":
    main(sys.argv[1:])
