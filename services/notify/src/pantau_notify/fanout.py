"""Fan-out: case events become the deliveries of everyone who should hear of them (mailbox
subscriptions, the patrol team on duty, reporters who asked for news), a fetched batch at a time:
one transaction, the batch's snapshots locked and saved in one statement each, its agencies'
subscriptions and teams read once and matched in memory, its deliveries written in one statement,
then handed to this instance's delivery as the transaction commits."""

import asyncio
from collections.abc import Callable, Sequence
from uuid import UUID

import asyncpg

from pantau_shared.bus import RetryLater, RpcClient
from pantau_shared.contract import (
    CaseOpened,
    CaseUpdated,
    Envelope,
    EventData,
    NotificationChannel,
    NotificationRequested,
)
from pantau_shared.contract.rpc import CASE_REPORTERS, CaseQuery
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from . import repository
from .channels import Template
from .models import CaseSnapshot, DeliveryRequest
from .requesting import Requests

CaseEvent = CaseOpened | CaseUpdated


class FanOut:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        rpc: RpcClient,
        requests: Requests,
        hand_over: Callable[[Sequence[NotificationRequested]], asyncio.Task[None] | None],
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        self._rpc = rpc
        self._requests = requests
        self._hand_over = hand_over

    async def case_changed(self, envelope: Envelope[EventData]) -> None:
        """One event alone: returns once the alerts it handed over are sent and recorded."""
        (outcome,), sending = await self._fan_out([envelope])
        if sending is not None:
            await asyncio.shield(sending)  # the send goes on if this caller is cancelled
        if outcome is not None:
            raise outcome

    async def cases_changed(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        """A fetched batch; its alerts are sent meanwhile, and its events acked without waiting."""
        outcomes, _ = await self._fan_out(envelopes)
        return outcomes

    async def _fan_out(
        self, envelopes: Sequence[Envelope[EventData]]
    ) -> tuple[list[BaseException | None], asyncio.Task[None] | None]:
        events: list[CaseEvent] = []
        for envelope in envelopes:
            assert isinstance(envelope.data, CaseOpened | CaseUpdated)
            events.append(envelope.data)
        # Reporters hear each step of the case; asked before the transaction, since a read from
        # triage should not hold a row lock here (state changes are rare beside openings).
        reporters = {
            i: (await self._rpc.call(e.agency_id, CASE_REPORTERS, CaseQuery(case_id=e.case_id))).reporter_ids
            for i, e in enumerate(events)
            if _tells_reporters(e)
        }
        outcomes: list[BaseException | None] = [None] * len(events)
        async with self._pool.acquire() as conn, conn.transaction():
            snapshots = await self._merge(conn, events, outcomes)
            requests = await self._audience(conn, events, snapshots)
            for i, reporter_ids in reporters.items():
                if (snapshot := snapshots[i]) is not None:
                    requests += _report_backs(events[i], snapshot, reporter_ids)
            staged = await self._requests.request_many(conn, requests)
        # Sent from here at once; the requests, staged with them, follow through the stream.
        sending = self._hand_over(staged)
        self._outbox.committed()
        return outcomes, sending

    async def _merge(
        self, conn: Connection, events: list[CaseEvent], outcomes: list[BaseException | None]
    ) -> list[CaseSnapshot | None]:
        """Each event merged, in order, into its case's snapshot; the snapshot as it stood after
        each event (None, with a retry, for an update of a case whose opening was not seen)."""
        stored = await repository.lock_snapshots(conn, (e.case_id for e in events))
        current: dict[UUID, CaseSnapshot] = dict(stored)
        after: list[CaseSnapshot | None] = []
        for i, event in enumerate(events):
            fields = event.model_dump(mode="json", exclude_none=True)
            known = current.get(event.case_id)
            if isinstance(event, CaseOpened):
                # An opening seen again after updates keeps what the updates changed.
                merged = CaseSnapshot(fields | (known.fields if known else {}))
            elif known is None:
                outcomes[i] = RetryLater(f"case {event.case_id} updated before its opening was seen")
                after.append(None)
                continue
            else:
                merged = CaseSnapshot(known.fields | fields)
            current[event.case_id] = merged
            after.append(merged)
        await repository.save_snapshots(
            conn,
            {case_id: current[case_id] for case_id in stored},
            {case_id: snapshot for case_id, snapshot in current.items() if case_id not in stored},
        )
        return after

    async def _audience(
        self, conn: Connection, events: list[CaseEvent], snapshots: list[CaseSnapshot | None]
    ) -> list[DeliveryRequest]:
        """The subscriptions and teams each event reaches; a team is alerted once per case
        (later steps are the escalation's)."""
        agencies = {agency for s in snapshots if s is not None for agency in s.agencies}
        if not agencies:
            return []
        subscriptions = await repository.subscriptions_of(conn, agencies)
        teams = await repository.teams_of(conn, agencies)
        alerted = await repository.alerted_teams(conn, (e.case_id for e in events)) if teams else set()
        requests: list[DeliveryRequest] = []
        for event, snapshot in zip(events, snapshots, strict=True):
            if snapshot is None:
                continue
            requests += [
                DeliveryRequest(
                    case_id=event.case_id,
                    agency_id=s.audience.agency_id,
                    recipient_key=str(s.subscription_id),
                    channel=s.channel,
                    address=s.address,
                    template=Template.CASE_ALERT.value,
                    snapshot=snapshot,
                    subscription_id=s.subscription_id,
                )
                for s in subscriptions
                if s.audience.wants(snapshot, event.priority)
            ]
            for team in teams:
                if (event.case_id, team.team_id) in alerted or not team.audience.wants(
                    snapshot, event.priority
                ):
                    continue
                alerted.add((event.case_id, team.team_id))
                alert = self._requests.team_alert(team, event.case_id, snapshot, level=0, after=-1)
                if alert is not None:
                    requests.append(alert)
        return requests


def _tells_reporters(event: CaseEvent) -> bool:
    return isinstance(event, CaseUpdated) and (event.change == "state_changed" or _outcome(event))


def _outcome(event: CaseUpdated) -> bool:
    """The outcome an agency the case was referred to reached, which reporters hear too."""
    return event.change == "partner_status" and event.partner_state == "closed"


def _report_backs(event: CaseEvent, snapshot: CaseSnapshot, reporter_ids: list[str]) -> list[DeliveryRequest]:
    """Keyed by state, so each step of the case is told once; the contact is looked up only
    when sending, so notify never stores it."""
    outcome = isinstance(event, CaseUpdated) and _outcome(event)
    step = f"{snapshot.partner_agency}:closed" if outcome else snapshot.state
    return [
        DeliveryRequest(
            case_id=event.case_id,
            agency_id=event.agency_id,
            recipient_key=f"reporter:{reporter_id}:{step}",
            channel=NotificationChannel.EMAIL,
            address=reporter_id,
            template=Template.REPORT_BACK.value,
            snapshot=snapshot,
        )
        for reporter_id in reporter_ids
    ]
