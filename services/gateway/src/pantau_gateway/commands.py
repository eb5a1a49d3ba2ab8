"""The gateway's admin commands: agencies, keys, users, and checking the audit log. Each
change they make is logged in the agency's audit chain as `cli:<os user>`."""

import argparse
import getpass
import socket
import sys

from pantau_shared.infrastructure import Infrastructure
from pantau_shared.worker import AdminCommand

from . import audit, auth, repository, revocation, users
from .repository import Grant
from .roles import Role, Scope
from .settings import GatewaySettings


def configure_agency(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", required=True, help="e.g. bawaslu-3375")
    parser.add_argument("--name", required=True)
    parser.add_argument(
        "--kind", required=True, choices=["bawaslu", "komdigi", "diskominfo", "polri", "gugus-tugas", "other"]
    )
    parser.add_argument("--region", help="Kemendagri code, e.g. 33.75")


async def create_agency(infra: Infrastructure, settings: GatewaySettings, args: argparse.Namespace) -> None:
    await repository.upsert_agency(infra.pool, args.id, args.name, args.kind, args.region)
    await _log(infra, args.id, "create-agency", name=args.name, kind=args.kind, region=args.region)


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
    await _log(infra, args.agency, "add-key", key_id=key_id, roles=list(grant.roles), contacts=grant.contacts)
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
    await _log(
        infra, args.agency, "add-user", user_id=str(user.user_id), roles=args.role, contacts=args.contacts
    )
    print(user.user_id)


def configure_revoke(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-id", required=True, help="the <id> of pk_<id>_<secret>")


async def revoke_key(infra: Infrastructure, settings: GatewaySettings, args: argparse.Namespace) -> None:
    agency_id = await repository.revoke_key(infra.pool, args.key_id)
    if agency_id is None:
        raise SystemExit(f"no key with id {args.key_id}")
    await _log(infra, agency_id, "revoke-key", key_id=args.key_id)
    # After the commit: an instance that misses the message reads the revocation from the database.
    await revocation.announce(infra.nc, infra.subjects, args.key_id, agency_id)
    print(f"revoked {args.key_id} of {agency_id}")


def configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", help="only this agency's chain; every chain otherwise")
    parser.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="AGENCY:SEQ:HASH",
        help="a head printed by an earlier run and kept elsewhere: it must still be in the chain",
    )


async def verify_audit(infra: Infrastructure, settings: GatewaySettings, args: argparse.Namespace) -> None:
    anchors: dict[str, tuple[int, bytes]] = {}
    for anchor in args.anchor:
        agency_id, seq, digest = anchor.rsplit(":", 2)
        anchors[agency_id] = (int(seq), bytes.fromhex(digest))
    broken = 0
    for agency_id in [args.agency] if args.agency else await audit.agencies(infra.pool):
        verdict = await audit.verify(infra.pool, agency_id, anchors.get(agency_id))
        # The head line is the anchor to keep elsewhere (another machine, a signed mail).
        state = "intact" if verdict.intact else f"BROKEN: {verdict.problem}"
        print(f"{agency_id}:{verdict.head_seq}:{verdict.head_hash.hex()} {verdict.entries} entries, {state}")
        broken += not verdict.intact
    if broken:
        raise SystemExit(f"{broken} audit chain(s) broken")


async def _log(infra: Infrastructure, agency_id: str, command: str, **detail: audit.JSON) -> None:
    """Changes made from the command line go into the agency's audit log too."""
    event = audit.Event(
        agency_id=agency_id,
        principal=f"cli:{getpass.getuser()}",
        action=f"cli {command}",
        outcome=0,
        address=socket.gethostname(),
        detail=detail,
    )
    await audit.AuditLog(infra.pool).append(event)


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
    "verify-audit": AdminCommand[GatewaySettings](
        help="check every audit chain (or one agency's); exit code 1 if one is broken",
        configure=configure_verify,
        run=verify_audit,
    ),
}
