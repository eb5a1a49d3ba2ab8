"""pantau-triage: the composition root of the triage process."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pantau_shared.bus import RpcClient
from pantau_shared.federation import FederationLink, FederationTable
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_shared.worker import AdminCommand, worker_main

from .analysis import Analyser
from .claims_registry import ClaimRegistry
from .classify import TriageClassifier
from .election_rules import ElectionRules
from .elections import Calendar
from .federation import FederationHandlers, WithFederation
from .handlers import TriageHandlers
from .nlp import cli as nlp_cli
from .observed import ObservedPostsTriage, WithObserved
from .registry_store import RegistryImportError, import_accounts, import_officials
from .routing import Router
from .settings import TriageSettings
from .takedowns_service import WithTakedowns, takedown_loop


def build(infra: Infrastructure, platform: PlatformSettings, settings: TriageSettings) -> WithTakedowns:
    classifier, claims = TriageClassifier.packaged(), ClaimRegistry()
    calendar = Calendar.load(settings.calendar_files or None)
    rules = ElectionRules(calendar)
    handlers = TriageHandlers(
        infra.pool, infra.outbox, classifier, Router.load(settings.routing_file), claims, rules
    )
    link = None
    if settings.federation_file is not None and settings.federation_instance is not None:
        table = FederationTable.load(settings.federation_file)
        link = FederationLink(infra.subjects, table, table.instance(settings.federation_instance))
    federation = FederationHandlers(
        infra.pool, infra.outbox, link, RpcClient(infra.nc, infra.subjects), platform.public_url
    )
    observed = ObservedPostsTriage(
        infra.pool,
        infra.outbox,
        Analyser(classifier, claims),
        claims,
        rules,
        calendar,
        retention_days=settings.observed_retention_days,
    )
    triage = WithObserved(WithFederation(handlers, federation), observed)
    return WithTakedowns(triage, takedown_loop(infra.pool, infra.outbox, settings))


def configure_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="CSV; columns in elections/README.md")
    parser.add_argument(
        "--replace", action="store_true", help="the file becomes the whole registry for the regions it lists"
    )


async def run_import_accounts(
    infra: Infrastructure, settings: TriageSettings, args: argparse.Namespace
) -> None:
    calendar = Calendar.load(settings.calendar_files or None)
    try:
        result = await import_accounts(
            infra.pool, args.file, elections=calendar.election_ids, replace=args.replace
        )
    except RegistryImportError as error:
        sys.exit(str(error))
    print(result)


async def run_import_officials(
    infra: Infrastructure, settings: TriageSettings, args: argparse.Namespace
) -> None:
    try:
        result = await import_officials(infra.pool, args.file, replace=args.replace)
    except RegistryImportError as error:
        sys.exit(str(error))
    print(result)


COMMANDS = {
    "import-accounts": AdminCommand[TriageSettings](
        help="import the KPU list of official participant accounts",
        configure=configure_import,
        run=run_import_accounts,
    ),
    "import-officials": AdminCommand[TriageSettings](
        help="import the civil servants and village officials to watch",
        configure=configure_import,
        run=run_import_officials,
    ),
}


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["classify"], ["evaluate"]):
        # Offline tools: no servers needed, so they skip the service's connections.
        sys.exit(nlp_cli.main(args))
    worker_main(service="triage", settings_type=TriageSettings, build=build, argv=args, commands=COMMANDS)


if __name__ == "__main__":
    main(sys.argv[1:])
