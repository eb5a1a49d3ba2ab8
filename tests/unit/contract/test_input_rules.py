"""The contract's input rules: what enters the platform is what intake can store."""

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pantau_intake import normalise
from pantau_shared.contract import Channel, Reporter, ReportSubmitted, new_id
from pantau_shared.contract.fields import REGION_PATTERN, TEXT_PATTERN, URL_PATTERN, is_public_url


def report(**fields: object) -> ReportSubmitted:
    return ReportSubmitted.model_validate(
        {
            "report_id": str(new_id()),
            "agency_id": "bawaslu-3375",
            "channel": Channel.API,
            "submitted_at": datetime.now(UTC),
            "text": "Amplop 100 ribu",
        }
        | fields
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"text": "a\x00b"}, "NUL"),
        ({"text": "bel\x07"}, "karakter kendali"),
        ({"text": "\ud800 lone surrogate"}, "unicode"),
        ({"text": " \n\t "}, "tidak boleh kosong"),
        ({"text": None}, "teks, tautan, lampiran"),
        ({"region_code": ""}, "kode wilayah Kemendagri"),
        ({"region_code": "3375"}, "kode wilayah Kemendagri"),
        ({"region_code": "\u0663\u0663"}, "kode wilayah Kemendagri"),
        ({"url": "javascript://x.com/%0aalert(1)"}, "alamat web publik"),
        ({"url": "javascript:alert(1)"}, "alamat web publik"),
        ({"url": "file:///etc/passwd"}, "alamat web publik"),
        ({"url": "ftp://x.com/a"}, "alamat web publik"),
        ({"url": "http://127.0.0.1/admin"}, "alamat web publik"),
        ({"url": "http://[::1]/"}, "alamat web publik"),
        ({"url": "http://10.0.0.7:8080/"}, "alamat web publik"),
        ({"url": "http://0x7f.1/"}, "alamat web publik"),
        ({"url": "http://localhost/x"}, "alamat web publik"),
        ({"url": "http://app.localhost/x"}, "jaringan lokal"),
        ({"url": "https://printer.local/"}, "jaringan lokal"),
        ({"url": "https://db.internal/"}, "jaringan lokal"),
        ({"url": "https://user:pw@x.com/"}, "alamat web publik"),
        ({"url": "https://x.com:99999/"}, "alamat web publik"),
        ({"url": "https://x.com/a b"}, "alamat web publik"),
        ({"text": "x" * 20_001}, "20000"),
        ({"reach": 2**53 + 1}, "less than or equal"),
        ({"reach": "12"}, "bilangan bulat"),
        ({"reporter": {"wants_updates": 0}}, "valid boolean"),
        ({"reporter": {"email": "bukan alamat"}}, "alamat email"),
    ],
)
def test_what_intake_could_not_store_is_refused_where_it_is_built(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        report(**fields)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.facebook.com/groups/123/posts/456?fbclid=abc",
        "facebook.com/groups/123",
        "HTTP://X.COM/akun/status/1",
        "https://www.tiktok.com/@akun/video/1",
        "https://id.wikipedia.org/wiki/Pemilihan_umum_di_Indonesia_2024#Hasil",
        "https://berita.example.co.id:8443/2024/02/berita",
        "https://xn--80ak6aa92e.com/",
    ],
)
def test_public_web_addresses_pass(url: str) -> None:
    assert report(url=url).url == url


def test_names_and_handles_are_folded_to_one_line_not_refused() -> None:
    folded = report(author_handle="@akun\r\nBcc: x@y.z", reporter={"name": "Budi\x00 Santoso\n"})
    assert folded.author_handle == "@akun Bcc: x@y.z"
    assert folded.reporter is not None and folded.reporter.name == "Budi Santoso"


def test_a_channel_keeps_the_contacts_that_pass() -> None:
    kept = Reporter.lenient(name="Budi", email="budi@[10.0.0.1]", phone="6281234567890", wants_updates=True)
    assert kept == Reporter(name="Budi", phone="6281234567890", wants_updates=True)
    assert Reporter.lenient(email="???", wants_updates=True) is None


def test_links_found_in_a_message_must_be_public() -> None:
    assert is_public_url("https://x.com/a")
    assert not is_public_url("http://localhost:8080/")
    assert not is_public_url("https://x.com/" + "a" * 4_100)


# Property: whatever the contract accepts, intake can normalise and PostgreSQL can store.
_texts = st.one_of(st.none(), st.text(max_size=300), st.from_regex(TEXT_PATTERN, fullmatch=True))
_urls = st.one_of(st.none(), st.text(max_size=80), st.from_regex(URL_PATTERN, fullmatch=True))
_regions = st.one_of(st.none(), st.text(max_size=12), st.from_regex(REGION_PATTERN, fullmatch=True))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_texts, url=_urls, region=_regions, handle=st.one_of(st.none(), st.text(max_size=250)))
def test_every_accepted_report_is_storable(
    text: str | None, url: str | None, region: str | None, handle: str | None
) -> None:
    try:
        accepted = report(text=text, url=url, region_code=region, author_handle=handle)
    except ValidationError:
        return
    record = normalise.received(accepted, received_at=datetime.now(UTC), reporter_id=None)
    stored = json.dumps(record.model_dump(mode="json"), ensure_ascii=False)
    stored.encode("utf-8")  # no lone surrogates
    assert "\x00" not in stored and "\\u0000" not in stored
    assert record.text or record.url


@settings(max_examples=300, deadline=None)
@given(url=st.from_regex(URL_PATTERN, fullmatch=True))
def test_every_address_the_schema_describes_has_a_canonical_form(url: str) -> None:
    canonical, _ = normalise.canonical_url(url)
    assert canonical.startswith("https://")
