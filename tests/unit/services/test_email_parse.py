"""Inbound mail to report: the mails Indonesian reporters actually send, and broken ones."""

import base64
import hashlib
import random
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from pantau_intake.email import MailError, ParsedMail, parse_mail
from pantau_shared.contract import Channel, ReportSubmitted, stable_id

AGENCY = "bawaslu-3375"
NOW = datetime(2024, 2, 13, 8, 0, tzinfo=UTC)
WIB = timezone(timedelta(hours=7))
DASH = "\u2013"  # en dash, as Outlook and phones type it


def parse(raw: bytes | str, **options: object) -> ParsedMail:
    data = raw.encode() if isinstance(raw, str) else raw
    return parse_mail(data, agency_id=AGENCY, received_at=NOW, **options)  # type: ignore[arg-type]


def mail(
    body: str = "Ada pembagian sembako berlogo paslon di Kelurahan Podosugih.", **headers: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Budi Santoso <budi.santoso@gmail.com>")
    message["To"] = "lapor@bawaslu-pekalongan.go.id"
    message["Subject"] = headers.pop("Subject", "Laporan dugaan politik uang")
    message["Date"] = headers.pop("Date", format_datetime(datetime(2024, 2, 12, 10, 15, tzinfo=WIB)))
    message["Message-ID"] = headers.pop("Message_ID", "<CAF=x1Y2z3@mail.gmail.com>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def test_plain_mail_becomes_a_report() -> None:
    message = mail(
        "Besok pagi serangan fajar di RT 03, tiap rumah dapat amplop 100 ribu.\n"
        "Videonya: https://www.tiktok.com/@akun/video/123?is_from_webapp=1\n"
    )
    parsed = parse(message.as_bytes())
    report = parsed.to_report()
    assert isinstance(report, ReportSubmitted)
    assert report.report_id == stable_id("email", f"{AGENCY}:<CAF=x1Y2z3@mail.gmail.com>")
    assert report.channel is Channel.EMAIL and report.agency_id == AGENCY
    assert report.text == (
        "Laporan dugaan politik uang\n\nBesok pagi serangan fajar di RT 03, tiap rumah "
        "dapat amplop 100 ribu.\nVideonya: "
        "https://www.tiktok.com/@akun/video/123?is_from_webapp=1"
    )
    assert report.url == "https://www.tiktok.com/@akun/video/123?is_from_webapp=1"
    assert report.reporter is not None
    assert (report.reporter.name, report.reporter.email) == ("Budi Santoso", "budi.santoso@gmail.com")
    assert report.reporter.wants_updates is True
    assert report.external_id == "<CAF=x1Y2z3@mail.gmail.com>"
    assert report.submitted_at == datetime(2024, 2, 12, 3, 15, tzinfo=UTC)
    assert report.attachments == () and report.forwarded is False


def test_encoded_word_sender_and_subject() -> None:
    raw = (
        "From: =?utf-8?q?Siti_Aminah_=E2=80=93_Warga_Podosugih?= <Siti@Yahoo.CO.ID>\r\n"
        "To: lapor@bawaslu-pekalongan.go.id\r\n"
        "Subject: =?UTF-8?B?QmFsaWhvIGRpIGJhbmRhcmEg8J+Yrg==?=\r\n"
        "Message-ID:   <20240212.abc@yahoo.co.id>  \r\n"
        "Date: Mon, 12 Feb 2024 10:15:00 -0000\r\n"
        "\r\n"
        "Baliho caleg dipasang di pohon depan SD.\r\n"
    )
    parsed = parse(raw)
    assert parsed.from_name == f"Siti Aminah {DASH} Warga Podosugih"
    assert parsed.from_address == "Siti@yahoo.co.id"
    assert parsed.subject == "Baliho di bandara 😮"
    assert parsed.message_id == "<20240212.abc@yahoo.co.id>"
    assert parsed.date == datetime(2024, 2, 12, 10, 15, tzinfo=UTC)


def test_html_only_mail_is_made_readable_with_its_links() -> None:
    raw = (
        "From: pelapor@example.id\r\nTo: lapor@bawaslu-pekalongan.go.id\r\n"
        "Subject: Akun penyebar hoaks\r\nMessage-ID: <html-1@example.id>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><head><title>judul</title><style>p {color: red}</style>"
        "<script>alert('x')</script></head><body>"
        "<p>Akun ini menyebar hoaks &amp; fitnah:</p>"
        '<ul><li><a href="https://x.com/akun/status/111">postingan pertama</a></li>'
        '<li><a href="https://www.facebook.com/groups/9/posts/8">https://www.facebook.com/groups/9/posts/8</a></li>'
        '<li><a href="mailto:a@b.id">surel</a></li></ul>'
        "<p>Mohon&nbsp;ditindak.<br>Terima kasih</p></body></html>\r\n"
    )
    parsed = parse(raw)
    assert parsed.body == (
        "Akun ini menyebar hoaks & fitnah:\n"
        "postingan pertama (https://x.com/akun/status/111)\n"
        "https://www.facebook.com/groups/9/posts/8\nsurel\n"
        "Mohon\xa0ditindak.\nTerima kasih"
    )
    assert "alert" not in parsed.body and "color" not in parsed.body and "judul" not in parsed.body
    assert parsed.links == ("https://x.com/akun/status/111", "https://www.facebook.com/groups/9/posts/8")
    assert parsed.to_report().url == "https://x.com/akun/status/111"


def test_alternative_prefers_plain_text() -> None:
    message = mail("Versi teks: https://youtu.be/abc123")
    message.add_alternative("<p>Versi HTML <a href='https://example.com/html'>tautan</a></p>", subtype="html")
    parsed = parse(message.as_bytes())
    assert parsed.body == "Versi teks: https://youtu.be/abc123"
    assert parsed.links == ("https://youtu.be/abc123",)
    assert parsed.attachments == ()


def test_empty_plain_part_falls_back_to_html() -> None:
    message = mail(" \n")
    message.add_alternative("<div>Isi ada di HTML saja</div>", subtype="html")
    assert parse(message.as_bytes()).body == "Isi ada di HTML saja"


def test_latin1_quoted_printable_reads_like_windows_1252() -> None:
    # Outlook labels Windows-1252 text as ISO-8859-1: 0x96 is an en dash, 0x93/0x94 smart quotes.
    raw = (
        b'From: "Jos\xe9" <jose@example.id>\r\nTo: lapor@bawaslu-pekalongan.go.id\r\n'
        b"Subject: Uang Rp 100.000 =?iso-8859-1?q?=96_per_KK?=\r\n"
        b"Message-ID: <qp-1@example.id>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: text/plain; charset="iso-8859-1"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Warga menerima uang Rp 100.000 =96 disebut =93uang transport=94 dari tim s=\r\n"
        b"ukses. Caf=E9 di pojok jadi posko.\r\n"
    )
    parsed = parse(raw)
    assert parsed.subject == f"Uang Rp 100.000 {DASH} per KK"
    assert parsed.body == (
        f"Warga menerima uang Rp 100.000 {DASH} disebut “uang transport” dari tim sukses. "
        "Café di pojok jadi posko."
    )


def test_base64_utf8_body() -> None:
    text = "Ada intimidasi pemilih di TPS 12 🙏 mohon segera dicek.\nLokasi: Jl. Ahmad Yani."
    raw = (
        "From: warga@example.id\r\nTo: lapor@bawaslu-pekalongan.go.id\r\nSubject: TPS 12\r\n"
        "Message-ID: <b64@example.id>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(text.encode()).decode().replace("\n", "\r\n")
    )
    assert parse(raw).body == text


@pytest.mark.parametrize("charset", ["x-unknown-charset", "utf-8", "us-ascii", "hex", ""])
def test_wrong_or_unknown_charset_never_crashes(charset: str) -> None:
    declared = f"; charset={charset}" if charset else ""
    raw = (
        b"From: a@example.id\r\nSubject: s\r\nContent-Type: text/plain"
        + declared.encode()
        + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSerangan fajar \xe9\x80 di TPS \xff 3\r\n"
    )
    body = parse(raw).body
    assert body.startswith("Serangan fajar") and body.endswith("di TPS ÿ 3")


def test_undeclared_utf8_under_ascii_label() -> None:
    raw = (
        "From: a@example.id\r\nSubject: s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Kampanye di masjid—jelas melanggar\r\n"
    )
    assert parse(raw.encode()).body == "Kampanye di masjid—jelas melanggar"


def test_attachments_hash_the_decoded_bytes_and_list_oversized_ones() -> None:
    photo = bytes(range(256)) * 4
    video = b"\x00\x01" * 5000
    message = mail("Foto dan video terlampir.")
    message.add_attachment(photo, maintype="image", subtype="jpeg", filename="bukti amplop.jpg")
    message.add_attachment(
        video, maintype="video", subtype="mp4", filename="=?utf-8?q?video_serangan_fajar_=E2=80=93_RT3.mp4?="
    )
    parsed = parse(message.as_bytes(), max_attachment_bytes=5000)
    small, large = parsed.attachments
    assert (small.filename, small.content_type, small.size) == ("bukti amplop.jpg", "image/jpeg", 1024)
    assert small.sha256 == hashlib.sha256(photo).hexdigest() and not small.too_large
    assert (large.filename, large.size, large.too_large, large.sha256) == (
        f"video serangan fajar {DASH} RT3.mp4",
        10000,
        True,
        None,
    )
    report = parsed.to_report()
    assert [(a.filename, a.mime_type, a.sha256, a.size) for a in report.attachments] == [
        ("bukti amplop.jpg", "image/jpeg", small.sha256, 1024),
        (f"video serangan fajar {DASH} RT3.mp4", "video/mp4", None, 10000),
    ]


def test_inline_images_count_as_attachments() -> None:
    image = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    message = mail("Tangkapan layar di bawah.")
    message.add_alternative('<p>Tangkapan layar:</p><img src="cid:shot1">', subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(image, maintype="image", subtype="png", cid="<shot1>")
    parsed = parse(message.as_bytes())
    assert parsed.body == "Tangkapan layar di bawah."
    (inline,) = parsed.attachments
    assert inline.inline and inline.content_type == "image/png"
    assert inline.sha256 == hashlib.sha256(image).hexdigest()


GMAIL_REPLY = """\
Ini buktinya, akun yang sama posting lagi hari ini:
https://www.instagram.com/p/C3xyz/

Salam,
Rina

Dikirim dari iPhone saya

Pada Sen, 12 Feb 2024 pukul 10.15 Bawaslu Kota Pekalongan <
lapor@bawaslu-pekalongan.go.id> menulis:

> Terima kasih atas laporan Anda. Mohon kirimkan tautan postingannya.
>
> > Pada Min, 11 Feb 2024 Rina <rina@gmail.com> menulis:
> > https://www.instagram.com/p/OLD/
"""


def test_gmail_reply_keeps_only_the_new_words() -> None:
    parsed = parse(
        mail(
            GMAIL_REPLY,
            In_Reply_To="<balasan-1@bawaslu-pekalongan.go.id>",
            References="<awal@gmail.com> <balasan-1@bawaslu-pekalongan.go.id>",
        ).as_bytes()
    )
    assert parsed.body == (
        "Ini buktinya, akun yang sama posting lagi hari ini:\n"
        "https://www.instagram.com/p/C3xyz/\n\nSalam,\nRina"
    )
    assert parsed.links == ("https://www.instagram.com/p/C3xyz/",)
    assert parsed.in_reply_to == "<balasan-1@bawaslu-pekalongan.go.id>"
    assert parsed.references == ("<awal@gmail.com>", "<balasan-1@bawaslu-pekalongan.go.id>")


@pytest.mark.parametrize(
    "history",
    [
        "On Mon, Feb 12, 2024 at 10:15 AM Bawaslu <lapor@bawaslu.go.id> wrote:\n> lama",
        "-----Original Message-----\nFrom: Bawaslu\nSent: Monday\n\nlama",
        "----- Pesan Asli -----\nDari: Bawaslu\n\nlama",
        "________________________________\nDari: Bawaslu <lapor@bawaslu.go.id>\nDikirim: Senin\n\nlama",
        "> lama\n> juga lama",
    ],
)
def test_other_reply_styles_are_cut(history: str) -> None:
    parsed = parse(mail(f"Laporan baru: ada baliho di jembatan.\n\n{history}\n").as_bytes())
    assert parsed.body.rstrip("_\n") == "Laporan baru: ada baliho di jembatan."


WHATSAPP_HOAX = """\
Pak, pesan ini beredar di grup WA RT kami. Mohon dicek kebenarannya.

---------- Pesan terusan ---------
Dari: Hendra <hendra.w@gmail.com>
Date: Sen, 12 Feb 2024 pukul 07.02
Subject: Fwd: PENTING!!
To: <rina@gmail.com>


*PENTING!!* Surat suara sudah dicoblos duluan di TPS 7 Podosugih, sebarkan sebelum dihapus!!
Sumber: https://bit.ly/surat-suara-dicoblos
> Diteruskan berkali-kali
"""


def test_forwarded_whatsapp_hoax_keeps_the_forwarded_content() -> None:
    parsed = parse(mail(WHATSAPP_HOAX, Subject="Fwd: PENTING!!").as_bytes())
    assert parsed.forwarded is True
    assert parsed.body == (
        "Pak, pesan ini beredar di grup WA RT kami. Mohon dicek kebenarannya.\n\n"
        "*PENTING!!* Surat suara sudah dicoblos duluan di TPS 7 Podosugih, sebarkan sebelum dihapus!!\n"
        "Sumber: https://bit.ly/surat-suara-dicoblos\n> Diteruskan berkali-kali"
    )
    assert "hendra.w@gmail.com" not in parsed.body
    report = parsed.to_report()
    assert report.forwarded and report.url == "https://bit.ly/surat-suara-dicoblos"


def test_english_gmail_forward_header() -> None:
    body = (
        "---------- Forwarded message ---------\nFrom: A <a@b.id>\nDate: Mon\nSubject: x\n"
        "To: <c@d.id>\n\nIsi yang diteruskan."
    )
    parsed = parse(mail(body).as_bytes())
    assert parsed.forwarded and parsed.body == "Isi yang diteruskan."


def test_forward_as_attachment_uses_the_attached_mail() -> None:
    inner = mail("Isi pesan asli tentang politik uang.", Subject="asli", Message_ID="<in@x.id>")
    outer = EmailMessage()
    outer["From"] = "rina@gmail.com"
    outer["Subject"] = "Fwd: asli"
    outer["Message-ID"] = "<out@x.id>"
    outer.make_mixed()
    outer.attach(_rfc822(inner))
    parsed = parse(outer.as_bytes())
    assert parsed.forwarded and parsed.body == "Isi pesan asli tentang politik uang."
    assert parsed.attachments[0].content_type == "message/rfc822"


def _rfc822(inner: EmailMessage) -> EmailMessage:
    part = EmailMessage()
    part.set_content(inner)
    return part


def test_missing_message_id_is_derived_from_the_content_whatever_the_line_ends() -> None:
    message = mail("Laporan tanpa Message-ID.\nBaris kedua.")
    del message["Message-ID"]
    crlf = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    lf = crlf.replace(b"\r\n", b"\n")
    relayed = b"Received: from mx.example.id by pantau; Mon, 12 Feb 2024 10:16:00 +0700\r\n" + crlf
    first = parse(crlf)
    assert first.message_id.endswith("@pantau.derived>")
    assert {parse(lf).message_id, parse(relayed).message_id} == {first.message_id}
    assert first.to_report().report_id == parse(lf).to_report().report_id
    assert parse(crlf + b"beda\r\n").message_id != first.message_id


def test_report_ids_are_per_agency() -> None:
    parsed = parse(mail().as_bytes())
    other = parse_mail(mail().as_bytes(), agency_id="bawaslu-33", received_at=NOW)
    assert parsed.to_report().report_id != other.to_report().report_id
    assert parsed.to_report().external_id == other.to_report().external_id


def test_links_are_deduplicated_in_order_without_trailing_punctuation() -> None:
    body = (
        "Lihat https://a.id/1, lalu (https://b.id/2) dan https://a.id/1.\n"
        "Wiki: https://id.wikipedia.org/wiki/Pemilu_(Indonesia). Juga ftp://c.id/x"
    )
    assert parse(mail(body).as_bytes()).links == (
        "https://a.id/1",
        "https://b.id/2",
        "https://id.wikipedia.org/wiki/Pemilu_(Indonesia)",
    )


def test_text_is_capped_at_the_contract_limit() -> None:
    report = parse(mail("kata " * 10_000).as_bytes()).to_report()
    assert report.text is not None and len(report.text) == 20_000


def test_implausible_dates_fall_back_to_the_receive_time() -> None:
    parsed = parse(mail(Date="Thu, 01 Jan 2099 00:00:00 +0000").as_bytes())
    assert parsed.to_report().submitted_at == NOW
    assert parse(mail(Date="bukan tanggal").as_bytes()).to_report().submitted_at == NOW


def test_auto_replies_are_flagged() -> None:
    assert parse(mail(Auto_Submitted="auto-replied").as_bytes()).automated
    assert not parse(mail().as_bytes()).automated


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"\x00\x01\x02garbage\xff\xfe lots of it",
        b"From: a@example.id\r\nSubject: \r\n\r\n \r\n",
    ],
)
def test_unusable_input_is_a_mail_error(raw: bytes) -> None:
    with pytest.raises(MailError):
        parse(raw)


def test_multipart_without_boundary_is_read_best_effort() -> None:
    raw = (
        b"From: a@example.id\r\nSubject: rusak\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--zzz\r\nContent-Type: text/plain\r\n\r\nTeks laporan tetap terbaca.\r\n--zzz--\r\n"
    )
    parsed = parse(raw)
    assert parsed.body == "Teks laporan tetap terbaca."


def test_truncated_multipart_is_read_best_effort() -> None:
    message = mail("Teks sebelum lampiran.")
    message.add_attachment(b"A" * 3000, maintype="application", subtype="pdf", filename="bukti.pdf")
    raw = message.as_bytes()
    parsed = parse(raw[: raw.index(b"filename") + 400])
    assert parsed.body == "Teks sebelum lampiran."
    assert parsed.attachments[0].filename == "bukti.pdf"


def test_no_cut_or_corruption_raises_anything_but_mail_error() -> None:
    message = mail(WHATSAPP_HOAX)
    message.add_alternative("<p>HTML <a href='https://a.id'>a</a></p>", subtype="html")
    message.add_attachment(bytes(range(256)) * 8, maintype="image", subtype="jpeg", filename="f.jpg")
    raw = message.as_bytes()
    rng = random.Random(2024)
    samples = [raw[:cut] for cut in range(0, len(raw), 37)]
    for _ in range(300):
        corrupted = bytearray(raw)
        for _ in range(rng.randint(1, 40)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        samples.append(bytes(corrupted))
    for sample in samples:
        try:
            parse(sample).to_report()
        except MailError:
            pass


def html_mail(html: str, subject: str = "Re: laporan") -> bytes:
    return (
        f"From: rina@gmail.com\r\nSubject: {subject}\r\nMessage-ID: <h@gmail.com>\r\n"
        f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}"
    ).encode()


def test_html_gmail_reply_drops_the_quoted_history() -> None:
    parsed = parse(
        html_mail(
            '<div dir="ltr">Ini tautan barunya <a href="https://t.me/kanal/55">t.me/kanal/55</a></div><br>'
            '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">Pada Sen, 12 Feb 2024 pukul 10.15 '
            'Bawaslu &lt;lapor@bawaslu.go.id&gt; menulis:<br></div><blockquote class="gmail_quote">'
            'Mohon kirim tautannya.<br><a href="https://lama.example/x">lama</a></blockquote></div>'
        )
    )
    assert parsed.body == "Ini tautan barunya t.me/kanal/55 (https://t.me/kanal/55)"
    assert parsed.links == ("https://t.me/kanal/55",)


def test_html_gmail_forward_keeps_the_forwarded_content() -> None:
    parsed = parse(
        html_mail(
            '<div dir="ltr">Mohon dicek<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            '---------- Pesan terusan ---------<br>Dari: <strong class="gmail_sendername">Hendra</strong> '
            "<span>&lt;h@gmail.com&gt;</span><br>Date: Sen, 12 Feb 2024<br>Subject: PENTING<br>"
            'To: &lt;r@gmail.com&gt;<br></div><br><br><div dir="ltr">Surat suara sudah dicoblos '
            '<a href="https://bit.ly/x">https://bit.ly/x</a></div></div></div>',
            subject="Fwd: PENTING",
        )
    )
    assert parsed.forwarded
    assert parsed.body == "Mohon dicek\n\nSurat suara sudah dicoblos https://bit.ly/x"


def test_gb2312_labelled_gbk_is_decoded_as_gbk() -> None:
    text = "举报: 镕基 喆 村长分发红包"  # 镕 and 喆 are in GBK, not in GB2312
    message = mail()
    message.set_content(text.encode("gbk"), maintype="text", subtype="plain", cte="base64")
    message.replace_header("Content-Type", 'text/plain; charset="gb2312"')
    assert parse(message.as_bytes()).body == text


def test_latin1_label_is_read_as_windows_1252() -> None:
    message = mail()
    message.set_content(
        "Ada \u201camplop\u201d \u2013 50\u20ac".encode("cp1252"), "text", "plain", cte="base64"
    )
    message.replace_header("Content-Type", "text/plain; charset=iso-8859-1")
    assert parse(message.as_bytes()).body == "Ada \u201camplop\u201d \u2013 50\u20ac"


def test_the_real_address_is_the_one_in_brackets() -> None:
    parsed = parse(mail(From="alice@example.com <bob@example.com>").as_bytes())
    assert parsed.from_address == "bob@example.com"
    assert parse(mail(From='"Budi" <budi@example.id>').as_bytes()).from_address == "budi@example.id"


def test_a_boundary_mismatch_is_parsed_with_the_boundary_the_body_uses() -> None:
    raw = (
        b"From: Rina <rina@example.id>\r\nTo: lapor@bawaslu.go.id\r\nSubject: Laporan\r\n"
        b"Message-ID: <batas@example.id>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="yang-dinyatakan"\r\n\r\n'
        b"--yang-dipakai\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"Kades membagikan amplop di balai desa.")
        + b"\r\n--yang-dipakai\r\nContent-Type: image/jpeg\r\n"
        b"Content-Disposition: attachment; filename=foto.jpg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"\xff\xd8 foto")
        + b"\r\n--yang-dipakai--\r\n"
    )
    parsed = parse(raw)
    assert "Kades membagikan amplop di balai desa." in parsed.body
    assert [a.filename for a in parsed.attachments] == ["foto.jpg"]


def test_unrecoverable_mime_is_kept_whole_with_a_note() -> None:
    blob = base64.encodebytes(bytes(range(256)) * 60).decode()
    raw = (
        "From: Rina <rina@example.id>\r\nTo: lapor@bawaslu.go.id\r\nSubject: Laporan rusak\r\n"
        "Message-ID: <rusak@example.id>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="tidak-ada"\r\n\r\n'
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + blob
    ).encode()
    parsed = parse(raw)
    assert "struktur MIME surel ini rusak" in parsed.body and len(parsed.body) < 1000
    original = next(a for a in parsed.attachments if a.filename == "surel-asli.eml")
    assert original.sha256 == hashlib.sha256(raw).hexdigest() and original.size == len(raw)


def test_a_zip_attachment_is_listed_with_its_files() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bukti/foto1.jpg", b"\xff\xd8 satu")
        archive.writestr("rekaman.ogg", b"OggS dua")
    message = mail()
    message.add_attachment(buffer.getvalue(), maintype="application", subtype="zip", filename="bukti.zip")
    names = {a.filename: a.sha256 for a in parse(message.as_bytes()).attachments}
    assert set(names) == {"bukti.zip", "bukti.zip/foto1.jpg", "bukti.zip/rekaman.ogg"}
    assert names["bukti.zip/foto1.jpg"] == hashlib.sha256(b"\xff\xd8 satu").hexdigest()


@pytest.mark.parametrize(
    "headers",
    [
        {
            "From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Subject": "Delivery Status Notification (Failure)",
        },
        {"From": "MAILER-DAEMON@mx.example.id", "Subject": "Undelivered Mail Returned to Sender"},
        {"X_Failed_Recipients": "lapor@bawaslu.go.id"},
        {"Auto_Submitted": "auto-replied"},
    ],
)
def test_bounces_and_auto_replies_are_recognised(headers: dict[str, str]) -> None:
    assert parse(mail(**headers).as_bytes()).automated
