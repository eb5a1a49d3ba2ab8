"""pantau-gateway: the composition root of the HTTP API process, and its admin commands.

The API runs as a component of the shared worker runtime: the same settings parse, health
server, admin-command table and drain deadline as the other services.
"""

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import Any

from pantau_shared.bus import Answer, Subscription
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_shared.worker import AdminCommand, HttpService, worker_main

from . import auth, repository, revocation, users
from .app import SERVICE, create_app
from .repository import Grant
from .roles import Role, Scope
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


def configure_agency(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", required=True, help="e.g. bawaslu-3375")
    parser.add_argument("--name", required=True)
    parser.add_argument(
        "--kind", required=True, choices=["bawaslu", "komdigi", "diskominfo", "polri", "gugus-tugas", "other"]
    )
    parser.add_argument("--region", help="Kemendagri code, e.g. 33.75")


async def create_agency(infra: Infrastructure, settings: GatewaySettings, args: argparse.Namespace) -> None:
    await repository.upsert_agency(infra.pool, args.id, args.name, args.kind, args.region)


def configure_grant(parser: argparse.ArgumentParser, default_role: str | None) -> None:
    parser.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in Role],
        help="repeat for several" + (f"; {default_role} when none is given" if default_role else ""),
        required=default_role is None,
    )
    parser.add_argument("--contacts", action="store_true", help="may see reporter contacts (personal data)")


def configure_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--rate-limit", type=int, help="requests a minute; the default otherwise")
    parser.add_argument("--key", help="register this exact key (pk_<id>_<secret>) instead")
    # Supervisor: what a key could do before there were roles, so existing scripts keep working.
    configure_grant(parser, default_role=Role.SUPERVISOR.value)
    parser.add_argument(
        "--scope",
        action="append",
        choices=[s.value for s in Scope],
        help="only these (repeat); all otherwise",
    )


async def add_key(infra: Infrastructure, settings: GatewaySettings, args: argparse.Namespace) -> None:
    if args.key:
        parts = auth.split_key(args.key)
        if parts is None:
            raise SystemExit("--key must look like pk_<id>_<secret>")
        (key_id, secret), whole = parts, args.key
    else:
        key_id, secret, whole = auth.new_key()
    pepper = settings.api_key_pepper.get_secret_value().encode()
    grant = Grant(
        tuple(args.role or [Role.SUPERVISOR.value]), tuple(args.scope) if args.scope else None, args.contacts
    )
    await repository.insert_key(
        infra.pool, key_id, args.agency, auth.secret_hash(pepper, secret), args.label, args.rate_limit, grant
    )
    print(whole)


def configure_user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True)
    configure_grant(parser, default_role=None)
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input, not a prompt"
    )


async def add_user(infra: Infrastructure, settings: GatewaySettings, args: argparse.Namespace) -> None:
    if not await repository.agency_exists(infra.pool, args.agency):
        raise SystemExit(f"no agency {args.agency}; create-agency first")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    if len(password) < users.MIN_PASSWORD:
        raise SystemExit(f"the password needs at least {users.MIN_PASSWORD} characters")
    user = await users.create(
        infra.pool,
        agency_id=args.agency,
        email=args.email,
        name=args.name,
        password=password,
        roles=args.role,
        contacts=args.contacts,
    )
    if user is None:
        raise SystemExit(f"{args.email} already has an account")
    print(user.user_id)


def configure_revoke(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-id", required=True, help="the <id> of pk_<id>_<secret>")


async def revoke_key(infra: Infrastructure, settings: GatewaySettings, args: argparse.Namespace) -> None:
    agency_id = await repository.revoke_key(infra.pool, args.key_id)
    if agency_id is None:
        raise SystemExit(f"no key with id {args.key_id}")
    # After the commit: an instance that misses the message reads the revocation from the database.
    await revocation.announce(infra.nc, infra.subjects, args.key_id, agency_id)
    print(f"revoked {args.key_id} of {agency_id}")


COMMANDS = {
    "create-agency": AdminCommand[GatewaySettings](
        help="add or update a partner agency", configure=configure_agency, run=create_agency
    ),
    "add-key": AdminCommand[GatewaySettings](
        help="issue an API key for an agency; prints it once", configure=configure_key, run=add_key
    ),
    "add-user": AdminCommand[GatewaySettings](
        help="create a staff account that signs in to the console; prints its id",
        configure=configure_user,
        run=add_user,
    ),
    "revoke-key": AdminCommand[GatewaySettings](
        help="revoke an API key on every gateway instance at once", configure=configure_revoke, run=revoke_key
    ),
}


def main(argv: Sequence[str] | None = None) -> None:
    worker_main(service=SERVICE, settings_type=GatewaySettings, build=Gateway, argv=argv, commands=COMMANDS)


if __name__ == "__main__":
    main(sys.argv[1:])
