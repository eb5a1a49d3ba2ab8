"""pantau-notify: the composition root of the notify process."""

import argparse
import sys
from collections.abc import Sequence
from uuid import UUID

from pantau_shared.bus import RpcClient
from pantau_shared.contract import NotificationChannel
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_shared.whatsapp import WhatsAppClient
from pantau_shared.worker import AdminCommand, worker_main

from . import repository
from .channels import Sender
from .channels.email import EmailSender
from .channels.whatsapp import WhatsAppSender
from .email import SmtpSender
from .handlers import AckLinks, NotifyHandlers
from .requesting import Requests
from .roster import parse_shift
from .settings import NotifySettings
from .takedown_alerts import TakedownAlerts, WithTakedownAlerts


def build(infra: Infrastructure, platform: PlatformSettings, settings: NotifySettings) -> WithTakedownAlerts:
    links = AckLinks(platform.public_url, platform.ack_link_secret.get_secret_value().encode())
    registry = senders(settings)
    handlers = NotifyHandlers(
        infra.pool, infra.outbox, settings, registry, links, RpcClient(infra.nc, infra.subjects)
    )
    # By email only: WhatsApp outside the 24-hour window takes an approved template, and the
    # approved one is the case alert's (a member on WhatsApp alone is passed over for the next).
    by_email = Requests(infra.outbox, frozenset({NotificationChannel.EMAIL}))
    alerts = TakedownAlerts(infra.pool, infra.outbox, by_email)
    return WithTakedownAlerts(handlers, alerts)


def senders(settings: NotifySettings) -> dict[NotificationChannel, Sender]:
    """The channel registry: a new channel is a module in `channels/` and a line here."""
    registry: dict[NotificationChannel, Sender] = {
        NotificationChannel.EMAIL: EmailSender(settings, SmtpSender(settings)),
    }
    if settings.whatsapp_base_url and settings.whatsapp_phone_number_id and settings.whatsapp_access_token:
        registry[NotificationChannel.WHATSAPP] = WhatsAppSender(
            settings,
            WhatsAppClient(
                settings.whatsapp_base_url,
                settings.whatsapp_phone_number_id,
                settings.whatsapp_access_token.get_secret_value(),
                api_version=settings.whatsapp_api_version,
                rate_per_s=settings.whatsapp_rate_per_s,
                per_recipient_interval_s=settings.whatsapp_per_recipient_interval_s,
                timeout_s=settings.whatsapp_timeout_s,
            ),
        )
    return registry


def configure_subscription(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--region", help="Kemendagri code prefix, e.g. 33.75")
    parser.add_argument("--category", action="append", help="repeat; all categories if absent")
    parser.add_argument("--min-priority", type=int, default=0)


async def add_subscription(infra: Infrastructure, settings: NotifySettings, args: argparse.Namespace) -> None:
    subscription_id = await repository.add_subscription(
        infra.pool,
        agency_id=args.agency,
        name=args.name,
        address=args.email,
        region_prefix=args.region,
        categories=args.category,
        min_priority=args.min_priority,
    )
    print(subscription_id)


def configure_team(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--region", help="Kemendagri code prefix; shifts use its time zone")
    parser.add_argument("--category", action="append", help="repeat; all categories if absent")
    parser.add_argument("--min-priority", type=int, default=0)
    parser.add_argument(
        "--ack-minutes",
        type=int,
        default=15,
        help="escalate when nobody acknowledges within this many minutes",
    )
    parser.add_argument("--supervisor-email")


async def add_team(infra: Infrastructure, settings: NotifySettings, args: argparse.Namespace) -> None:
    print(
        await repository.add_team(
            infra.pool,
            agency_id=args.agency,
            name=args.name,
            region_prefix=args.region,
            categories=args.category,
            min_priority=args.min_priority,
            ack_minutes=args.ack_minutes,
            supervisor_email=args.supervisor_email,
        )
    )


def configure_member(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--team-id", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--email")
    parser.add_argument("--whatsapp")
    parser.add_argument("--position", type=int, default=0, help="order of escalation")
    parser.add_argument(
        "--shift", action="append", default=[], help="'1-5 07:00-15:00' (ISO weekdays, local time); repeat"
    )


async def add_member(infra: Infrastructure, settings: NotifySettings, args: argparse.Namespace) -> None:
    shifts = [parse_shift(text) for text in args.shift]
    print(
        await repository.add_member(
            infra.pool,
            team_id=UUID(args.team_id),
            name=args.name,
            email=args.email,
            whatsapp=args.whatsapp,
            position=args.position,
            shifts=[(sorted(s.weekdays), s.starts, s.ends) for s in shifts],
        )
    )


COMMANDS = {
    "add-subscription": AdminCommand[NotifySettings](
        help="subscribe a patrol mailbox to an agency's cases",
        configure=configure_subscription,
        run=add_subscription,
    ),
    "add-team": AdminCommand[NotifySettings](
        help="add a patrol team (alerts go to its members on duty)", configure=configure_team, run=add_team
    ),
    "add-member": AdminCommand[NotifySettings](
        help="add a team member with shifts", configure=configure_member, run=add_member
    ),
}


def main(argv: Sequence[str] | None = None) -> None:
    worker_main(service="notify", settings_type=NotifySettings, build=build, argv=argv, commands=COMMANDS)


if __name__ == "__main__":
    main(sys.argv[1:])
