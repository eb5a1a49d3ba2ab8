"""Internationalised domain names in report links: accepted as IDNA 2008 has them, and nothing
that was refused before gets through with non-ASCII letters."""

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau_intake.normalise import canonical_url
from pantau_shared.contract.fields import _IDN_LETTER, URL_PATTERN, ascii_host, check_url, is_public_url


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://pemilu.例え.jp/x", "pemilu.xn--r8jz45g.jp"),
        ("https://bawaslu.go.id", "bawaslu.go.id"),
        ("bücher.de/buku", "xn--bcher-kva.de"),
        ("https://пример.рф/", "xn--e1afmkfd.xn--p1ai"),
        ("https://MÜNCHEN.de/", "xn--mnchen-3ya.de"),
        ("https://한국.kr/berita", "xn--3e0b707e.kr"),
        ("https://ไทย.th/", "xn--o3cw4h.th"),
    ],
)
def test_an_internationalised_name_is_accepted_and_canonical_in_its_a_label(url: str, host: str) -> None:
    assert check_url(url) == url
    canonical, _ = canonical_url(url)
    assert urlsplit(canonical).hostname == host
    assert host == idna.encode(urlsplit("https://" + url.split("://")[-1]).hostname, uts46=True).decode()


def test_the_two_spellings_of_one_name_are_one_canonical_address() -> None:
    assert canonical_url("https://pemilu.例え.jp/x")[0] == canonical_url("https://pemilu.xn--r8jz45g.jp/x")[0]


@pytest.mark.parametrize(
    "url",
    [
        "file:///例え/passwd",
        "javascript://例え.jp/%0aalert(1)",
        "ftp://例え.jp/",
        "http://127.0.0.1/例え",
        "http://[::1]/",
        "https://例え.localhost/",
        "https://プリンタ.local/",
        "https://データ.internal/",
        "https://user:pw@例え.jp/",
        "https://例え.jp:99999/",
        "https://例え.jp/a b",
        "https://例\u3002jp/",  # an ideographic full stop is not a dot here
        "https://e\u0301xample.com/",  # a combining mark
        "https://ab--ü.de/",  # two hyphens where an A-label's prefix would be
        "https://-ü.de/",
        "https://ü_x.de/",
        "https://مثال.إختبار/",  # right-to-left scripts are not in the accepted set
        "https://例\u200dえ.jp/",  # a zero-width joiner
    ],
)
def test_what_was_refused_is_still_refused_with_non_ascii_letters(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url)
    assert not is_public_url(url)


def test_every_letter_the_pattern_allows_passes_idna_2008() -> None:
    letter = re.compile(_IDN_LETTER)
    allowed = [chr(c) for c in range(0x80, 0x10000) if letter.fullmatch(chr(c))]
    assert len(allowed) > 30_000
    for ch in allowed:
        lower = ch.lower()
        assert letter.fullmatch(lower), hex(ord(ch))
        idna.check_label(lower + lower)
        idna.check_label("a" + lower + "1")
        assert unicodedata.combining(ch) == 0 and unicodedata.normalize("NFC", ch) == ch


@settings(max_examples=500, deadline=None)
@given(url=st.from_regex(URL_PATTERN, fullmatch=True))
def test_every_address_the_schema_describes_is_accepted_with_an_ascii_canonical_host(url: str) -> None:
    assert check_url(url) == url
    canonical, _ = canonical_url(url)
    host = urlsplit(canonical).hostname or ""
    assert host.isascii() and host


_SCHEMES = st.sampled_from(
    ["", "http://", "https://", "HTTPS://", "file://", "javascript:", "ftp://", "data:"]
)
_HOST_PARTS = st.sampled_from(
    [
        "例え",
        "ü",
        "pemilu",
        "127",
        "0",
        "1",
        "localhost",
        "local",
        "internal",
        "[::1]",
        "xn--r8jz45g",
        "-",
        "_",
    ]
)
_HOSTS = st.lists(st.one_of(_HOST_PARTS, st.text(min_size=1, max_size=4)), min_size=1, max_size=5).map(
    ".".join
)


@settings(max_examples=2_000, deadline=None)
@given(
    scheme=_SCHEMES, host=_HOSTS, port=st.sampled_from(["", ":80", ":0", ":99999"]), path=st.text(max_size=8)
)
def test_whatever_is_accepted_is_a_public_http_address_by_a_name(
    scheme: str, host: str, port: str, path: str
) -> None:
    url = scheme + host + port + ("/" + path if path else "")
    if not is_public_url(url):
        return
    parts = urlsplit(url if "://" in url else "https://" + url)
    assert parts.scheme.lower() in ("http", "https")
    assert parts.username is None and parts.password is None
    name = ascii_host(parts.hostname or "")
    assert name.isascii() and "." in name
    top = name.split(".")[-1]
    assert top not in ("localhost", "local", "internal", "arpa", "invalid", "lan")
    with pytest.raises(ValueError):
        ipaddress.ip_address(name)
