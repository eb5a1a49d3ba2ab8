"""WhatsApp Business Cloud API webhooks: the verify handshake, the signature, and typed payloads.

Pure functions, no I/O, so the HTTP route stays a thin shell around them. Payload shapes follow
Meta's `messages` webhook reference: `entry[].changes[].value` carries `messages[]` with
`contacts[]`, or `statuses[]`, or `errors[]`.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pantau_shared.contract import ContactCard, Location

__all__ = [
    "MEDIA_TYPES",
    "CloudError",
    "InboundMedia",
    "InboundMessage",
    "MessageStatus",
    "SkippedMessage",
    "WebhookBatch",
    "WebhookError",
    "parse_webhook",
    "signature_valid",
    "verify_handshake",
]

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
_SIGNATURE_PREFIX = "sha256="
_M = TypeVar("_M", bound=BaseModel)


class WebhookError(ValueError):
    """The body is not a WhatsApp Business Account webhook we can read."""


def verify_handshake(
    mode: str | None, token: str | None, challenge: str | None, expected_token: str
) -> str | None:
    """The challenge to echo when Meta's subscription request carries our verify token, else None."""
    if mode != "subscribe" or not challenge or not token or not expected_token:
        return None
    if not hmac.compare_digest(token.encode(), expected_token.encode()):
        return None
    return challenge


def signature_valid(app_secret: bytes, raw_body: bytes, header: str | None) -> bool:
    """Check `X-Hub-Signature-256` ("sha256=" + hex HMAC-SHA256 of the raw body with the app secret)."""
    if not app_secret or not header or not header.startswith(_SIGNATURE_PREFIX):
        return False
    received = header[len(_SIGNATURE_PREFIX) :].strip().lower()
    if len(received) != 64 or any(c not in "0123456789abcdef" for c in received):
        return False
    expected = hmac.new(app_secret, raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(received, expected)


# Public, typed results.


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CloudError(_Frozen):
    code: int
    title: str | None = None
    message: str | None = None
    details: str | None = None


class InboundMedia(_Frozen):
    id: str
    mime_type: str | None = None
    # As Meta sends it: hex in the media endpoint, sometimes base64 in webhooks.
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool = False


class InboundMessage(_Frozen):
    wamid: str
    from_phone: str
    timestamp: datetime
    # What Pantau makes of it: text, image, video, document, audio, voice, sticker, location,
    # contacts, answer (buttons, lists), flow (a completed form), edit, reaction, revoke, system, order, or
    # "unsupported" for any other (see `original_type`).
    type: str
    original_type: str
    phone_number_id: str | None = None
    profile_name: str | None = None
    text: str | None = None
    media: InboundMedia | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    reply_to: str | None = None
    reply_id: str | None = None
    reply_title: str | None = None
    location: Location | None = None
    contacts: tuple[ContactCard, ...] = ()
    # An edit or a revoke: the message it changes; a reaction: the message reacted to.
    revises: str | None = None
    errors: tuple[CloudError, ...] = ()
    raw: dict[str, Any] = Field(repr=False)

    @property
    def content(self) -> str | None:
        """The words a person wrote or chose, whatever the message type."""
        if self.text is not None:
            return self.text
        if self.media is not None and self.media.caption:
            return self.media.caption
        return self.reply_title


class SkippedMessage(_Frozen):
    """A message of a delivery that could not be read: logged and left out, the rest goes on."""

    wamid: str | None
    reason: str


class MessageStatus(_Frozen):
    wamid: str
    recipient: str | None
    # sent, delivered, read, failed, and whatever Meta adds (played, deleted, ...).
    status: str
    timestamp: datetime
    phone_number_id: str | None = None
    errors: tuple[CloudError, ...] = ()
    # The sender's biz_opaque_callback_data, echoed back (notify puts its delivery id there).
    callback_data: str | None = None


class WebhookBatch(_Frozen):
    messages: tuple[InboundMessage, ...] = ()
    skipped: tuple[SkippedMessage, ...] = ()
    statuses: tuple[MessageStatus, ...] = ()
    # Errors about the business number itself, not tied to one message.
    errors: tuple[CloudError, ...] = ()


# The wire shapes, lenient about fields Meta adds, strict about the ones we rely on.


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _ErrorData(_Wire):
    details: str | None = None


class _Error(_Wire):
    code: int
    title: str | None = None
    message: str | None = None
    error_data: _ErrorData | None = None

    def public(self) -> CloudError:
        details = self.error_data.details if self.error_data else None
        return CloudError(code=self.code, title=self.title, message=self.message, details=details)


class _Context(_Wire):
    id: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False


class _Text(_Wire):
    body: str


class _Media(_Wire):
    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool = False


class _Reply(_Wire):
    id: str
    title: str | None = None


class _FlowReply(_Wire):
    response_json: str
    name: str | None = None
    body: str | None = None


class _Interactive(_Wire):
    type: str
    button_reply: _Reply | None = None
    list_reply: _Reply | None = None
    nfm_reply: _FlowReply | None = None


class _Location(_Wire):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class _Name(_Wire):
    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class _Phone(_Wire):
    phone: str | None = None
    wa_id: str | None = None


class _Email(_Wire):
    email: str | None = None


class _Org(_Wire):
    company: str | None = None


class _Card(_Wire):
    name: _Name | None = None
    phones: list[_Phone] = []
    emails: list[_Email] = []
    org: _Org | None = None


class _Changed(_Wire):
    """An edit (with the new message) or a revoke of an earlier message, or a reaction to one."""

    original_message_id: str | None = None
    message_id: str | None = None
    message: dict[str, Any] | None = None
    emoji: str | None = None


class _Button(_Wire):
    payload: str | None = None
    text: str | None = None


class _Message(_Wire):
    from_: str = Field(alias="from", min_length=1)
    id: str = Field(min_length=1)
    timestamp: str | int
    type: str
    context: _Context | None = None
    errors: list[_Error] = []


class _Status(_Wire):
    id: str = Field(min_length=1)
    status: str
    timestamp: str | int
    recipient_id: str | None = None
    errors: list[_Error] = []
    biz_opaque_callback_data: str | None = None


class _Profile(_Wire):
    name: str | None = None


class _Contact(_Wire):
    wa_id: str | None = None
    profile: _Profile | None = None


class _Metadata(_Wire):
    phone_number_id: str | None = None


class _Value(_Wire):
    metadata: _Metadata | None = None
    contacts: list[_Contact] = []
    messages: list[dict[str, Any]] = []
    statuses: list[_Status] = []
    errors: list[_Error] = []


class _Change(_Wire):
    field: str
    value: dict[str, Any]


class _Entry(_Wire):
    id: str | None = None
    changes: list[_Change] = []


class _Envelope(_Wire):
    object: Literal["whatsapp_business_account"]
    entry: list[_Entry]


def parse_webhook(raw_body: bytes) -> WebhookBatch:
    """Read a `whatsapp_business_account` webhook body; raise `WebhookError` if it is malformed.

    Message types this module does not model are kept as type "unsupported" with their raw
    dict, so a new kind of evidence is never lost silently.
    """
    try:
        document = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WebhookError(f"body is not JSON: {error}") from error
    envelope = _validate(_Envelope, document, "envelope")
    messages: list[InboundMessage] = []
    statuses: list[MessageStatus] = []
    errors: list[CloudError] = []
    skipped: list[SkippedMessage] = []
    for entry in envelope.entry:
        for change in entry.changes:
            # Other fields (template reviews, account updates, ...) carry no messages.
            if change.field != "messages":
                continue
            value = _validate(_Value, change.value, "entry.changes.value")
            number = value.metadata.phone_number_id if value.metadata else None
            names = {c.wa_id: c.profile.name for c in value.contacts if c.wa_id and c.profile}
            for raw in value.messages:
                try:
                    messages.append(_message(raw, number, names))
                except WebhookError as error:
                    wamid = raw.get("id") if isinstance(raw, dict) else None
                    skipped.append(SkippedMessage(wamid=str(wamid) if wamid else None, reason=str(error)))
            for status in value.statuses:
                statuses.append(
                    MessageStatus(
                        wamid=status.id,
                        recipient=status.recipient_id,
                        status=status.status,
                        timestamp=_timestamp(status.timestamp),
                        phone_number_id=number,
                        errors=tuple(e.public() for e in status.errors),
                        callback_data=status.biz_opaque_callback_data,
                    )
                )
            errors.extend(e.public() for e in value.errors)
    return WebhookBatch(
        messages=tuple(messages), statuses=tuple(statuses), errors=tuple(errors), skipped=tuple(skipped)
    )


def _message(raw: Any, number: str | None, names: dict[str, str | None]) -> InboundMessage:
    wire = _validate(_Message, raw, "message")
    if wire.errors:
        # Meta could not deliver its content (type unknown, media too large, ...): nothing to keep.
        codes = ", ".join(f"{e.code} {e.title or ''}".strip() for e in wire.errors)
        raise WebhookError(f"message {wire.id} of type {wire.type} carries errors: {codes}")
    context = wire.context or _Context()
    kind, fields = _content(wire.type, raw)
    return InboundMessage(
        wamid=wire.id,
        from_phone=wire.from_,
        timestamp=_timestamp(wire.timestamp),
        type=kind,
        original_type=wire.type,
        phone_number_id=number,
        profile_name=names.get(wire.from_),
        forwarded=context.forwarded or context.frequently_forwarded,
        frequently_forwarded=context.frequently_forwarded,
        reply_to=context.id,
        raw=raw,
        **fields,
    )


def _content(kind: str, raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Pantau's kind of a message and the fields it carries, by Meta's `type`."""
    if kind == "text":
        return "text", {"text": _validate(_Text, raw.get("text"), "message.text").body}
    if kind in MEDIA_TYPES:
        media = _validate(_Media, raw.get(kind), f"message.{kind}")
        public = InboundMedia(**media.model_dump(include=set(InboundMedia.model_fields)))
        return ("voice" if kind == "audio" and media.voice else kind), {"media": public}
    if kind == "location":
        place = _validate(_Location, raw.get("location"), "message.location")
        return "location", {"location": _place(place)}
    if kind == "contacts":
        cards = [_validate(_Card, card, "message.contacts") for card in raw.get("contacts") or []]
        return "contacts", {"contacts": tuple(_card(card) for card in cards[:20])}
    if kind == "interactive":
        return _interactive(_validate(_Interactive, raw.get("interactive"), "message.interactive"))
    if kind == "button":  # a quick-reply button on a template message
        button = _validate(_Button, raw.get("button"), "message.button")
        return "answer", {"reply_id": button.payload, "reply_title": button.text}
    if kind == "edit":
        changed = _validate(_Changed, raw.get("edit"), "message.edit")
        inner = changed.message or {}
        inner_kind, fields = _content(str(inner.get("type", "")), inner)
        if inner_kind == "unsupported":
            raise WebhookError(f"edit of {changed.original_message_id} carries no readable message")
        return "edit", {**fields, "revises": changed.original_message_id}
    if kind in ("reaction", "revoke"):
        changed = _validate(_Changed, raw.get(kind), f"message.{kind}")
        return kind, {"revises": changed.message_id or changed.original_message_id, "text": changed.emoji}
    if kind in ("system", "order", "request_welcome"):
        return kind, {}
    return "unsupported", {}


def _interactive(interactive: _Interactive) -> tuple[str, dict[str, Any]]:
    reply = interactive.button_reply or interactive.list_reply
    if reply is not None:
        return "answer", {"reply_id": reply.id, "reply_title": reply.title}
    if interactive.nfm_reply is not None:  # a WhatsApp Flow completed: its answers as lines
        flow = interactive.nfm_reply
        try:
            answers = json.loads(flow.response_json)
        except json.JSONDecodeError as error:
            raise WebhookError(f"flow reply is not JSON: {error}") from error
        if not isinstance(answers, dict):
            answers = {"jawaban": answers}
        lines = [f"{key}: {value}" for key, value in answers.items() if key != "flow_token" and value]
        # A completed form is what the reporter wrote, not a tap: a kind of its own, no fragment.
        return "flow", {"reply_id": flow.name, "reply_title": "\n".join(lines) or flow.body}
    return "unsupported", {}


def _place(place: _Location) -> Location:
    try:
        return Location(
            latitude=place.latitude,
            longitude=place.longitude,
            name=(place.name or "")[:500] or None,
            address=(place.address or "")[:1_000] or None,
        )
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]["msg"]
        raise WebhookError(f"malformed message.location: {problem}") from error


def _card(card: _Card) -> ContactCard:
    name = card.name.formatted_name if card.name else None
    if not name and card.name:
        name = " ".join(p for p in (card.name.first_name, card.name.last_name) if p) or None
    return ContactCard(
        name=(name or "")[:200] or None,
        phones=tuple(p.phone or p.wa_id or "" for p in card.phones if p.phone or p.wa_id)[:20],
        emails=tuple(e.email for e in card.emails if e.email)[:20],
        organization=(card.org.company if card.org else None),
    )


def _validate(model: type[_M], data: Any, where: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise WebhookError(f"malformed {where}: {problems}") from error


def _timestamp(value: str | int) -> datetime:
    # Meta sends Unix seconds as a string.
    try:
        seconds = int(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise WebhookError(f"bad timestamp {value!r}") from error
