"""The WhatsApp Business Cloud API webhook: each public message becomes a report.

`/webhooks/whatsapp/{agency_id}` is the callback URL registered with Meta for the agency's
number. Meta retries a webhook for days, so the report id and the event id are derived from the
message id: a repeated delivery is dropped by the stream and, later, by intake.
"""

import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from nats.errors import Error as NatsError
from pydantic import ValidationError

from pantau_shared.bus import RpcError
from pantau_shared.contract import (
    Attachment,
    Channel,
    MessageRevoked,
    NotificationChannel,
    NotificationStatus,
    Reporter,
    ReportSubmitted,
    stable_id,
)
from pantau_shared.contract.fields import is_public_url
from pantau_shared.contract.reasons import reasons
from pantau_shared.contract.rpc import NOTIFICATION_ACK, AcknowledgeNotification
from pantau_shared.sealing import Sealer, seal_report

from . import repository
from .deps import StateDep
from .problems import Problem
from .roles import public
from .settings import GatewaySettings
from .whatsapp_webhook import (
    InboundMessage,
    WebhookError,
    parse_webhook,
    signature_valid,
    verify_handshake,
)

router = APIRouter(
    prefix="/webhooks/whatsapp",
    include_in_schema=False,
    dependencies=[
        public("Meta's webhook: the verify token and the X-Hub-Signature-256 HMAC are the authority")
    ],
)
REPORTED_STATUSES = frozenset({"sent", "delivered", "read", "failed", "deleted"})
# Message kinds that carry nothing to report, and why each is left out.
IGNORED_KINDS = {
    "reaction": "an emoji on an earlier message",
    "system": "a notice from WhatsApp (number changed, ...)",
    "order": "a catalogue order, not a report",
    "request_welcome": "a first-contact ping with no content",
    "unsupported": "a message type Pantau does not read",
    "revoke": "a deletion that names no message",
}
# Payload of the acknowledge button in patrol alerts (notify's alert template).
ACK_PREFIX = "ack:"
log = logging.getLogger(__name__)
URL = re.compile(
    r"https?://\S+|(?:www\.)?(?:facebook|instagram|tiktok|youtube|x|twitter)\.com/\S+", re.IGNORECASE
)


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.gateway_settings
    if settings.whatsapp_app_secret is None or settings.whatsapp_verify_token is None:
        raise Problem(404, "WhatsApp belum dikonfigurasi di gateway ini")
    return settings


@router.get("/{agency_id}", response_class=PlainTextResponse)
async def handshake(
    request: Request,
    agency_id: str,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    settings = _settings(request)
    answer = verify_handshake(mode, token, challenge, settings.whatsapp_verify_token.get_secret_value())  # type: ignore[union-attr]
    if answer is None:
        raise Problem(403, "token verifikasi tidak cocok")
    return PlainTextResponse(answer)


@router.post("/{agency_id}")
async def receive(request: Request, agency_id: str, state: StateDep) -> Response:
    settings = _settings(request)
    raw = await request.body()
    secret = settings.whatsapp_app_secret.get_secret_value().encode()  # type: ignore[union-attr]
    if not signature_valid(secret, raw, request.headers.get("x-hub-signature-256")):
        raise Problem(401, "header X-Hub-Signature-256 tidak ada atau tidak cocok dengan isi permintaan")
    if not await repository.agency_exists(state.infra.pool, agency_id):
        raise Problem(404, f"instansi {agency_id} tidak dikenal")
    try:
        batch = parse_webhook(raw)
    except WebhookError as error:
        log.warning("WhatsApp webhook for %s refused: %s", agency_id, error)
        raise Problem(400, "isi webhook tidak dapat dibaca sebagai webhook WhatsApp") from error
    for skipped in batch.skipped:
        # One unreadable message must not fail the delivery: Meta would retry it for days.
        log.warning("WhatsApp message %s for %s skipped: %s", skipped.wamid, agency_id, skipped.reason)
    for reported in batch.errors:
        log.warning("WhatsApp reports an error for %s: %s %s", agency_id, reported.code, reported.title)
    try:
        for message in batch.messages:
            if (message.reply_id or "").startswith(ACK_PREFIX):
                await acknowledge(state, agency_id, message)
                continue
            if message.type == "revoke" and message.revises:
                # Applied by intake, which knows the report holding the message (docs/channels.md).
                revoked = MessageRevoked(
                    agency_id=agency_id,
                    channel=Channel.WHATSAPP,
                    external_id=message.wamid,
                    revises=message.revises,
                    revoked_at=message.timestamp,
                )
                await state.publisher.publish(state.publisher.envelope(revoked, event_id=revoked.event_id()))
                continue
            if message.type in IGNORED_KINDS:
                log.info(
                    "WhatsApp %s %s for %s ignored (%s)",
                    message.original_type,
                    message.wamid,
                    agency_id,
                    IGNORED_KINDS[message.type],
                )
                continue
            try:
                report = to_report(agency_id, message, state.sealer)
            except ValidationError as error:
                # Refused now, as intake would refuse it later; Meta must not retry it.
                log.warning(
                    "WhatsApp message %s for %s skipped: %s", message.wamid, agency_id, reasons(error)
                )
                continue
            await state.publisher.publish(state.publisher.envelope(report, event_id=report.event_id()))
        for status in batch.statuses:
            if status.status not in REPORTED_STATUSES:
                continue
            first = status.errors[0] if status.errors else None
            # Validated rather than constructed: Meta's status is a string, checked against the
            # contract's literal here.
            event = NotificationStatus.model_validate(
                {
                    "provider_message_id": status.wamid,
                    "agency_id": agency_id,
                    "channel": NotificationChannel.WHATSAPP,
                    "status": status.status,
                    "at": status.timestamp,
                    "error_code": first.code if first else None,
                    "error_title": first.title if first else None,
                    "delivery_id": _uuid(status.callback_data),
                }
            )
            await state.publisher.publish(
                state.publisher.envelope(
                    event, event_id=stable_id("whatsapp.status", f"{status.wamid}:{status.status}")
                )
            )
    except (NatsError, TimeoutError) as error:
        # Meta retries a webhook that did not get 200, so nothing is lost by refusing now.
        raise Problem(503, "webhook belum dapat diantrekan; coba lagi") from error
    return Response(status_code=200)


async def acknowledge(state: Any, agency_id: str, message: InboundMessage) -> None:
    """A patrol member tapped the alert's button: acknowledge that delivery, no report."""
    try:
        delivery_id = UUID((message.reply_id or "").removeprefix(ACK_PREFIX))
    except ValueError:
        log.warning("acknowledgement from WhatsApp names no delivery: %r", message.reply_id)
        return
    try:
        command = AcknowledgeNotification(
            delivery_id=delivery_id,
            actor=message.profile_name or f"+{message.from_phone}",
            via="whatsapp",
            principal="whatsapp",
            # Meta retries the webhook: the same message is the same command.
            command_id=stable_id("whatsapp.ack", message.wamid),
        )
        await state.rpc.call(agency_id, NOTIFICATION_ACK, command)
    except RpcError as error:
        if error.status >= 500:
            raise Problem(503, "konfirmasi belum dapat dicatat; coba lagi") from error
        log.warning("acknowledgement from WhatsApp refused: %s", error)


def to_report(agency_id: str, message: InboundMessage, sealer: Sealer) -> ReportSubmitted:
    """The event to publish, the sender's number and name and any contact cards sealed."""
    text = message.content or None
    link = next((m.group(0) for m in URL.finditer(text or "") if is_public_url(m.group(0))), None)
    attachments: tuple[Attachment, ...] = ()
    if message.media is not None:
        attachments = (
            Attachment(
                media_id=message.media.id,
                mime_type=message.media.mime_type,
                sha256=message.media.sha256,
                filename=message.media.filename,
            ),
        )
    event = ReportSubmitted(
        report_id=report_id(agency_id, message.wamid),
        agency_id=agency_id,
        channel=Channel.WHATSAPP,
        submitted_at=message.timestamp or datetime.now(UTC),
        text=text[:20_000] if text else None,
        url=link,
        # Someone who writes to the agency's number expects an answer there.
        reporter=Reporter.lenient(phone=message.from_phone, name=message.profile_name, wants_updates=True),
        external_id=message.wamid,
        forwarded=message.forwarded,
        attachments=attachments,
        message_kind=message.type,
        location=message.location,
        contacts=message.contacts,
        revises=message.revises,
    )
    return seal_report(event, sealer)


def _uuid(text: str | None) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None  # another sender's callback data on the same number


def report_id(agency_id: str, wamid: str) -> UUID:
    """Per agency and message: Meta's retries map to one report, other agencies' never collide."""
    return stable_id("whatsapp", f"{agency_id}:{wamid}")
