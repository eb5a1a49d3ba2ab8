"""A local stand-in for the WhatsApp Business Cloud API, and Meta's side of the webhooks.

`WhatsAppCloudPeer` serves, on 127.0.0.1 and an ephemeral port, the Graph API endpoints notify
uses: `POST /{version}/{phone-number-id}/messages`, `GET /{version}/{media-id}` and the media
download URL it hands out. It records every send, checks the bearer token (401, code 190) and the
request shape (400, code 100), and can be told to fail the next sends with any Graph error code.

The module-level helpers build webhook bodies shaped like Meta's, and `post_webhook` delivers
one the way Meta does: the raw body signed with the app secret in `X-Hub-Signature-256`.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
from aiohttp import web

__all__ = [
    "Received",
    "WhatsAppCloudPeer",
    "combine",
    "encode",
    "error",
    "image_message",
    "message",
    "post_webhook",
    "sign",
    "status",
    "text_message",
    "verify_subscription",
]

PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "6281100001111"
WABA_ID = "102290129340398"
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# Titles and HTTP statuses as the Graph API answers them.
_ERRORS: dict[int, tuple[int, str, str | None]] = {
    1: (500, "An unknown error occurred", None),
    2: (503, "Service temporarily unavailable", None),
    4: (429, "Application request limit reached", None),
    17: (429, "User request limit reached", None),
    32: (429, "Page request limit reached", None),
    100: (400, "Invalid parameter", None),
    190: (401, "Error validating access token: Session has expired", None),
    368: (403, "Temporarily blocked for policies violations", None),
    613: (429, "Calls to this api have exceeded the rate limit", None),
    80007: (429, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: (429, "Rate limit hit", "Cloud API message throughput has been reached."),
    131026: (400, "Message undeliverable", "Unable to deliver message."),
    131030: (
        400,
        "Recipient phone number not in allowed list",
        "Recipient phone number not in allowed list: Add recipient phone number to recipient "
        "list and try again.",
    ),
    131047: (
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131056: (
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone "
        "number in a short period of time.",
    ),
}


@dataclass(frozen=True)
class Received:
    """One request to the messages endpoint, as the peer saw and answered it."""

    phone_number_id: str
    body: Any
    status: int
    at: float  # time.monotonic() on arrival
    wamid: str | None = None

    @property
    def to(self) -> str | None:
        return self.body.get("to") if isinstance(self.body, dict) else None


@dataclass
class _Failure:
    to: str | None
    code: int
    http_status: int
    details: str | None
    retry_after: float | None


@dataclass
class _Media:
    data: bytes
    mime_type: str
    sha256: str
    file_size: int
    downloads: int = 0


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    media: dict[str, _Media] = field(default_factory=dict)
    stalls: int = 0


class WhatsAppCloudPeer:
    """The Cloud API on loopback. `async with WhatsAppCloudPeer() as peer: peer.base_url`."""

    def __init__(
        self,
        *,
        access_token: str = "peer-access-token",
        phone_number_id: str = PHONE_NUMBER_ID,
        api_version: str = "v21.0",
        port: int = 0,
        on_send: Callable[["Received"], None] | None = None,
    ) -> None:
        self._port = port
        self._on_send = on_send
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.api_version = api_version
        self._state = _State()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{version}/{number}/messages", self._messages)
        app.router.add_get("/whatsapp_business/attachments/", self._download)
        app.router.add_get("/{version}/{media_id}", self._media_metadata)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # What was received.

    @property
    def received(self) -> list[Received]:
        return list(self._state.received)

    @property
    def sent(self) -> list[Received]:
        """Sends the peer accepted, in arrival order."""
        return [r for r in self._state.received if r.wamid is not None]

    def downloads(self, media_id: str) -> int:
        return self._state.media[media_id].downloads

    # Scripting.

    def fail_next(
        self,
        *,
        code: int,
        to: str | None = None,
        http_status: int | None = None,
        details: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next send (to `to`, or to anyone) with Graph error `code`."""
        status_for_code, _, default_details = _ERRORS.get(code, (400, "Error", None))
        self._state.failures.append(
            _Failure(to, code, http_status or status_for_code, details or default_details, retry_after)
        )

    def rate_limit(self, n: int, *, retry_after: float | None = None) -> None:
        """Answer the next `n` sends with 130429 (throughput reached) and HTTP 429."""
        for _ in range(n):
            self.fail_next(code=130429, http_status=429, retry_after=retry_after)

    def server_error(self, n: int = 1, *, http_status: int = 503) -> None:
        for _ in range(n):
            self.fail_next(code=2 if http_status == 503 else 1, http_status=http_status)

    def stall_next(self, n: int = 1) -> None:
        """Hold the next `n` sends unanswered until the peer closes (to provoke client timeouts)."""
        self._state.stalls += n

    def add_media(
        self,
        data: bytes,
        mime_type: str = "image/jpeg",
        *,
        media_id: str | None = None,
        sha256: str | None = None,
        file_size: int | None = None,
    ) -> str:
        """Store media to serve; `sha256` / `file_size` override the metadata to simulate lies."""
        media_id = media_id or str(secrets.randbelow(10**15) + 10**15)
        self._state.media[media_id] = _Media(
            data,
            mime_type,
            sha256 or hashlib.sha256(data).hexdigest(),
            len(data) if file_size is None else file_size,
        )
        return media_id

    # Endpoints.

    async def _messages(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        number = request.match_info["number"]
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        response, wamid = self._answer_send(request, number, body)
        # Recorded before a stall: the message arrived even if its answer never leaves.
        self._state.received.append(Received(number, body, response.status, arrived, wamid))
        if self._on_send is not None:
            self._on_send(self._state.received[-1])
        if wamid is not None and self._state.stalls:
            self._state.stalls -= 1
            await self._release.wait()
        return response

    def _answer_send(self, request: web.Request, number: str, body: Any) -> tuple[web.Response, str | None]:
        if not self._authorised(request):
            return _graph_error(190, subcode=463), None
        if number != self.phone_number_id:
            return _unsupported(request.method.lower(), number), None
        problem = _send_problem(body)
        if problem:
            return _graph_error(100, details=problem), None
        to = body["to"]
        for failure in self._state.failures:
            if failure.to is None or failure.to == to:
                self._state.failures.remove(failure)
                return _graph_error(
                    failure.code,
                    http_status=failure.http_status,
                    details=failure.details,
                    retry_after=failure.retry_after,
                ), None
        wamid = _wamid()
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": "".join(c for c in to if c.isdigit())}],
            "messages": [{"id": wamid}],
        }
        if body["type"] == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return web.json_response(answer), wamid

    async def _media_metadata(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _graph_error(190, subcode=463)
        media_id = request.match_info["media_id"]
        media = self._state.media.get(media_id)
        if media is None:
            return _unsupported("get", media_id)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/whatsapp_business/attachments/?mid={media_id}"
                f"&ext={int(time.time()) + 300}&hash={secrets.token_urlsafe(12)}",
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": media.file_size,
                "id": media_id,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        media = self._state.media.get(request.query.get("mid", ""))
        if media is None:
            return web.Response(status=404)
        media.downloads += 1
        return web.Response(body=media.data, content_type=media.mime_type)

    def _authorised(self, request: web.Request) -> bool:
        expected = f"Bearer {self.access_token}".encode()
        return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected)


def _send_problem(body: Any) -> str | None:
    """What is wrong with a send request, in the words of Meta's `error_data.details`."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required."
    to = body.get("to")
    if not isinstance(to, str) or not to.lstrip("+").isdigit():
        return "The parameter to is required and must be a phone number."
    if body.get("recipient_type", "individual") != "individual":
        return "Param recipient_type must be one of {individual, group}."
    context = body.get("context")
    if context is not None and not (isinstance(context, dict) and isinstance(context.get("message_id"), str)):
        return "Param context['message_id'] is required."
    kind = body.get("type", "text")
    if kind == "text":
        text = body.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
            return "The parameter text['body'] is required."
        if len(text["body"]) > 4096:
            return "Param text['body'] must be at most 4096 characters long."
        if not isinstance(text.get("preview_url", False), bool):
            return "Param text['preview_url'] must be a boolean."
        return None
    if kind == "template":
        template = body.get("template")
        if not isinstance(template, dict) or not isinstance(template.get("name"), str):
            return "The parameter template['name'] is required."
        language = template.get("language")
        if not isinstance(language, dict) or not isinstance(language.get("code"), str):
            return "The parameter template['language']['code'] is required."
        if not isinstance(template.get("components", []), list):
            return "Param template['components'] must be an array."
        return None
    return f"Param type '{kind}' is not supported by this peer."


def _graph_error(
    code: int,
    *,
    http_status: int | None = None,
    details: str | None = None,
    subcode: int | None = None,
    retry_after: float | None = None,
    message: str | None = None,
) -> web.Response:
    default_status, title, _ = _ERRORS.get(code, (400, "Error", None))
    error: dict[str, Any] = {
        "message": message or (title if code == 190 else f"(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": base64.urlsafe_b64encode(os.urandom(15)).decode(),
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    if code in (1, 2):
        error["is_transient"] = True
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return web.json_response({"error": error}, status=http_status or default_status, headers=headers)


def _unsupported(method: str, object_id: str) -> web.Response:
    return _graph_error(
        100,
        subcode=33,
        message=(
            f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation."
        ),
    )


def _wamid() -> str:
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18" + os.urandom(24)).decode()


# Webhook bodies, shaped like Meta's `messages` webhook.


def message(
    from_: str,
    kind: str,
    content: dict[str, Any] | None,
    *,
    wamid: str | None = None,
    name: str | None = "Warga Pelapor",
    forwarded: bool = False,
    frequently_forwarded: bool = False,
    reply_to: str | None = None,
    timestamp: int | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """A webhook carrying one inbound message of type `kind` with `content` under that key."""
    item: dict[str, Any] = {
        "from": from_,
        "id": wamid or _wamid(),
        "timestamp": str(timestamp or int(time.time())),
        "type": kind,
    }
    context: dict[str, Any] = {}
    if reply_to:
        context.update({"from": DISPLAY_PHONE_NUMBER, "id": reply_to})
    if forwarded:
        context["forwarded"] = True
    if frequently_forwarded:
        context["frequently_forwarded"] = True
    if context:
        item["context"] = context
    if content is not None:
        item[kind] = content
    value: dict[str, Any] = {"messages": [item]}
    if name is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": from_}]
    return _envelope(value, phone_number_id)


def text_message(
    from_: str, body: str, *, wamid: str | None = None, forwarded: bool = False, **kwargs: Any
) -> dict[str, Any]:
    return message(from_, "text", {"body": body}, wamid=wamid, forwarded=forwarded, **kwargs)


def image_message(
    from_: str,
    media_id: str,
    *,
    mime_type: str = "image/jpeg",
    sha256: str | None = None,
    caption: str | None = None,
    wamid: str | None = None,
    forwarded: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    image: dict[str, Any] = {
        "mime_type": mime_type,
        "sha256": sha256 or secrets.token_hex(32),
        "id": media_id,
    }
    if caption is not None:
        image["caption"] = caption
    return message(from_, "image", image, wamid=wamid, forwarded=forwarded, **kwargs)


def error(code: int, *, title: str | None = None, details: str | None = None) -> dict[str, Any]:
    """An `errors[]` item as webhooks carry it."""
    _, default_title, default_details = _ERRORS.get(code, (400, "Error", None))
    title = title or default_title
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or default_details or title},
        "href": ERROR_CODES_URL,
    }


def status(
    wamid: str,
    status: str,
    errors: list[dict[str, Any]] | None = None,
    *,
    recipient: str = "6281234567890",
    timestamp: int | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
    callback_data: str | None = None,
) -> dict[str, Any]:
    """A webhook carrying one status (sent, delivered, read, failed) of a message we sent."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp or int(time.time())),
        "recipient_id": recipient,
    }
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    if errors:
        item["errors"] = errors
    elif status in ("sent", "delivered", "read"):
        item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "utility"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "utility"}
    return _envelope({"statuses": [item]}, phone_number_id)


def combine(*payloads: dict[str, Any]) -> dict[str, Any]:
    """One webhook delivery carrying the entries of several (Meta batches up to 1000 updates)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [entry for payload in payloads for entry in payload["entry"]],
    }


def _envelope(value: dict[str, Any], phone_number_id: str) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY_PHONE_NUMBER,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


# Delivering webhooks as Meta does.


def encode(payload: dict[str, Any]) -> bytes:
    # Meta signs an escaped-unicode body (\u00e9, lowercase hex), which is what json.dumps
    # writes; a receiver must check the bytes it got, never a re-serialisation.
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(app_secret: bytes, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret, raw_body, hashlib.sha256).hexdigest()


async def post_webhook(
    target_url: str,
    payload: dict[str, Any],
    app_secret: bytes,
    *,
    signature: str | None = None,
    signed: bool = True,
) -> httpx.Response:
    """POST `payload` to a receiver with Meta's headers; `signature` overrides the computed one."""
    raw = encode(payload)
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    if signed:
        headers["X-Hub-Signature-256"] = signature if signature is not None else sign(app_secret, raw)
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(app_secret, raw, hashlib.sha1).hexdigest()
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(target_url, content=raw, headers=headers)


async def verify_subscription(target_url: str, verify_token: str) -> tuple[httpx.Response, str]:
    """Meta's subscription handshake: the receiver must echo `hub.challenge` as the body."""
    challenge = str(secrets.randbelow(10**9))
    params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(target_url, params=params), challenge
