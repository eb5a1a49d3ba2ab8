from datetime import UTC, datetime
from uuid import uuid4

import pytest

from pantau_intake import normalise
from pantau_shared.contract import Channel, Platform, Reporter, ReportSubmitted


@pytest.mark.parametrize(
    ("url", "canonical", "platform"),
    [
        (
            "https://www.facebook.com/groups/123/posts/456/?fbclid=IwAR0abc&mibextid=Nif5oz",
            "https://facebook.com/groups/123/posts/456",
            Platform.FACEBOOK,
        ),
        (
            "m.facebook.com/story.php?story_fbid=99&id=7",
            "https://facebook.com/story.php?id=7&story_fbid=99",
            Platform.FACEBOOK,
        ),
        (
            "https://twitter.com/bawaslu_ri/status/17500?s=20&t=abc",
            "https://x.com/bawaslu_ri/status/17500",
            Platform.X,
        ),
        (
            "https://youtu.be/dQw4w9WgXcQ?si=share",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
            Platform.YOUTUBE,
        ),
        ("https://www.youtube.com/shorts/abc123", "https://youtube.com/watch?v=abc123", Platform.YOUTUBE),
        ("https://vt.tiktok.com/ZSabc/", "https://vt.tiktok.com/ZSabc", Platform.TIKTOK),
        ("https://www.instagram.com/p/C3xyz/?igsh=MWQ1", "https://instagram.com/p/C3xyz", Platform.INSTAGRAM),
        (
            "HTTP://Berita.Example.CO.ID/2024/02/hoaks#komentar",
            "https://berita.example.co.id/2024/02/hoaks",
            Platform.WEB,
        ),
        ("https://t.me/s/kanalpemilu/42", "https://t.me/s/kanalpemilu/42", Platform.TELEGRAM),
    ],
)
def test_shares_of_one_post_get_one_canonical_url(url: str, canonical: str, platform: Platform) -> None:
    assert normalise.canonical_url(url) == (canonical, platform)


def test_content_hash_ignores_spacing_case_and_unicode_forms() -> None:
    a = normalise.normalised_text("Serangan  FAJAR\n di Podosugih")
    b = normalise.normalised_text("serangan fajar di\u00a0Podosugih ")
    assert normalise.sha256_hex(a) == normalise.sha256_hex(b)
    assert a != normalise.normalised_text("serangan fajar di Medono")


def test_phone_numbers_normalise_to_one_contact_whatever_the_format() -> None:
    local = normalise.contact_keys(Reporter(phone="0812-3456-7890"))
    international = normalise.contact_keys(Reporter(phone="+62 812 3456 7890"))
    assert local == international == ["tel:6281234567890"]
    both = normalise.contact_keys(Reporter(phone="0812", email="Warga@Example.id"))
    assert both == ["tel:62812", "mailto:warga@example.id"]


def test_pseudonyms_are_stable_and_depend_on_the_secret() -> None:
    first = normalise.pseudonym(b"secret-one-1234567", "tel:6281234567890")
    assert first == normalise.pseudonym(b"secret-one-1234567", "tel:6281234567890")
    assert first != normalise.pseudonym(b"secret-two-1234567", "tel:6281234567890")
    assert "6281234567890" not in first


def test_received_report_keeps_evidence_hashes_and_platform() -> None:
    submitted = ReportSubmitted(
        report_id=uuid4(),
        agency_id="bawaslu-3375",
        channel=Channel.EMAIL,
        submitted_at=datetime(2024, 2, 12, tzinfo=UTC),
        text="  Amplop 100 ribu  ",
        url="https://www.tiktok.com/@akun/video/1?is_from_webapp=1",
    )
    record = normalise.received(
        submitted, received_at=datetime(2024, 2, 12, 0, 0, 1, tzinfo=UTC), reporter_id=None
    )
    assert record.text == "Amplop 100 ribu"
    assert record.canonical_url == "https://tiktok.com/@akun/video/1"
    assert record.platform is Platform.TIKTOK
    assert record.raw_sha256 == normalise.sha256_hex(
        "  Amplop 100 ribu  \nhttps://www.tiktok.com/@akun/video/1?is_from_webapp=1"
    )
    assert record.content_sha256 == normalise.sha256_hex("amplop 100 ribu")
