"""Evidence in the intake process, built from settings: the safe fetcher, the browser, the
object store, the TSA, the worker, its subscriptions and the methods it answers."""

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Self

import asyncpg

from pantau_shared.bundle_keys import load_signing_key
from pantau_shared.bus import Answer, Subscription
from pantau_shared.contract import CaseOpened, CaseUpdated
from pantau_shared.contract.evidence import (
    EVIDENCE_BUNDLE,
    EVIDENCE_CASE,
    EVIDENCE_DELETE,
    EVIDENCE_READ,
    EVIDENCE_REPORT,
)
from pantau_shared.fetching import Resolver, SafeFetcher
from pantau_shared.objectstore import ObjectStore, open_store
from pantau_shared.outbox import Outbox
from pantau_shared.timestamping import Timestamper

from ..settings import IntakeSettings
from .answers import EvidenceAnswers, Signing
from .capture import Capturer
from .intake_events import EvidenceIntake
from .preserver import Preserver
from .resolver import CachedResolver
from .screenshot import Screenshots
from .trust import Trust


class Evidence:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        store: ObjectStore,
        fetcher: SafeFetcher,
        screenshots: Screenshots | None,
        trust: Trust,
        signing: Signing,
        *,
        enabled: bool = True,
        resolve: Resolver | None = None,
    ) -> None:
        self.store = store
        self.trust = trust
        self._fetcher = fetcher
        self._screenshots = screenshots
        self._enabled = enabled
        self.preserver = Preserver(
            pool, outbox, store, Capturer(fetcher, screenshots, resolve=resolve), trust
        )
        self.intake = EvidenceIntake(pool, store, self.preserver)
        self.answers_ = EvidenceAnswers(pool, store, trust, signing)

    @classmethod
    def build(cls, pool: asyncpg.Pool, outbox: Outbox, settings: IntakeSettings) -> Self:
        resolver = CachedResolver()
        fetcher = SafeFetcher(settings.fetch_limits(), resolver)
        screenshots = None
        if settings.evidence_screenshots:
            screenshots = Screenshots(fetcher.fetch, Path(settings.evidence_browser))
        # A stamper given the roots checks each token as it arrives, before it is kept.
        roots = [pem.encode() for pem in settings.evidence_tsa_roots]
        stamper = None
        if settings.evidence_tsa_url:
            stamper = Timestamper(
                settings.evidence_tsa_url,
                timeout_s=settings.evidence_tsa_timeout_s,
                roots_pem=roots or None,
            )
        signing = Signing(
            load_signing_key(settings.evidence_bundle_signing_key.get_secret_value()),
            settings.evidence_bundle_key_id,
        )
        return cls(
            pool,
            outbox,
            open_store(settings.object_store),
            fetcher,
            screenshots,
            Trust(stamper, roots),
            signing,
            enabled=settings.evidence_enabled,
            resolve=resolver,
        )

    @property
    def on_store(self) -> EvidenceIntake | None:
        """What intake's storing code writes with each report and post (their jobs, kept
        attachments), or None when evidence is off."""
        return self.intake if self._enabled else None

    def subscriptions(self) -> list[Subscription]:
        # A report's and a post's jobs are written as they are stored (`on_store`); the
        # durables that read them back from the bus are retired (bus/topology.py).
        if not self._enabled:
            return []
        return [
            Subscription(
                durable="intake-evidence-cases",
                stream="CASES",
                subject_suffix="case.>",
                handler=self.intake.case_changed,
                batch=self.intake.cases_changed,
                events=(CaseOpened, CaseUpdated),
            ),
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(EVIDENCE_REPORT, self.answers_.of_report),
            Answer(EVIDENCE_CASE, self.answers_.of_case),
            Answer(EVIDENCE_READ, self.answers_.read),
            Answer(EVIDENCE_BUNDLE, self.answers_.bundle),
            Answer(EVIDENCE_DELETE, self.answers_.delete),
        ]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        return [self.preserver.run(stopping)] if self._enabled else []

    async def aclose(self) -> None:
        if self._screenshots is not None:
            await self._screenshots.aclose()
        await self._fetcher.aclose()
        await self.trust.aclose()
