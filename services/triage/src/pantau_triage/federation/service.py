"""Triage's handlers with the federation's beside them, as one table for the runtime."""

from typing import TYPE_CHECKING, Any

from nats.js.api import StreamConfig

from pantau_shared.bus import Answer, Subscription

from .handlers import FederationHandlers

if TYPE_CHECKING:  # triage's handlers use this package's news of referrals
    from ..handlers import TriageHandlers


class WithFederation:
    def __init__(self, triage: "TriageHandlers", federation: FederationHandlers) -> None:
        self._triage = triage
        self._federation = federation

    def subscriptions(self) -> list[Subscription]:
        return [*self._triage.subscriptions(), *self._federation.subscriptions()]

    def answers(self) -> list[Answer[Any, Any]]:
        return [*self._triage.answers(), *self._federation.answers()]

    def streams(self) -> list[StreamConfig]:
        return self._federation.streams()
