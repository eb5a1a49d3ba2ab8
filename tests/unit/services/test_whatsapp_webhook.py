"""The gateway's WhatsApp webhook functions on payloads written out as Meta documents them."""

import hashlib
import hmac
import json
from typing import Any

import pytest

from pantau_gateway.whatsapp_webhook import (
    WebhookError,
    parse_webhook,
    signature_valid,
    verify_handshake,
)

SECRET = b"app-secret"


def body(value: dict[str, Any], field: str = "messages") -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": field,
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": "106540352242922",
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def inbound(kind: str, content: dict[str, Any] | None, **extra: Any) -> bytes:
    message = {
        "from": "6281234567890",
        "id": "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABIYFDNBRTA=",
        "timestamp": "1707700500",
        "type": kind,
        **extra,
    }
    if content is not None:
        message[kind] = content
    return body(
        {"contacts": [{"profile": {"name": "Budi"}, "wa_id": "6281234567890"}], "messages": [message]}
    )


def test_handshake_echoes_the_challenge_only_for_our_token() -> None:
    assert verify_handshake("subscribe", "rahasia", "1158201444", "rahasia") == "1158201444"
    assert verify_handshake("subscribe", "salah", "1158201444", "rahasia") is None
    assert verify_handshake("unsubscribe", "rahasia", "1158201444", "rahasia") is None
    assert verify_handshake("subscribe", None, "1158201444", "rahasia") is None
    assert verify_handshake("subscribe", "rahasia", None, "rahasia") is None
    # An unset verify token must never match an empty one.
    assert verify_handshake("subscribe", "", "1158201444", "") is None


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    raw = b'{"object":"whatsapp_business_account","entry":[]}'
    good = "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    assert signature_valid(SECRET, raw, good)
    assert signature_valid(SECRET, raw, good.upper().replace("SHA256=", "sha256="))
    assert not signature_valid(SECRET, raw + b" ", good)
    assert not signature_valid(b"other-secret", raw, good)
    assert not signature_valid(b"", raw, "sha256=" + hmac.new(b"", raw, hashlib.sha256).hexdigest())
    sha1 = "sha1=" + hmac.new(SECRET, raw, hashlib.sha1).hexdigest()
    for malformed in (None, "", "sha256=", good[7:], sha1, good[:-2], good[:-1] + "z", "sha256=" + "0" * 64):
        assert not signature_valid(SECRET, raw, malformed), malformed


def test_text_message_with_contact_name_and_aware_timestamp() -> None:
    [message] = parse_webhook(inbound("text", {"body": "Ada pembagian sembako berlogo paslon"})).messages
    assert (message.type, message.text, message.from_phone) == (
        "text",
        "Ada pembagian sembako berlogo paslon",
        "6281234567890",
    )
    assert message.profile_name == "Budi" and message.phone_number_id == "106540352242922"
    assert message.timestamp.isoformat() == "2024-02-12T01:15:00+00:00"
    assert message.content == message.text and not message.forwarded


def test_forwarded_flags_and_reply_context() -> None:
    [message] = parse_webhook(
        inbound(
            "text",
            {"body": "sebarkan"},
            context={"from": "15550783881", "id": "wamid.ASAL", "frequently_forwarded": True},
        )
    ).messages
    assert message.forwarded and message.frequently_forwarded and message.reply_to == "wamid.ASAL"


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("image", {"caption": "baliho", "mime_type": "image/jpeg", "sha256": "k5n7...=", "id": "1"}),
        ("video", {"mime_type": "video/mp4", "sha256": "abc", "id": "2"}),
        ("audio", {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "3", "voice": True}),
        (
            "document",
            {
                "caption": "surat",
                "filename": "edaran.pdf",
                "mime_type": "application/pdf",
                "sha256": "abc",
                "id": "4",
            },
        ),
        ("sticker", {"mime_type": "image/webp", "sha256": "abc", "id": "5", "animated": False}),
    ],
)
def test_media_messages_carry_their_media(kind: str, content: dict[str, Any]) -> None:
    [message] = parse_webhook(inbound(kind, content)).messages
    assert message.type == kind and message.media is not None
    assert message.media.id == content["id"]
    assert message.media.mime_type == content["mime_type"]
    assert message.media.caption == content.get("caption")
    assert message.media.filename == content.get("filename")
    assert message.media.voice == content.get("voice", False)


@pytest.mark.parametrize(
    ("content", "reply"),
    [
        ({"type": "button_reply", "button_reply": {"id": "lapor", "title": "Lapor"}}, ("lapor", "Lapor")),
        (
            {
                "type": "list_reply",
                "list_reply": {"id": "kat-2", "title": "Politik uang", "description": "Amplop, sembako"},
            },
            ("kat-2", "Politik uang"),
        ),
    ],
)
def test_interactive_replies(content: dict[str, Any], reply: tuple[str, str]) -> None:
    [message] = parse_webhook(
        inbound("interactive", content, context={"from": "15550783881", "id": "wamid.MENU"})
    ).messages
    assert message.type == "interactive" and (message.reply_id, message.reply_title) == reply
    assert message.reply_to == "wamid.MENU" and message.content == reply[1]


def test_template_quick_reply_button() -> None:
    [message] = parse_webhook(inbound("button", {"payload": "TINDAK", "text": "Tindak lanjuti"})).messages
    assert (message.type, message.reply_id, message.reply_title) == ("button", "TINDAK", "Tindak lanjuti")


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("location", {"latitude": -6.89, "longitude": 109.67}),
        ("reaction", {"message_id": "wamid.X", "emoji": "👍"}),
        ("interactive", {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}),
        ("some_future_type", {"anything": [1, 2]}),
    ],
)
def test_other_types_are_kept_raw_as_unsupported(kind: str, content: dict[str, Any]) -> None:
    [message] = parse_webhook(inbound(kind, content)).messages
    assert (message.type, message.original_type) == ("unsupported", kind)
    assert message.raw[kind] == content and message.wamid.startswith("wamid.")


def test_meta_unsupported_message_keeps_its_errors() -> None:
    raw = inbound(
        "unsupported",
        None,
        errors=[
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ],
    )
    [message] = parse_webhook(raw).messages
    assert message.type == "unsupported"
    assert [(e.code, e.details) for e in message.errors] == [
        (131051, "Message type is currently not supported.")
    ]


def test_statuses_with_and_without_errors() -> None:
    raw = body(
        {
            "statuses": [
                {
                    "id": "wamid.A",
                    "status": "delivered",
                    "timestamp": "1707700501",
                    "recipient_id": "628111",
                    "conversation": {"id": "c1", "origin": {"type": "utility"}},
                    "pricing": {"billable": True, "pricing_model": "PMP", "category": "utility"},
                },
                {
                    "id": "wamid.B",
                    "status": "failed",
                    "timestamp": "1707700502",
                    "recipient_id": "628222",
                    "errors": [
                        {
                            "code": 131047,
                            "title": "Re-engagement message",
                            "message": "Re-engagement message",
                            "error_data": {"details": "More than 24 hours have passed."},
                            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                        }
                    ],
                },
            ]
        }
    )
    delivered, failed = parse_webhook(raw).statuses
    assert (delivered.wamid, delivered.status, delivered.recipient, delivered.errors) == (
        "wamid.A",
        "delivered",
        "628111",
        (),
    )
    assert delivered.timestamp.tzinfo is not None
    [error] = failed.errors
    assert (failed.status, error.code, error.title, error.details) == (
        "failed",
        131047,
        "Re-engagement message",
        "More than 24 hours have passed.",
    )


def test_value_level_errors_and_other_fields() -> None:
    raw = body({"errors": [{"code": 131000, "title": "Something went wrong"}]})
    assert [e.code for e in parse_webhook(raw).errors] == [131000]
    other = body(
        {"event": "APPROVED", "message_template_name": "peringatan"}, field="message_template_status_update"
    )
    assert parse_webhook(other).messages == () and parse_webhook(other).statuses == ()


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"not json", "JSON"),
        (b"\xff\xfe", "JSON"),
        (b"[]", "envelope"),
        (json.dumps({"object": "page", "entry": []}).encode(), "envelope"),
        (json.dumps({"object": "whatsapp_business_account"}).encode(), "envelope"),
        (json.dumps({"object": "whatsapp_business_account", "entry": {}}).encode(), "envelope"),
        (
            body({"messages": [{"from": "628", "timestamp": "1", "type": "text", "text": {"body": "x"}}]}),
            "message",
        ),
        (body({"messages": "not a list"}), "value"),
        (inbound("text", {"caption": "no body"}), "message.text"),
        (inbound("image", {"mime_type": "image/jpeg"}), "message.image"),
        (inbound("text", {"body": "x"}, timestamp="kemarin"), "timestamp"),
        (body({"statuses": [{"id": "wamid.A", "timestamp": "1"}]}), "value"),
    ],
)
def test_malformed_payloads_raise_a_clear_error(raw: bytes, where: str) -> None:
    with pytest.raises(WebhookError, match=where):
        parse_webhook(raw)
