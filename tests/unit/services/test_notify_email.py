"""Every message notify sends, rendered with realistic data and read as its recipient reads it."""

import email
import email.policy
import re
from email.message import EmailMessage, Message

import pytest
from aiosmtplib.email import flatten_message
from aiosmtplib.protocol import normalize_message_line_endings

from pantau_notify.email import (
    QUOTE_LENGTH,
    receipt_text,
    render_case_alert,
    render_receipt,
    render_report_back,
    report_back_text,
    wire_bytes,
)
from pantau_notify.settings import NotifySettings

CASE_ID = "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91"
DELIVERY_ID = "018d9a1e-3c80-7c3b-8c1e-5f2a6b7c8d92"
REPORT_ID = "2152f563-1c2d-7e3f-8a9b-0c1d2e3f4a5b"
CASE_URL = f"https://pantau.example/kasus/bawaslu-3375/{CASE_ID}?t=0123abcd"
ACK_URL = f"https://pantau.example/ack/bawaslu-3375/{DELIVERY_ID}?c={CASE_ID}&t=4567ef"
# Long enough to be cut, with a link straddling the place where it is cut.
SUMMARY = (
    "Besok pagi serangan fajar di Kelurahan Podosugih, tiap rumah dapat amplop 100 ribu asal "
    "coblos nomor 3. Kades dan perangkat desa ikut membagikan, videonya sudah beredar di grup "
    "warga dan di akun https://www.facebook.com/groups/123/posts/456?fbclid=abcdefghijklmnop "
    "yang dibagikan ratusan kali sejak semalam. Warga takut melapor karena diancam tidak dapat "
    "bansos lagi kalau menolak amplop itu, mohon segera ditindaklanjuti oleh Bawaslu Kota "
    "Pekalongan sebelum hari pemungutan suara tiba dan semakin banyak warga yang terpengaruh."
)
SNAPSHOT = {
    "case_id": CASE_ID,
    "agency_id": "bawaslu-3375",
    "opened_at": "2024-02-12T01:15:00+00:00",
    "region_code": "33.75",
    "platform": "unknown",
    "canonical_url": None,
    "summary": SUMMARY,
    "priority": 71,
    "priority_level": "high",
    # The same reason twice, as two rules naming one cue would give it.
    "priority_reasons": [
        "Politik uang (tingkat bahaya 4/5, keyakinan 90%)",
        "Dilaporkan 1 kali oleh 1 pelapor berbeda",
        "Politik uang (tingkat bahaya 4/5, keyakinan 90%)",
    ],
    "categories": [
        {"category": "politik_uang", "score": 0.9, "reason": "Menyebut pembagian uang (serangan fajar)"},
        {"category": "netralitas_asn", "score": 0.6, "reason": "Kades disebut ikut membagikan"},
    ],
    "report_count": 1,
    "reporter_count": 1,
    "state": "closed",
    "resolution": "taken_down",
}
SETTINGS = NotifySettings(agency_names={"bawaslu-3375": "Bawaslu Kota Pekalongan"})
TEAM = "Tim Patroli Siber Kota Pekalongan"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
URL = re.compile(r"https?://\S+")
# Words that give away English (or a program's placeholder) in a message meant in Indonesian.
ENGLISH = {"the", "and", "of", "to", "is", "your", "please", "unknown", "none", "null", "team", "report"}


def received(message: Message) -> EmailMessage:
    """As the recipient's mail program reads it."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def alert(**overrides: object) -> Message:
    arguments: dict = {
        "settings": SETTINGS,
        "recipient": "patroli@bawaslu-pekalongan.example",
        "delivery_id": DELIVERY_ID,
        "case_url": CASE_URL,
        "ack_url": ACK_URL,
        "team": TEAM,
        "ack_minutes": 2,
    }
    return render_case_alert(SNAPSHOT, **(arguments | overrides))


def every_email() -> dict[str, Message]:
    return {
        "alert to a member on duty": alert(),
        "alert to a mailbox": alert(ack_url=None, team=None),
        "escalation": alert(template="case_escalation", recipient="koordinator@example.id"),
        "report-back": render_report_back(
            SNAPSHOT, settings=SETTINGS, recipient="warga@example.id", name="Siti", delivery_id=DELIVERY_ID
        ),
        "receipt": render_receipt(
            settings=SETTINGS,
            recipient="warga@example.id",
            name="Siti",
            number="2152F563",
            agency_id="bawaslu-3375",
            in_reply_to="<abc@mail.example>",
            delivery_id=DELIVERY_ID,
        ),
    }


def texts_of(message: EmailMessage) -> list[str]:
    return [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", URL.sub(" ", text.lower()))


@pytest.mark.parametrize("name", list(every_email()))
def test_every_email_reads_naturally_in_indonesian(name: str) -> None:
    message = received(every_email()[name])
    parts = texts_of(message)
    assert parts
    for text in parts:
        plain = URL.sub(" ", re.sub(r"<[^>]+>", " ", text))
        assert "$" not in plain, "a template field was left unfilled"
        assert "bawaslu-3375" not in plain, "the agency's id where its name belongs"
        assert not set(words(plain)) & ENGLISH, set(words(plain)) & ENGLISH
        doubled = re.search(r"\b(\w+)\s+\1\b", plain, re.IGNORECASE)
        assert doubled is None, f"repeated word: {doubled.group(0) if doubled else ''}"
        assert ") (" not in plain
    subject = str(message["Subject"])
    assert subject and "bawaslu-3375" not in subject


@pytest.mark.parametrize("name", list(every_email()))
def test_every_email_body_is_quoted_printable_and_readable_as_stored(name: str) -> None:
    raw = every_email()[name].as_bytes()
    message = received(every_email()[name])
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert part["Content-Transfer-Encoding"] == "quoted-printable"
            assert part.get_content_charset() == "utf-8"
    # The .eml on disk shows the words themselves, not base64.
    assert b"Pesan ini dikirim otomatis oleh Pantau" in raw
    assert b"Content-Transfer-Encoding: base64" not in raw


def test_alert_names_the_case_the_agency_and_the_team_and_links_to_pages() -> None:
    message = received(alert())
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message["Subject"] == "[Pantau] Prioritas tinggi: Politik uang, Netralitas ASN dan perangkat desa"
    assert DELIVERY_ID in message["Message-ID"]
    assert "12-02-2024 08:15 WIB" in plain
    assert "Nomor kasus : 018D9A1E" in plain
    assert "Platform    : tidak diketahui" in plain
    assert "1 laporan dari 1 pelapor" in plain
    assert f"Buka kasus: {CASE_URL}" in plain and f'<a href="{CASE_URL}">Buka kasus</a>' in html
    assert ACK_URL in plain
    assert plain.count("Politik uang (tingkat bahaya") == 1  # a repeated reason is said once
    assert "kepada petugas jaga Tim Patroli Siber Kota Pekalongan, Bawaslu Kota Pekalongan." in plain
    mailbox = received(alert(ack_url=None, team=None)).get_body(("plain",)).get_content()
    assert "kepada tim patroli Bawaslu Kota Pekalongan." in mailbox and "/ack/" not in mailbox


def test_an_alert_says_whether_a_person_reported_or_monitoring_found_the_post() -> None:
    def source(channel: str | None, template: str = "case_alert") -> tuple[str, str]:
        snapshot = SNAPSHOT | {"channel": channel, "reporter_count": 0 if channel == "monitoring" else 1}
        message = received(
            render_case_alert(
                snapshot,
                settings=SETTINGS,
                recipient="p@example.id",
                delivery_id=DELIVERY_ID,
                case_url=CASE_URL,
                template=template,
            )
        )
        return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()

    plain, html = source("monitoring")
    assert "Sumber      : pemantauan otomatis akun terdaftar (bukan laporan masyarakat)" in plain
    assert "pemantauan otomatis akun terdaftar" in html
    assert "pemantauan otomatis" in source("monitoring", "case_escalation")[0]
    assert "Sumber      : laporan masyarakat melalui WhatsApp" in source("whatsapp")[0]
    # An event from before the field existed does not claim a source.
    assert "Sumber      : tidak tercatat" in source(None)[0]


def test_escalation_names_the_team_once_and_the_supervisor() -> None:
    plain = received(alert(template="case_escalation")).get_body(("plain",)).get_content()
    assert "petugas jaga Tim Patroli Siber Kota Pekalongan, tetapi" in plain
    assert "konfirmasi dalam 2 menit." in plain
    assert "kepada supervisor Tim Patroli Siber Kota Pekalongan, Bawaslu Kota Pekalongan." in plain
    unnamed = received(alert(template="case_escalation", team="Patroli")).get_body(("plain",)).get_content()
    assert "petugas jaga tim Patroli, tetapi" in unnamed


def test_quotes_are_cut_at_a_word_with_an_ellipsis() -> None:
    for text in (
        received(alert()).get_body(("plain",)).get_content(),
        report_back_text(SNAPSHOT, "Siti", SETTINGS),
    ):
        quoted = next(line for line in text.splitlines() if line.strip('"').startswith("Besok pagi"))
        quoted = quoted.strip('"')
        assert quoted.endswith("…")
        kept = quoted.removesuffix("…")
        assert SUMMARY.startswith(kept) and SUMMARY[len(kept)] in " ,."
        assert "https://www.facebook.com/groups/123/posts/456?fbclid=abcdefghijklmnop" in kept or (
            "https://" not in kept
        ), "a link is kept whole or left out"
    assert len(report_back_text(SNAPSHOT, "Siti", SETTINGS).split('"')[1]) <= QUOTE_LENGTH


def test_reporters_see_short_numbers_their_agency_and_no_claim_they_asked() -> None:
    back = received(every_email()["report-back"])
    receipt = received(every_email()["receipt"])
    for text in [*texts_of(back), *texts_of(receipt), report_back_text(SNAPSHOT, None, SETTINGS)]:
        assert not UUID.search(text), "reporters quote the short number, not a UUID"
        assert "meminta kabar" not in text
        assert "Bawaslu Kota Pekalongan" in text or "Pesan ini dikirim otomatis oleh Pantau." in text
    assert "Nomor kasus: 018D9A1E" in back.get_body(("plain",)).get_content()
    assert "Konten telah diturunkan." in back.get_body(("plain",)).get_content()
    assert "kepada Bawaslu Kota Pekalongan sudah kami terima dengan nomor 2152F563" in texts_of(receipt)[0]
    assert receipt["In-Reply-To"] == "<abc@mail.example>" and receipt["Auto-Submitted"] == "auto-replied"
    assert "nomor 2152F563." in receipt_text("2152F563")
    # A sticker, a voice note or a tapped answer alone: kept, but the reporter is asked for words.
    asking = receipt_text("2152F563", fragments_only=True)
    assert "nomor 2152F563" in asking and "belum berisi keterangan tertulis" in asking
    assert "Mohon balas" in asking and "Mohon balas" not in receipt_text("2152F563")


def test_an_agency_without_a_configured_name_is_named_from_its_id() -> None:
    plain = received(alert(settings=NotifySettings())).get_body(("plain",)).get_content()
    assert "Bawaslu wilayah 33.75" in plain and "bawaslu-3375" not in URL.sub(" ", plain)


@pytest.mark.parametrize("name", list(every_email()))
def test_every_email_goes_out_as_the_bytes_aiosmtplib_would_write(name: str) -> None:
    """SmtpSender flattens with its own policy (short headers written as they are); the bytes
    must be the ones send_message would have sent."""
    message = every_email()[name]
    ours = normalize_message_line_endings(wire_bytes(message))
    assert ours == normalize_message_line_endings(flatten_message(message, cte_type="8bit"))
    assert ours == normalize_message_line_endings(flatten_message(message, cte_type="7bit"))


@pytest.mark.parametrize(
    "body",
    [
        "Kasus baru perlu ditangani.\n",
        "Pelapor menulis: “amplop 100 ribu” — Kelurahan Podosugih, café\n\nBaris kedua\n",
        SUMMARY + " " + SUMMARY,  # lines longer than quoted-printable allows, no final newline
        "From the top.\n.baris bertitik\n=sama dengan=\n\ttab dan spasi di akhir \n",
        "",
    ],
)
@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_a_text_part_is_what_mimetext_builds(body: str, subtype: str) -> None:
    """Parts are built directly, not through MIMEText's constructor; they must be the same
    part, byte for byte, as every mail program reads it."""
    from email.mime.text import MIMEText

    from pantau_notify.email import UTF8_QP, text_part

    ours, theirs = text_part(body, subtype), MIMEText(body, subtype, UTF8_QP)  # type: ignore[arg-type]
    assert ours.items() == theirs.items()
    assert wire_bytes(ours) == wire_bytes(theirs)
    assert received(ours).get_content() == received(theirs).get_content()


def test_a_subject_in_ascii_goes_as_it_is_and_any_other_as_encoded_words() -> None:
    from pantau_notify.email import subject_header, text_part

    head = wire_bytes(alert()).split(b"\n\n", 1)[0]
    assert b"\nSubject: [Pantau] Prioritas tinggi: Politik uang," in head and b"=?" not in head
    assert str(received(alert())["Subject"]).endswith("Netralitas ASN dan perangkat desa")
    # A label outside ASCII still reaches the recipient as written, in RFC 2047 words.
    message = text_part("isi", "plain")
    message["Subject"] = subject_header("[Pantau] Prioritas “tinggi”: café")  # type: ignore[assignment]
    assert b"=?utf-8?" in wire_bytes(message)
    assert str(received(message)["Subject"]) == "[Pantau] Prioritas “tinggi”: café"


def test_flattened_directly_as_the_generator_would_write_it() -> None:
    """wire_bytes joins the parts it knows itself; the generator stays the judge, and takes
    every other shape (here a body outside ASCII, a preamble)."""
    import io
    from email.generator import BytesGenerator
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    from pantau_notify.email import WIRE_POLICY, text_part

    def generated(message: Message) -> bytes:
        with io.BytesIO() as buffer:
            BytesGenerator(buffer, policy=WIRE_POLICY).flatten(message)
            return buffer.getvalue()

    mbox = text_part("From the patrol\nbaris\r\nlain\rFrom sini\n", "plain")
    raw = MIMEText("Amplop “serangan fajar”\n", "plain", "utf-8")
    raw.replace_header("Content-Transfer-Encoding", "8bit")
    raw.set_payload("Amplop “serangan fajar”\n".encode().decode("ascii", "surrogateescape"))
    with_preamble = MIMEMultipart("alternative", boundary="=_b")
    with_preamble.preamble = "multipart"
    with_preamble.attach(text_part("isi\n", "plain"))
    for message in [*every_email().values(), mbox, raw, with_preamble]:
        assert wire_bytes(message) == generated(message)
