"""pantau-triage: the composition root of the triage process."""

import sys
from collections.abc import Sequence

from pantau_shared.infrastructure import Infrastructure
from pantau_shared.worker import worker_main

from .classify import KeywordClassifier
from .handlers import TriageHandlers
from .settings import TriageSettings


def build(infra: Infrastructure, settings: TriageSettings) -> TriageHandlers:
    return TriageHandlers(infra.pool, infra.outbox, KeywordClassifier.packaged())


def main(argv: Sequence[str] | None = None) -> None:
    worker_main(service="triage", settings_type=TriageSettings, build=build, argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
