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
URL_PATTERN = (
    r"^(?:[Hh][Tt][Tt][Pp][Ss]?://)?"
    rf"(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|[Xx][Nn]--[A-Za-z0-9-]{{1,59}})\.?"
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
    host = host.rstrip(".").lower()
    if any(host == suffix or host.endswith("." + suffix) for suffix in _PRIVATE_SUFFIXES):
        raise ValueError("alamat web harus dapat dibuka dari internet, bukan alamat jaringan lokal")
    try:
        # A numeric top-level label is refused by the pattern; this is the belt to those braces.
        ipaddress.ip_address(host)
    except ValueError:
        return value
    raise ValueError("alamat web harus memakai nama domain, bukan alamat IP")


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
EmailAddress = Annotated[
    str, Field(max_length=320, json_schema_extra={"pattern": EMAIL_PATTERN}), AfterValidator(check_email)
]
PhoneNumber = Annotated[
    str, Field(max_length=32, json_schema_extra={"pattern": PHONE_PATTERN}), AfterValidator(check_phone)
]
