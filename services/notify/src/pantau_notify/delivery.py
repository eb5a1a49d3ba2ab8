"""Delivery: claim a requested message, commit, send it on its channel, record the outcome.

No network call happens inside a transaction. The claim is a lease the sender renews while it
waits on a slow provider; a sender that dies leaves a lease that expires within seconds, and
whoever holds the redelivered request then takes over: an email is sent again with the same
Message-ID (mail clients collapse the copies), while a WhatsApp message whose request may have
gone out is marked 'unknown' and settled by the provider's status webhook, never sent twice.

The deliveries this instance creates (fan-out, receipts) are handed over here as soon as their
transaction commits (`hand_over`), so an alert takes one hop through NATS, not two. Their
notification.requested events are still staged with them: the consumer that gets one here waits
for the outcome of the send already under way and settles by it; elsewhere it finds the delivery
claimed (and comes back as the lease runs out) or settled; and if this process dies before
sending, the event is what leads to the send.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from opentelemetry import trace

from pantau_shared import metrics
from pantau_shared.bus import RetryLater, RpcClient
from pantau_shared.contract import (
    Envelope,
    EventData,
    NotificationChannel,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
)
from pantau_shared.contract.rpc import REPORTER_CONTACT, ReporterQuery
from pantau_shared.links import ack_token, case_token
from pantau_shared.outbox import Outbox
from pantau_shared.providers import OutcomeUnknown, PermanentFailure, TransientFailure

from . import repository
from .channels import Outgoing, Senders, Template
from .models import ClaimedDelivery
from .settings import NotifySettings

tracer = trace.get_tracer("pantau.notify")

EMAIL, WHATSAPP = NotificationChannel.EMAIL, NotificationChannel.WHATSAPP
ABANDONED = "pengirim berhenti saat mengirim; menunggu status dari WhatsApp"
# Batches of this instance's own new deliveries in flight at once; past that (a backlog), the
# requests take the consumer's path, whose fetches pace themselves.
HANDOVER_BATCHES = 4
# How long the outcome of a handed-over delivery waits for its request to arrive here; a request
# that went to another instance, or comes later, finds the outcome in the database instead.
KEEP_OUTCOME_S = 10.0


class AckLinks:
    """Links in alerts that work without an API key: acknowledging the alert (signed per
    delivery) and reading its case (a read-only page the gateway serves)."""

    def __init__(self, public_url: str, secret: bytes) -> None:
        self._base = public_url.rstrip("/")
        self._secret = secret

    def ack_url(self, agency_id: str, delivery_id: str, case_id: str) -> str:
        token = ack_token(self._secret, agency_id, delivery_id, case_id)
        return f"{self._base}/ack/{agency_id}/{delivery_id}?c={case_id}&t={token}"

    def case_url(self, agency_id: str, case_id: str) -> str:
        return f"{self._base}/kasus/{agency_id}/{case_id}?t={case_token(self._secret, agency_id, case_id)}"


@dataclass(frozen=True)
class Route:
    channel: NotificationChannel
    message: Outgoing


@dataclass(frozen=True)
class Skipped:
    reason: str


class Delivery:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        settings: NotifySettings,
        senders: Senders,
        rpc: RpcClient,
        links: AckLinks,
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        self._settings = settings
        self._senders = senders
        self._rpc = rpc
        self._links = links
        # Outcomes of handed-over deliveries, by delivery id, for their requests to settle by.
        self._own: dict[UUID, asyncio.Future[BaseException | None]] = {}
        self._handing: set[asyncio.Task[None]] = set()
        self._closing = False

    async def notification_requested(self, envelope: Envelope[EventData]) -> None:
        (outcome,) = await self.notifications_requested([envelope])
        if outcome is not None:
            raise outcome

    async def notifications_requested(
        self, envelopes: Sequence[Envelope[EventData]]
    ) -> list[BaseException | None]:
        """A fetched batch: a request this instance handed over settles by that send's outcome;
        the others are delivered (`deliver`)."""
        requests: list[NotificationRequested] = []
        for envelope in envelopes:
            assert isinstance(envelope.data, NotificationRequested)
            requests.append(envelope.data)
        outcomes: list[BaseException | None] = [None] * len(requests)
        own: dict[UUID, asyncio.Future[BaseException | None]] = {}
        for request in requests:
            if (future := self._own.pop(request.delivery_id, None)) is not None:
                own[request.delivery_id] = future
        others = [i for i, r in enumerate(requests) if r.delivery_id not in own]
        if others:
            for i, outcome in zip(others, await self.deliver([requests[i] for i in others]), strict=True):
                outcomes[i] = outcome
        for i, request in enumerate(requests):
            if (future := own.get(request.delivery_id)) is not None:
                # Shielded: a consumer cancelled at shutdown must not cancel the send's outcome.
                outcomes[i] = await asyncio.shield(future)
        return outcomes

    def hand_over(self, requests: Sequence[NotificationRequested]) -> asyncio.Task[None] | None:
        """Deliver deliveries this instance has just created, once their transaction has
        committed, instead of waiting for their requests to come back through the relay and
        the stream; the task doing it. Skipped (the consumer delivers them) when stopping or
        already busy."""
        if not requests or self._closing or len(self._handing) >= HANDOVER_BATCHES:
            return None
        loop = asyncio.get_running_loop()
        futures = {r.delivery_id: loop.create_future() for r in requests}
        self._own.update(futures)
        task = asyncio.create_task(self._deliver_own(list(requests), futures))
        self._handing.add(task)
        task.add_done_callback(self._handing.discard)
        return task

    async def finish_handovers(self, stopping: asyncio.Event) -> None:
        """At shutdown, no new hand-overs, and those under way finish (record included) before
        the relay's last pass publishes what they recorded."""
        await stopping.wait()
        await self.settle_handovers()

    async def settle_handovers(self) -> None:
        """No new hand-overs; those under way end."""
        self._closing = True
        while self._handing:
            await asyncio.wait(set(self._handing))

    async def _deliver_own(
        self, requests: list[NotificationRequested], futures: dict[UUID, asyncio.Future[BaseException | None]]
    ) -> None:
        outcomes: list[BaseException | None] = []
        try:
            outcomes = await self.deliver(requests)
        except Exception as error:
            # Nothing is lost: the deliveries are committed and their requests staged; the
            # consumer's retry (or, once the lease expires, anyone's) delivers them.
            outcomes = [RetryLater(f"handed-over delivery failed: {error}")] * len(requests)
        finally:
            if not outcomes:  # cancelled
                outcomes = [RetryLater("stopped before the handed-over delivery ended")] * len(requests)
            for request, outcome in zip(requests, outcomes, strict=True):
                future = futures[request.delivery_id]
                if not future.done():
                    future.set_result(outcome)
            asyncio.get_running_loop().call_later(KEEP_OUTCOME_S, self._forget, futures)

    def _forget(self, futures: dict[UUID, asyncio.Future[BaseException | None]]) -> None:
        for delivery_id, future in futures.items():
            if self._own.get(delivery_id) is future:
                del self._own[delivery_id]

    async def deliver(self, requests: Sequence[NotificationRequested]) -> list[BaseException | None]:
        """Every claim in one transaction, the sends concurrently with no transaction open,
        every success recorded in one transaction with one outbox insert; the outcome of each."""
        requests = list(requests)
        outcomes: list[BaseException | None] = [None] * len(requests)
        claimed = await self._claim(requests, outcomes)
        # One lease for the batch, held until its outcomes are recorded: a message sent early in
        # a slow batch is not left with an expired claim for another instance to send again.
        async with self._lease([delivery.delivery_id for delivery in claimed.values()]):
            attempts = await asyncio.gather(
                *(self._attempt(requests[i], delivery) for i, delivery in claimed.items()),
                return_exceptions=True,
            )
            await self._record(requests, claimed, attempts, outcomes)
        return outcomes

    async def _record(
        self,
        requests: list[NotificationRequested],
        claimed: dict[int, ClaimedDelivery],
        attempts: list[tuple[NotificationChannel, str] | Skipped | BaseException | None],
        outcomes: list[BaseException | None],
    ) -> None:
        """The batch's sent and skipped deliveries in one transaction with one outbox insert."""
        now = datetime.now(UTC)
        sent: list[tuple[NotificationRequested, NotificationChannel, str]] = []
        skipped: list[tuple[UUID, str]] = []
        for index, attempt in zip(claimed, attempts, strict=True):
            if isinstance(attempt, BaseException):
                outcomes[index] = attempt
            elif isinstance(attempt, Skipped):
                skipped.append((requests[index].delivery_id, attempt.reason))
            elif attempt is not None:
                sent.append((requests[index], *attempt))
        if not (sent or skipped):
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await repository.mark_skipped_many(conn, skipped)
            await repository.mark_sent_many(
                conn, [(r.delivery_id, provider_id) for r, _, provider_id in sent], now
            )
            await self._outbox.stage_many(
                conn,
                [
                    NotificationSent(
                        **_delivery_fields(r, channel), sent_at=now, provider_message_id=provider_id
                    )
                    for r, channel, provider_id in sent
                ],
            )
        self._outbox.committed()
        for _, channel, _ in sent:
            metrics.DELIVERIES.labels(channel, "sent").inc()

    async def _attempt(
        self, request: NotificationRequested, delivery: ClaimedDelivery
    ) -> tuple[NotificationChannel, str] | Skipped | None:
        """Send one claimed delivery; failures are recorded here (None), successes by the caller."""
        try:
            return await self._send(delivery)
        except OutcomeUnknown as error:
            await repository.mark_unknown(self._pool, request.delivery_id, str(error))
        except TransientFailure as error:
            final = delivery.attempts >= self._settings.max_attempts
            await self._failed(request, str(error), permanent=False, final=final)
            if not final:
                # Raised after the commit, so the attempt count survives the redelivery.
                raise RetryLater(str(error)) from error
        except PermanentFailure as error:
            await self._failed(request, str(error), permanent=True, final=True)
        return None

    async def _claim(
        self, requests: list[NotificationRequested], outcomes: list[BaseException | None]
    ) -> dict[int, ClaimedDelivery]:
        """The deliveries claimed, by index; one being sent elsewhere gets RetryLater."""
        ids = [r.delivery_id for r in requests]
        async with self._pool.acquire() as conn, conn.transaction():
            states = await repository.lock_states(conn, ids)
            to_claim: dict[UUID, int] = {}
            abandoned: list[UUID] = []
            for index, delivery_id in enumerate(ids):
                state = states.get(delivery_id)
                if state is None or delivery_id in to_claim:
                    continue
                if state.state == "sending":
                    if not state.expired:
                        # Back as its lease runs out: if that instance died, this one takes
                        # the delivery over then, not a guessed backoff later.
                        outcomes[index] = RetryLater(
                            f"delivery {delivery_id} is being sent by another instance",
                            delay=max(0.0, state.lease_left_s) + 0.2,
                        )
                    elif state.channel == WHATSAPP:
                        # Its sender died mid-send: the message may be out. The status webhook knows.
                        abandoned.append(delivery_id)
                    else:
                        to_claim[delivery_id] = index
                elif state.state == "pending":
                    to_claim[delivery_id] = index
                # else settled already (sent, failed, skipped, unknown)
            await repository.mark_unknown_many(conn, abandoned, ABANDONED)
            rows = await repository.claim_many(conn, list(to_claim), self._settings.claim_lease_s)
        return {to_claim[row.delivery_id]: row for row in rows}

    @contextlib.asynccontextmanager
    async def _lease(self, delivery_ids: list[UUID]) -> AsyncIterator[None]:
        """Renew the claims while the batch outlives half of them (a pacer wait, a slow provider)."""
        if not delivery_ids:
            yield
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._settings.claim_lease_s / 2)
                await repository.renew_claims(self._pool, delivery_ids, self._settings.claim_lease_s)

        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, asyncpg.PostgresError):
                await renewing

    async def _send(self, delivery: ClaimedDelivery) -> tuple[NotificationChannel, str] | Skipped:
        """Try the delivery's routes in order; a permanent refusal moves on to the next."""
        routes = await self._routes(delivery)
        if isinstance(routes, Skipped):
            return routes
        channel = delivery.channel
        for index, route in enumerate(routes):
            if route.channel != channel:
                # Recorded before sending there, so a crash takes over on the channel in use.
                await repository.switch_channel(
                    self._pool,
                    delivery.delivery_id,
                    route.channel.value,
                    # A reporter's contact is never stored: the row keeps the pseudonym.
                    delivery.recipient if _for_reporter(delivery) else route.message.address,
                    f"{routes[index - 1].channel.value} ditolak; dikirim lewat {route.channel.value}"
                    if index
                    else None,
                )
                channel = route.channel
            try:
                # The span that ends the report's trace: the message leaving for the provider.
                with tracer.start_as_current_span(
                    f"send {route.channel.value}",
                    kind=trace.SpanKind.CLIENT,
                    attributes={"pantau.delivery_id": str(delivery.delivery_id)},
                ):
                    sent = await self._senders[route.channel].send(route.message)
                return route.channel, sent
            except PermanentFailure:
                if index == len(routes) - 1:
                    raise
        raise PermanentFailure("no channel can reach this recipient")

    async def _routes(self, delivery: ClaimedDelivery) -> list[Route] | Skipped:
        template = Template(delivery.template)
        delivery_id = delivery.delivery_id
        snapshot = delivery.case_snapshot
        base: dict[str, Any] = {
            "delivery_id": delivery_id,
            "agency_id": delivery.agency_id,
            "template": template,
            "snapshot": snapshot,
        }
        candidates: list[tuple[NotificationChannel, str, dict[str, Any]]] = []
        if _for_reporter(delivery):
            # Looked up at send time only, so notify never stores a reporter's contact.
            contact = await self._rpc.call(
                delivery.agency_id, REPORTER_CONTACT, ReporterQuery(reporter_id=delivery.recipient)
            )
            if template is Template.REPORT_BACK and not contact.wants_updates:
                return Skipped("pelapor tidak meminta kabar")
            extra = {"name": contact.name, "reply_to": snapshot.get("external_id")}
            if template is Template.REPORT_RECEIPT:
                # Answered where the reporter wrote from.
                address = contact.phone if delivery.channel == WHATSAPP else contact.email
                if address:
                    candidates.append((NotificationChannel(delivery.channel), address, extra))
            else:
                if contact.phone:
                    candidates.append((WHATSAPP, contact.phone, extra))
                if contact.email:
                    candidates.append((EMAIL, contact.email, extra))
        else:
            extra = {
                "team": delivery.team_name,
                "ack_minutes": delivery.ack_minutes or 0,
                "ack_url": self._links.ack_url(delivery.agency_id, str(delivery_id), snapshot["case_id"])
                if delivery.team_id
                else None,
                "case_url": self._links.case_url(delivery.agency_id, snapshot["case_id"]),
            }
            candidates.append((NotificationChannel(delivery.channel), delivery.recipient, extra))
            if delivery.channel == WHATSAPP and delivery.member_email:
                candidates.append((EMAIL, delivery.member_email, extra))
        routes = [
            Route(channel, Outgoing(address=address, **base, **extra))
            for channel, address, extra in candidates
            if channel in self._senders
        ]
        return routes or Skipped("tanpa kontak")

    async def _failed(
        self, request: NotificationRequested, reason: str, *, permanent: bool, final: bool
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await repository.mark_attempt_failed(
                conn, request.delivery_id, reason, final=final, at=datetime.now(UTC)
            )
            if final:
                await self._outbox.stage(
                    conn,
                    NotificationFailed(
                        **_delivery_fields(request, request.channel),
                        failed_at=datetime.now(UTC),
                        reason=reason,
                        permanent=permanent,
                    ),
                )
        if final:
            self._outbox.committed()
            metrics.DELIVERIES.labels(request.channel, "failed").inc()


def _for_reporter(delivery: ClaimedDelivery) -> bool:
    return delivery.template in (Template.REPORT_BACK, Template.REPORT_RECEIPT)


def _delivery_fields(request: NotificationRequested, channel: NotificationChannel) -> dict[str, Any]:
    return {
        "delivery_id": request.delivery_id,
        "agency_id": request.agency_id,
        "case_id": request.case_id,
        "report_id": request.report_id,
        "channel": channel,
        "template": request.template,
        "recipient_id": request.recipient_id,
    }
