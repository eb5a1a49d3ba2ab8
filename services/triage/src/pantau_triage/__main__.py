"""pantau-triage: the composition root of the triage process."""

import sys
from collections.abc import Sequence

from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_shared.worker import worker_main

from .claims_registry import ClaimRegistry
from .classify import TriageClassifier
from .handlers import TriageHandlers
from .nlp import cli as nlp_cli
from .routing import Router
from .settings import TriageSettings


def build(infra: Infrastructure, platform: PlatformSettings,
          settings: TriageSettings) -> TriageHandlers:
    return TriageHandlers(infra.pool, infra.outbox, TriageClassifier.packaged(),
                          Router.load(settings.routing_file), ClaimRegistry())


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["classify"], ["evaluate"]):
        # Offline tools: no servers needed, so they skip the service's connections.
        sys.exit(nlp_cli.main(args))
    worker_main(service="triage", settings_type=TriageSettings, build=build, argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
