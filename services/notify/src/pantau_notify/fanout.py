"""Fan-out: a case event becomes the deliveries of everyone who should hear of it (mailbox
subscriptions, the patrol team on duty, reporters who asked for news)."""

import asyncpg

from pantau_shared.bus import RetryLater, RpcClient
from pantau_shared.contract import CaseOpened, CaseUpdated, Envelope, EventData, NotificationChannel
from pantau_shared.contract.rpc import CASE_REPORTERS, CaseQuery
from pantau_shared.outbox import Outbox

from . import repository
from .channels import Template
from .requesting import Requests


class FanOut:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, rpc: RpcClient, requests: Requests) -> None:
        self._pool = pool
        self._outbox = outbox
        self._rpc = rpc
        self._requests = requests

    async def case_changed(self, envelope: Envelope[EventData]) -> None:
        case = envelope.data
        assert isinstance(case, CaseOpened | CaseUpdated)
        fields = case.model_dump(mode="json", exclude_none=True)
        reporters: list[str] = []
        # Reporters hear each step of the case, and the outcome an agency it was referred to reached.
        outcome = (
            isinstance(case, CaseUpdated)
            and case.change == "partner_status"
            and case.partner_state == "closed"
        )
        if isinstance(case, CaseUpdated) and (case.change == "state_changed" or outcome):
            # Asked before the transaction: a read from triage should not hold a row lock here.
            answer = await self._rpc.call(case.agency_id, CASE_REPORTERS, CaseQuery(case_id=case.case_id))
            reporters = answer.reporter_ids
        async with self._pool.acquire() as conn, conn.transaction():
            snapshot = await repository.merge_case(
                conn, case.case_id, case.agency_id, fields, opened=isinstance(case, CaseOpened)
            )
            if snapshot is None:
                raise RetryLater(f"case {case.case_id} updated before its opening was seen")
            agencies = [case.agency_id, *snapshot.get("routed_to", [])]
            categories = [c["category"] for c in snapshot.get("categories", [])]
            matches = await repository.matching_subscriptions(
                conn,
                agencies=agencies,
                region_code=snapshot.get("region_code"),
                categories=categories,
                priority=case.priority,
            )
            for subscription in matches:
                await self._requests.request(
                    conn,
                    case.case_id,
                    snapshot,
                    agency_id=subscription["agency_id"],
                    recipient_key=str(subscription["subscription_id"]),
                    channel=NotificationChannel(subscription["channel"]),
                    address=subscription["address"],
                    template=Template.CASE_ALERT,
                    subscription_id=subscription["subscription_id"],
                )
            teams = await repository.matching_teams(
                conn,
                agencies=agencies,
                region_code=snapshot.get("region_code"),
                categories=categories,
                priority=case.priority,
            )
            for team in teams:
                # A team is alerted once per case; later steps are the escalation's.
                if not await repository.team_alerted(conn, case.case_id, team["team_id"]):
                    await self._requests.alert_team(conn, team, case.case_id, snapshot, level=0, after=-1)
            step = f"{snapshot.get('partner_agency')}:closed" if outcome else snapshot["state"]
            for reporter_id in reporters:
                # Keyed by state, so each step of the case is told once; the contact is looked
                # up only when sending, so notify never stores it.
                await self._requests.request(
                    conn,
                    case.case_id,
                    snapshot,
                    agency_id=case.agency_id,
                    recipient_key=f"reporter:{reporter_id}:{step}",
                    channel=NotificationChannel.EMAIL,
                    address=reporter_id,
                    template=Template.REPORT_BACK,
                )
        self._outbox.committed()
