"""pantau-gateway: the composition root of the HTTP API process, and its admin commands."""

import argparse
import asyncio
import sys
from collections.abc import Sequence

import uvicorn

from pantau_shared.bus import provision
from pantau_shared.http_server import EmbeddedServer
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.observability import setup_observability
from pantau_shared.settings import PlatformSettings
from pantau_shared.worker import run_until_signalled

from . import auth, repository
from .app import SERVICE, create_app
from .settings import GatewaySettings


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pantau-gateway")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP API (the default)")
    commands.add_parser("setup", help="apply migrations and declare streams, then exit")
    agency = commands.add_parser("create-agency", help="add or update a partner agency")
    agency.add_argument("--id", required=True, help="e.g. bawaslu-3375")
    agency.add_argument("--name", required=True)
    agency.add_argument(
        "--kind", required=True, choices=["bawaslu", "komdigi", "diskominfo", "polri", "gugus-tugas", "other"]
    )
    agency.add_argument("--region", help="Kemendagri code, e.g. 33.75")
    key = commands.add_parser("add-key", help="issue an API key for an agency; prints it once")
    key.add_argument("--agency", required=True)
    key.add_argument("--label", default="")
    key.add_argument("--rate-limit", type=int, help="requests a minute; the default otherwise")
    key.add_argument("--key", help="register this exact key (pk_<id>_<secret>) instead")
    return parser.parse_args(argv)


async def admin(platform: PlatformSettings, settings: GatewaySettings, args: argparse.Namespace) -> None:
    infra = await Infrastructure.connect(platform, settings, service=SERVICE, schema=SERVICE)
    try:
        await infra.migrate("pantau_gateway", SERVICE)
        await provision(infra.js, infra.subjects, [])
        pepper = settings.api_key_pepper.get_secret_value().encode()
        if args.command == "create-agency":
            await repository.upsert_agency(infra.pool, args.id, args.name, args.kind, args.region)
        elif args.command == "add-key":
            if args.key:
                parts = auth.split_key(args.key)
                if parts is None:
                    sys.exit("--key must look like pk_<id>_<secret>")
                (key_id, secret), whole = parts, args.key
            else:
                key_id, secret, whole = auth.new_key()
            await repository.insert_key(
                infra.pool, key_id, args.agency, auth.secret_hash(pepper, secret), args.label, args.rate_limit
            )
            print(whole)
    finally:
        await infra.close()


async def serve(platform: PlatformSettings, settings: GatewaySettings, stopping: asyncio.Event) -> None:
    server = EmbeddedServer(
        uvicorn.Config(
            create_app(platform, settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            timeout_graceful_shutdown=int(settings.graceful_shutdown_s),
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    await asyncio.wait({task, asyncio.create_task(stopping.wait())}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    platform = PlatformSettings.load()
    settings = GatewaySettings.load().check_for(platform)
    setup_observability(platform, SERVICE)
    if args.command in (None, "serve"):
        run_until_signalled(lambda stopping: serve(platform, settings, stopping))
    else:
        asyncio.run(admin(platform, settings, args))


if __name__ == "__main__":
    main(sys.argv[1:])
