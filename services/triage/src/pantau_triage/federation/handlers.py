"""Cases crossing to and from agencies on other instances.

Out: when a case opens whose routing or escalation names an agency on another instance, a
`case.referred.v1` is staged in the outbox (after the case's own commit, since this reacts to its
`case.opened.v1`); the exchange carries it to the partner. In: a referral opens a case of this
instance (its own id; the patrol is alerted as for any case), and what the partner does with it
comes back as numbered partner events, kept beside the origin's own case and history.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from nats.js.api import StreamConfig

from pantau_shared.bus import (
    Answer,
    Conflict,
    NotFound,
    Reject,
    RetryLater,
    RpcClient,
    RpcError,
    Subscription,
)
from pantau_shared.contract import (
    CASE_REFERRALS,
    REFERRAL_ACCEPT,
    REFERRAL_DECLINE,
    REFERRAL_LIST,
    CaseOpened,
    CaseReferred,
    CaseState,
    CaseUpdated,
    DecideReferral,
    Envelope,
    EventData,
    Evidence,
    PartnerCaseStatus,
    PartnerEvent,
    Referral,
    ReferralAccepted,
    ReferralDeclined,
    ReferralReason,
    Referrals,
    ReferralsQuery,
    ReferralState,
    ReferralView,
    Resolution,
    new_id,
    stable_id,
)
from pantau_shared.contract.rpc import REPORT_GET, CaseQuery, ErrorCode, ReportQuery
from pantau_shared.federation import FederationLink
from pantau_shared.outbox import Outbox
from pantau_shared.postgres import Connection

from .. import repository as cases
from . import repository
from .news import case_event, referral_news
from .targets import Target, targets

REFERRAL_NOTES = {
    ReferralReason.ROUTING: "Dirujuk menurut aturan penanganan {agency}",
    ReferralReason.LOCUS: "Dirujuk ke {agency}: lokasi kejadian di wilayahnya",
    ReferralReason.ESCALATION: "Dinaikkan ke {agency} menurut aturan eskalasi",
}


def partner_referral_state(decision: str, partner_state: str | None) -> ReferralState:
    """What the origin's own record of a routed agency shows, from what is stored of the
    partner's news: its decision and its case's latest state. News is handled concurrently and
    may arrive in any order; derived from the stored row, the record ends the same whatever the
    order (an "accepted" handled after "closed" leaves it done)."""
    if decision == "declined":
        return ReferralState.DECLINED
    if partner_state == CaseState.CLOSED.value:
        return ReferralState.DONE
    if partner_state is not None:
        return ReferralState.IN_PROGRESS
    return ReferralState.ACKNOWLEDGED if decision == "accepted" else ReferralState.PENDING


class FederationHandlers:
    def __init__(
        self, pool: asyncpg.Pool, outbox: Outbox, link: FederationLink | None, rpc: RpcClient, public_url: str
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        self._link = link
        self._rpc = rpc
        self._public_url = public_url.rstrip("/")

    @property
    def link(self) -> FederationLink:
        assert self._link is not None, "handled only with a federation"
        return self._link

    def streams(self) -> list[StreamConfig]:
        return self._link.stream_configs() if self._link else []

    def subscriptions(self) -> list[Subscription]:
        """None without a federation: the referral reads still answer (with nothing)."""
        if self._link is None:
            return []
        return [
            Subscription(
                durable="triage-federation-cases",
                stream="CASES",
                subject_suffix="case.>",
                handler=self.local_case,
                events=(CaseOpened, CaseUpdated),
            ),
            Subscription(
                durable="triage-federation-in",
                stream="FEDERATION_IN",
                subject_suffix="",
                filter_subject=f"{self.link.subjects.root}.fed.>",
                handler=self.received,
                events=(CaseReferred, ReferralAccepted, ReferralDeclined, PartnerCaseStatus),
            ),
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(REFERRAL_LIST, self.list_received),
            Answer(REFERRAL_ACCEPT, self.accept),
            Answer(REFERRAL_DECLINE, self.decline),
            Answer(CASE_REFERRALS, self.case_referrals),
        ]

    # Events of this instance's own cases.

    async def local_case(self, envelope: Envelope[EventData]) -> None:
        case = envelope.data
        if isinstance(case, CaseOpened):
            await self._refer(case)
        elif isinstance(case, CaseUpdated) and case.change == "state_changed":
            await self._report_back(case)

    async def _refer(self, case: CaseOpened) -> None:
        async with self._pool.acquire() as conn:
            origins = {r["from_agency"] for r in await repository.received_for_case(conn, case.case_id)}
        found = [t for t in targets(case, self.link) if t.agency not in origins]
        if not found:
            return
        evidence = await self._evidence(case)
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            for target in found:
                referral = self._referral(case, target, evidence, now)
                if await repository.record_sent(conn, referral, case.case_id):
                    await self._outbox.stage(conn, referral)
                    await cases.record_history(
                        conn,
                        case.case_id,
                        at=now,
                        change="referred",
                        actor=None,
                        from_state=case.state,
                        to_state=case.state,
                        note=referral.note,
                    )
        self._outbox.committed()

    def _referral(
        self, case: CaseOpened, target: Target, evidence: tuple[Evidence, ...], now: datetime
    ) -> CaseReferred:
        return CaseReferred(
            # Stable: a redelivered case event refers the same case to the same agency once.
            referral_id=stable_id("referral", f"{case.case_id}:{target.agency}"),
            agency_id=case.agency_id,
            to_agency=target.agency,
            origin_case_id=case.case_id,
            referred_at=now,
            reason=target.reason,
            note=REFERRAL_NOTES[target.reason].format(agency=target.agency),
            origin_url=f"{self._public_url}/v1/cases/{case.case_id}",
            region_code=case.region_code,
            platform=case.platform,
            canonical_url=case.canonical_url,
            summary=case.summary,
            categories=case.categories,
            priority=case.priority,
            priority_level=case.priority_level,
            priority_reasons=case.priority_reasons,
            report_count=case.report_count,
            reporter_count=case.reporter_count,
            evidence=evidence,
            claims=case.claims,
        )

    async def _evidence(self, case: CaseOpened) -> tuple[Evidence, ...]:
        """Hashes of the first report's text and files, and the link: asked of intake before any
        transaction opens. Nothing about the reporter is taken."""
        found: list[Evidence] = []
        try:
            report = await self._rpc.call(
                case.agency_id, REPORT_GET, ReportQuery(report_id=case.first_report_id)
            )
        except RpcError as error:
            if error.code != ErrorCode.NOT_FOUND:
                raise
            report = None
        if report is not None:
            found.append(Evidence(kind="text", sha256=report.raw_sha256))
            if report.content_sha256:
                found.append(Evidence(kind="normalised_text", sha256=report.content_sha256))
            for attachment in report.attachments:
                if attachment.sha256:
                    found.append(
                        Evidence(kind="attachment", sha256=attachment.sha256, mime_type=attachment.mime_type)
                    )
        if case.canonical_url:
            found.append(Evidence(kind="link", url=case.canonical_url))
        return tuple(found)

    async def _report_back(self, case: CaseUpdated) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            received = await repository.received_for_case(conn, case.case_id)
            if not received:
                return
            position = await repository.history_position(conn, case.case_id, case.updated_at, case.state)
            if position is None:
                raise RetryLater(f"history of case {case.case_id} at {case.updated_at} not visible yet")
            for referral in received:
                to_origin = await self._to_origin(conn, referral["referral_id"], position)
                status = PartnerCaseStatus(
                    **to_origin,
                    actor=case.actor,
                    note=case.note,
                    state=case.state,
                    previous_state=case.previous_state,
                    resolution=case.resolution,
                )
                await self._outbox.stage(conn, status)
        self._outbox.committed()

    async def _to_origin(
        self, conn: Connection, referral_id: UUID, sequence: int, referral_state: str | None = None
    ) -> dict[str, Any]:
        """The fields of a message back to the origin about a received referral, noting it sent."""
        received = await repository.mark_sent(conn, referral_id, sequence, referral_state)
        if received is None:
            raise NotFound(f"rujukan {referral_id} tidak ditemukan")
        return {
            "referral_id": referral_id,
            "agency_id": received["to_agency"],
            "to_agency": received["from_agency"],
            "partner_case_id": received["case_id"],
            "sequence": sequence,
            "at": datetime.now(UTC),
        }

    # Events from partners.

    async def received(self, envelope: Envelope[EventData]) -> None:
        event = envelope.data
        if isinstance(event, CaseReferred):
            await self._open_referred(event)
        elif isinstance(event, PartnerEvent):
            await self._partner_update(envelope.id, event)

    async def _open_referred(self, event: CaseReferred) -> None:
        if event.to_agency not in self.link.me.agencies:
            raise Reject(f"referral for {event.to_agency}, which this instance does not host")
        now = datetime.now(UTC)
        content = next((e.sha256 for e in event.evidence if e.kind == "normalised_text"), None)
        async with self._pool.acquire() as conn, conn.transaction():
            if await repository.already_received(conn, event.referral_id):
                return
            # The same content referred by another origin joins the case already open for it.
            case = await cases.open_case_for(conn, event.to_agency, event.canonical_url, content)
            if case is None:
                opened = self._partner_case(event, now)
                stored = cases.Case.model_validate(
                    {
                        **opened.model_dump(include=set(cases.CASE_COLUMNS)),
                        "updated_at": now,
                        "content_sha256": content,
                        "resolution": None,
                        "priority_factors": (),
                        "reach": None,
                    }
                )
                await cases.insert_case(conn, stored, None)
                case_id = opened.case_id
                await self._outbox.stage(conn, opened)
            else:
                case_id = case.case_id
            await repository.record_received(conn, event, case_id, now)
            await cases.record_history(
                conn,
                case_id,
                at=now,
                change="opened" if case is None else "referral_joined",
                actor=f"rujukan dari {event.agency_id}",
                from_state=None if case is None else case.state,
                to_state=CaseState.NEW if case is None else case.state,
                note=event.note,
            )
        self._outbox.committed()

    @staticmethod
    def _partner_case(event: CaseReferred, now: datetime) -> CaseOpened:
        return CaseOpened(
            case_id=new_id(),
            agency_id=event.to_agency,
            opened_at=now,
            # No report of this instance stands behind the case: the referral does.
            first_report_id=event.referral_id,
            region_code=event.region_code,
            platform=event.platform,
            canonical_url=event.canonical_url,
            summary=event.summary,
            categories=event.categories,
            priority=event.priority,
            priority_level=event.priority_level,
            priority_reasons=(*event.priority_reasons, f"Rujukan dari {event.agency_id}"),
            report_count=event.report_count,
            reporter_count=event.reporter_count,
            claims=event.claims,
        )

    async def _partner_update(self, event_id: UUID, event: PartnerEvent) -> None:
        if isinstance(event, PartnerCaseStatus):
            change, referral_state = "state_changed", None
            state, resolution = event.state.value, event.resolution.value if event.resolution else None
        else:
            change = "accepted" if isinstance(event, ReferralAccepted) else "declined"
            referral_state, state, resolution = change, None, None
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            sent = await repository.lock_sent(conn, event.referral_id)
            # A partner speaks only of referrals sent to it: it cannot touch any other case.
            if sent is None or sent["to_agency"] != event.agency_id:
                raise Reject(f"{event.agency_id} sent news of referral {event.referral_id} it was not given")
            if not await repository.record_update(conn, event_id, event, change, state, resolution):
                return
            latest = event.sequence > sent["last_sequence"]
            stored = await repository.apply_update(
                conn, event, referral_state=referral_state, partner_state=state, resolution=resolution
            )
            # The origin's own record of the routed agency, as for one on this instance: moved by
            # the latest news, or by late news that changes it (a decline); stale news leaves it.
            before = partner_referral_state(sent["state"], sent["partner_state"])
            after = partner_referral_state(stored["state"], stored["partner_state"])
            shown = after if latest or after != before else None
            if shown is not None:
                record = Referral(
                    agency_id=event.agency_id, state=shown, note=event.note, updated_at=event.at
                )
                await cases.set_referral(conn, sent["case_id"], record)
            words = f"{event.agency_id}: {change}" + (f" -> {state}" if state else "")
            words += f" ({resolution})" if resolution else ""
            await cases.record_history(
                conn,
                sent["case_id"],
                at=now,
                change=f"partner_{change}",
                actor=event.actor,
                from_state=sent["case_state"],
                to_state=sent["case_state"],
                note=f"{words}. {event.note}" if event.note else words,
                by=cases.ChangedBy(agency_id=event.agency_id, principal="federation"),
                referral_state=shown,
            )
            if shown is not None:
                case = await cases.lock_case(conn, sent["case_id"])
                assert case is not None
                status = event if isinstance(event, PartnerCaseStatus) else None
                news = referral_news(
                    case,
                    now,
                    event.agency_id,
                    shown,
                    actor=event.actor,
                    note=event.note,
                    partner_state=status.state if status else None,
                    partner_resolution=status.resolution if status else None,
                )
                await self._outbox.stage(conn, news)
        self._outbox.committed()

    # Reads and commands.

    async def list_received(self, agency_id: str, request: ReferralsQuery) -> Referrals:
        rows = await repository.received_views(self._pool, agency_id, request.state)
        return Referrals(referrals=[ReferralView.model_validate(row) for row in rows])

    async def case_referrals(self, agency_id: str, request: CaseQuery) -> Referrals:
        if await cases.get_case(self._pool, agency_id, request.case_id) is None:
            raise NotFound(f"kasus {request.case_id} tidak ditemukan")
        rows = await repository.sent_views(self._pool, request.case_id)
        async with self._pool.acquire() as conn:
            received = await repository.received_for_case(conn, request.case_id)
        rows += [repository.received_view(r) for r in received]
        return Referrals(referrals=[ReferralView.model_validate(row) for row in rows])

    async def accept(self, agency_id: str, command: DecideReferral) -> ReferralView:
        return await self._decide(agency_id, command, accepted=True)

    async def decline(self, agency_id: str, command: DecideReferral) -> ReferralView:
        return await self._decide(agency_id, command, accepted=False)

    async def _decide(self, agency_id: str, decision: DecideReferral, *, accepted: bool) -> ReferralView:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            received = await repository.lock_received(conn, decision.referral_id, agency_id)
            if received is None:
                raise NotFound(f"rujukan {decision.referral_id} tidak ditemukan")
            wanted = "accepted" if accepted else "declined"
            if received["state"] == wanted:  # a retried command: already applied
                return ReferralView.model_validate(repository.received_view(received))
            if received["state"] != "pending":
                raise Conflict(f"rujukan sudah diputuskan: {received['state']}", allowed=[])
            case = await cases.lock_case(conn, received["case_id"])  # orders the case's history
            assert case is not None
            change = "referral_accepted" if accepted else "referral_declined"
            position = await repository.record_decision(
                conn, received["case_id"], now, change, decision.actor, decision.note
            )
            to_origin = await self._to_origin(conn, decision.referral_id, position, wanted)
            decided: PartnerEvent = (
                ReferralAccepted(**to_origin, actor=decision.actor, note=decision.note)
                if accepted
                else ReferralDeclined(**to_origin, actor=decision.actor, note=decision.note)
            )
            await self._outbox.stage(conn, decided)
            if not accepted:
                await self._close_declined(conn, received["case_id"], decision, now)
            row = await repository.lock_received(conn, decision.referral_id, agency_id)
            assert row is not None
        self._outbox.committed()
        return ReferralView.model_validate(repository.received_view(row))

    async def _close_declined(
        self, conn: Connection, case_id: UUID, decision: DecideReferral, now: datetime
    ) -> None:
        """A declined referral closes the case it opened here (unless another referral or a
        report of this instance keeps it): the origin keeps handling it."""
        case = await cases.lock_case(conn, case_id)
        assert case is not None
        others = [r for r in await repository.received_for_case(conn, case_id) if r["state"] != "declined"]
        if case.state == CaseState.CLOSED or others or await repository.has_reports(conn, case_id):
            return
        await cases.set_state(conn, case_id, CaseState.CLOSED, Resolution.REFERRED_ELSEWHERE.value, now)
        await cases.record_history(
            conn,
            case_id,
            at=now,
            change="state_changed",
            actor=decision.actor,
            from_state=case.state,
            to_state=CaseState.CLOSED,
            resolution=Resolution.REFERRED_ELSEWHERE.value,
            note=decision.note,
        )
        closed = case_event(
            case,
            now,
            "state_changed",
            CaseState.CLOSED,
            actor=decision.actor,
            note=decision.note,
            previous_state=case.state,
            resolution=Resolution.REFERRED_ELSEWHERE,
        )
        await self._outbox.stage(conn, closed)
