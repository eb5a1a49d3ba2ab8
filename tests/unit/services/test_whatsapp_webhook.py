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
    assert message.type == ("voice" if content.get("voice") else kind) and message.media is not None
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
    assert message.type == "answer" and (message.reply_id, message.reply_title) == reply
    assert message.reply_to == "wamid.MENU" and message.content == reply[1]


def test_template_quick_reply_button() -> None:
    [message] = parse_webhook(inbound("button", {"payload": "TINDAK", "text": "Tindak lanjuti"})).messages
    assert (message.type, message.reply_id, message.reply_title) == ("answer", "TINDAK", "Tindak lanjuti")


def test_location_is_a_structured_place() -> None:
    place = {"latitude": -6.8886, "longitude": 109.6753, "name": "Balai RW 05", "address": "Podosugih"}
    [message] = parse_webhook(inbound("location", place)).messages
    assert message.type == "location" and message.location is not None
    assert (message.location.latitude, message.location.longitude) == (-6.8886, 109.6753)
    assert (message.location.name, message.location.address) == ("Balai RW 05", "Podosugih")


def test_contact_cards_are_structured() -> None:
    cards = [
        {
            "name": {"formatted_name": "Pak Darto", "first_name": "Darto"},
            "phones": [{"phone": "+62 812-3333-4444", "type": "CELL", "wa_id": "6281233334444"}],
            "emails": [{"email": "darto@example.id", "type": "WORK"}],
            "org": {"company": "Tim Sukses Paslon 2"},
        },
        {"name": {"first_name": "Bu", "last_name": "Rini"}, "phones": [{"wa_id": "6285700001111"}]},
    ]
    [message] = parse_webhook(inbound("contacts", None, contacts=cards)).messages
    first, second = message.contacts
    assert message.type == "contacts"
    assert (first.name, first.phones, first.emails, first.organization) == (
        "Pak Darto",
        ("+62 812-3333-4444",),
        ("darto@example.id",),
        "Tim Sukses Paslon 2",
    )
    assert (second.name, second.phones) == ("Bu Rini", ("6285700001111",))


def test_flow_completion_is_a_form_with_its_fields_not_a_fragment() -> None:
    flow = {
        "type": "nfm_reply",
        "nfm_reply": {
            "name": "flow",
            "body": "Sent",
            "response_json": json.dumps(
                {"flow_token": "rahasia", "lokasi": "RT 03 Podosugih", "kejadian": "amplop"}
            ),
        },
    }
    [message] = parse_webhook(inbound("interactive", flow)).messages
    assert message.type == "flow"
    assert message.content == "lokasi: RT 03 Podosugih\nkejadian: amplop"


def test_an_edit_names_the_original_and_carries_the_new_text() -> None:
    edit = {
        "original_message_id": "wamid.ASLI",
        "message": {"type": "text", "text": {"body": "Koreksi: RT 04, bukan RT 03"}},
    }
    [message] = parse_webhook(inbound("edit", edit)).messages
    assert (message.type, message.revises, message.content) == (
        "edit",
        "wamid.ASLI",
        "Koreksi: RT 04, bukan RT 03",
    )


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        ("reaction", {"message_id": "wamid.X", "emoji": "👍"}, "reaction"),
        ("revoke", {"original_message_id": "wamid.X"}, "revoke"),
        ("system", {"body": "Nomor pelapor berganti", "type": "user_changed_number"}, "system"),
        ("order", {"catalog_id": "1", "product_items": []}, "order"),
        ("interactive", {"type": "some_new_reply"}, "unsupported"),
        ("some_future_type", {"anything": [1, 2]}, "unsupported"),
    ],
)
def test_other_kinds_are_named_and_keep_their_raw(kind: str, content: dict[str, Any], expected: str) -> None:
    [message] = parse_webhook(inbound(kind, content)).messages
    assert (message.type, message.original_type) == (expected, kind)
    assert message.raw[kind] == content and message.wamid.startswith("wamid.")


def test_a_message_with_errors_is_skipped_and_the_rest_kept() -> None:
    broken = {
        "from": "6281234567890",
        "id": "wamid.RUSAK",
        "timestamp": "1707700500",
        "type": "unsupported",
        "errors": [
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ],
    }
    good = {"from": "6281234567890", "id": "wamid.BAIK", "timestamp": "1707700501", "type": "text"}
    good["text"] = {"body": "Ada amplop di RT 03"}
    batch = parse_webhook(body({"messages": [broken, good]}))
    assert [m.wamid for m in batch.messages] == ["wamid.BAIK"]
    [skipped] = batch.skipped
    assert skipped.wamid == "wamid.RUSAK" and "131051" in skipped.reason


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
        (body({"messages": "not a list"}), "value"),
        (body({"statuses": [{"id": "wamid.A", "timestamp": "1"}]}), "value"),
    ],
)
def test_malformed_payloads_raise_a_clear_error(raw: bytes, where: str) -> None:
    with pytest.raises(WebhookError, match=where):
        parse_webhook(raw)


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (
            body({"messages": [{"from": "628", "timestamp": "1", "type": "text", "text": {"body": "x"}}]}),
            "message",
        ),
        (inbound("text", {"caption": "no body"}), "message.text"),
        (inbound("image", {"mime_type": "image/jpeg"}), "message.image"),
        (inbound("text", {"body": "x"}, timestamp="kemarin"), "timestamp"),
        (inbound("location", {"latitude": 123.0, "longitude": 0.0}), "message.location"),
    ],
)
def test_a_malformed_message_is_skipped_with_its_reason(raw: bytes, where: str) -> None:
    batch = parse_webhook(raw)
    [skipped] = batch.skipped
    assert batch.messages == () and where in skipped.reason
