"""Field types that carry the contract's input rules, so every entry point checks the same thing.

The gateway's HTTP models, the WhatsApp webhook and the mail receiver build contract models from
these types; whatever they accept, intake can store. Patterns are also written into the JSON
Schema (and so into the OpenAPI document), and checked with Python's `re`, the engine clients
such as schemathesis generate from, so the document and the server agree.
"""

import ipaddress
import re
from datetime import date
from typing import Annotated
from urllib.parse import urlsplit

import idna
from pydantic import AfterValidator, BeforeValidator, Field

# C0 controls but tab, line feed and carriage return; DEL; C1 controls. (Lone surrogates, which
# PostgreSQL could not store either, pydantic refuses in every string.)
_CONTROL = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
_ALLOWED = f"[^{_CONTROL}]"
# Free text: no control characters, and at least one character that is not white space.
TEXT_PATTERN = f"^{_ALLOWED}*[^\\s{_CONTROL}]{_ALLOWED}*$"
_TEXT = re.compile(TEXT_PATTERN)
_ANY_CONTROL = re.compile(f"[{_CONTROL}]")
_ANY_CONTROL_OR_BREAK = re.compile(f"[{_CONTROL}\\t\\n\\r\\u2028\\u2029]+")

# Kemendagri codes: "33" province, "33.75" regency/city, deeper levels for districts and villages.
# ASCII digits only: `\d` would also take Arabic-Indic and other digits.
REGION_PATTERN = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$"

# A web address: http or https (the scheme may be left out: https is meant), a DNS name with an
# alphabetic top-level label, an optional port, then path, query or fragment without spaces or
# control characters. No credentials, no IP literals: reports point at public web content, and
# an address naming a machine directly is either private or not what a reporter copies.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
# Internationalised names (pemilu.例え.jp, bücher.de, пример.рф): a label with at least one letter
# of these scripts: Latin-1, Greek (lower case), Cyrillic, Thai, kana, CJK, Hangul. Lower-cased,
# each is PVALID in IDNA 2008 on its own, is no combining mark, joiner or right-to-left letter,
# and composes with none of the others, so every label the pattern allows passes the `idna`
# package's checks too (tests/unit/contract/test_idn_hosts.py checks both).
_IDN_LETTER = (
    "[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u03ac-\u03ce\u0400-\u045f\u0e01-\u0e30\u0e32\u0e40-\u0e46"
    "\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fef\uac00-\ud7a3]"
)
_IDN_LABEL = (
    rf"(?:[A-Za-z0-9](?:-?[A-Za-z0-9]){{0,15}}-?)?{_IDN_LETTER}(?:-?(?:[A-Za-z0-9]|{_IDN_LETTER})){{0,30}}"
)
URL_PATTERN = (
    r"^(?:[Hh][Tt][Tt][Pp][Ss]?://)?"
    rf"(?:(?:{_LABEL}|{_IDN_LABEL})\.)+"
    rf"(?:[A-Za-z]{{2,63}}|[Xx][Nn]--[A-Za-z0-9-]{{1,59}}|{_IDN_LETTER}{{2,30}})\.?"
    r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    f"(?:[/?#][^\\s{_CONTROL}]*)?$"
)
_URL = re.compile(URL_PATTERN)
# Names that never reach the public internet (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal).
_PRIVATE_SUFFIXES = ("localhost", "local", "internal", "arpa", "invalid", "home.arpa", "lan")

EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_EMAIL = re.compile(EMAIL_PATTERN)
PHONE_PATTERN = r"^\+?[0-9][0-9 ().-]{2,30}$"
_PHONE = re.compile(PHONE_PATTERN)


def check_text(value: str) -> str:
    if _TEXT.fullmatch(value) is None:
        if _ANY_CONTROL.search(value):
            raise ValueError("teks tidak boleh berisi karakter NUL atau karakter kendali")
        raise ValueError("teks tidak boleh kosong")
    # Kept exactly as sent: intake hashes the text as received, as evidence.
    return value


# Typed-in words: anything but a control character (the schema says so too, for clients and fuzzers).
NO_CONTROLS_PATTERN = f"^{_ALLOWED}*$"
# An address as an admin types it: loose (staff mail may be on an intranet domain), one token.
LOOSE_EMAIL_PATTERN = f"^[^@\\s{_CONTROL}]+@[^@\\s{_CONTROL}]+$"


def no_controls(value: str) -> str:
    """Typed-in words kept as typed (an email to sign in with, a user's name), but never a NUL or
    a control character, which PostgreSQL cannot store and no person means."""
    if _ANY_CONTROL.search(value):
        raise ValueError("tidak boleh berisi karakter NUL atau karakter kendali")
    return value


def single_line(value: object) -> object:
    """Names and handles: control characters and line breaks become one space."""
    if isinstance(value, str):
        value = " ".join(_ANY_CONTROL_OR_BREAK.sub(" ", value).split())
        return value or None
    return value


def check_url(value: str) -> str:
    if _URL.fullmatch(value) is None:
        raise ValueError(
            "harus berupa alamat web publik http atau https, misalnya https://www.facebook.com/..."
        )
    host = urlsplit(value if "://" in value else "https://" + value).hostname or ""
    try:
        host = ascii_host(host)
    except idna.IDNAError as error:
        raise ValueError(f"nama domain internasional tidak sah: {error}") from error
    if any(host == suffix or host.endswith("." + suffix) for suffix in _PRIVATE_SUFFIXES):
        raise ValueError("alamat web harus dapat dibuka dari internet, bukan alamat jaringan lokal")
    # A numeric top-level label is refused by the pattern; this is the belt to those braces.
    # Only a host of digits and dots, or with a colon, can be an address: asking ipaddress of
    # every name cost a fifth of the gateway's time on bulk submissions (two failed parses each).
    if (host.replace(".", "").isdigit() or ":" in host) and _is_address(host):
        raise ValueError("alamat web harus memakai nama domain, bukan alamat IP")
    return value


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def ascii_host(host: str) -> str:
    """A host name in the form DNS uses: lower case, no final dot, each internationalised label
    checked against IDNA 2008 and written as its A-label (`xn--...`), so the two spellings of
    one name compare equal."""
    labels = host.rstrip(".").lower().split(".")
    return ".".join(label if label.isascii() else _a_label(label) for label in labels)


def _a_label(label: str) -> str:
    idna.check_label(label)
    # The punycode codec rather than idna.alabel: a label within the pattern's bounds may still
    # be longer than DNS allows once encoded, and such a link is kept, not refused.
    return "xn--" + label.encode("punycode").decode("ascii")


def is_public_url(value: str) -> bool:
    """For links found in a message: the first one that passes is the report's link."""
    try:
        check_url(value)
    except ValueError:
        return False
    return len(value) <= 4_096


def check_region(value: str) -> str:
    if re.fullmatch(REGION_PATTERN, value) is None:
        raise ValueError("harus berupa kode wilayah Kemendagri, misalnya 33 atau 33.75")
    return value


def check_email(value: str) -> str:
    if _EMAIL.fullmatch(value) is None:
        raise ValueError("harus berupa alamat email, misalnya nama@contoh.id")
    return value


def check_phone(value: str) -> str:
    if _PHONE.fullmatch(value) is None:
        raise ValueError("harus berupa nomor telepon, misalnya +6281234567890")
    return value


def _schema(pattern: str, description: str) -> dict[str, object]:
    return {"pattern": pattern, "description": description}


def _iso_date(value: object) -> object:
    if isinstance(value, int | float):
        raise ValueError("harus berupa tanggal (TTTT-BB-HH)")
    return value


def _json_integer(value: object) -> object:
    # pydantic would take "12" or true for a number; the schema says integer, so must we.
    if isinstance(value, str | bool):
        raise ValueError("harus berupa bilangan bulat")
    return value


# Free text (bound it where used: `Annotated[Text, Field(max_length=...)]`): no control
# characters, not blank.
Text = Annotated[str, Field(json_schema_extra={"pattern": TEXT_PATTERN}), AfterValidator(check_text)]
ReportText = Annotated[
    str,
    Field(
        max_length=20_000,
        json_schema_extra=_schema(
            TEXT_PATTERN, "The words of the report: no NUL or other control characters, not blank."
        ),
    ),
    AfterValidator(check_text),
]
WebUrl = Annotated[
    str,
    Field(
        max_length=4_096,
        json_schema_extra=_schema(
            URL_PATTERN,
            "A public http or https address (https when the scheme is left out). Refused: other "
            "schemes (javascript:, file:, ...), credentials, IP literals, and local names "
            "(localhost, *.local, *.internal, *.arpa, *.invalid, *.lan).",
        ),
    ),
    AfterValidator(check_url),
]
RegionCode = Annotated[
    str,
    Field(json_schema_extra=_schema(REGION_PATTERN, "Kemendagri code, e.g. 33 (province) or 33.75")),
    AfterValidator(check_region),
]
# Followers, views, sizes: from a JSON number (never a string or a boolean), at most 2**53, the
# largest integer every JSON parser reads exactly (and far inside PostgreSQL's bigint). The
# validator comes last so it runs first and the bounds stay in the schema.
MAX_COUNT = 2**53
Count = Annotated[int, Field(ge=0, le=MAX_COUNT), BeforeValidator(_json_integer)]
# A calendar date as JSON carries it ("2024-02-14"), never a number of seconds.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# A name or handle as someone typed it: kept, with control characters and line breaks folded
# into one space (None when nothing is left).
Name = Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(single_line)]
Line500 = Annotated[Annotated[str, Field(max_length=500)] | None, BeforeValidator(single_line)]
Line1000 = Annotated[Annotated[str, Field(max_length=1_000)] | None, BeforeValidator(single_line)]
# The channel's own id of a message (WhatsApp wamid, email Message-ID): one line, bounded.
ExternalId = Line500
Typed = Annotated[str, Field(json_schema_extra={"pattern": NO_CONTROLS_PATTERN}), AfterValidator(no_controls)]
EmailAddress = Annotated[
    str, Field(max_length=320, json_schema_extra={"pattern": EMAIL_PATTERN}), AfterValidator(check_email)
]
PhoneNumber = Annotated[
    str, Field(max_length=32, json_schema_extra={"pattern": PHONE_PATTERN}), AfterValidator(check_phone)
]
