"""Sender authentication without network DNS: the trusted server's header, and DKIM with a lookup
that answers from the test key in tests/corpus/dkim/."""

from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest

from pantau_intake.email import parse_mail
from pantau_intake.email.sender_auth import SenderCheck

KEYS = Path(__file__).parents[2] / "corpus" / "dkim"
MAIL = (
    b"From: Rina <rina@example.id>\r\nTo: lapor@bawaslu.go.id\r\nSubject: Laporan\r\n"
    b"Message-ID: <dkim-1@example.id>\r\n\r\nAmplop di RT 03\r\n"
)


def dns(name: bytes, timeout: int = 5) -> bytes | None:
    if name == b"pantau._domainkey.example.id.":
        return b"v=DKIM1; k=rsa; p=" + (KEYS / "test-key.pub").read_bytes().strip()
    return None


def signed(mail: bytes = MAIL, domain: bytes = b"example.id") -> bytes:
    key = (KEYS / "test-key.pem").read_bytes()
    headers = [b"from", b"to", b"subject", b"message-id"]
    return dkim.sign(mail, b"pantau", domain, key, include_headers=headers) + mail


def stamped(results: str, server: str = "mx.bawaslu.go.id") -> bytes:
    return f"Authentication-Results: {server}; {results}\r\n".encode() + MAIL


@pytest.mark.parametrize(
    ("results", "verdict"),
    [
        (
            "spf=pass smtp.mailfrom=example.id; dkim=pass header.d=example.id;"
            " dmarc=pass header.from=example.id",
            "pass",
        ),
        ("spf=fail smtp.mailfrom=example.id; dmarc=fail header.from=example.id", "fail"),
        ("dkim=pass header.d=example.id", "pass"),
        ("dkim=pass header.d=penipu.example", "none"),
        ("spf=softfail smtp.mailfrom=example.id", "fail"),
        ("spf=none", "none"),
    ],
)
def test_the_trusted_servers_verdict(results: str, verdict: str) -> None:
    auth = SenderCheck(["mx.bawaslu.go.id"])(stamped(results), "example.id")
    assert auth.verdict == verdict and auth.method == "authentication-results"


def test_a_header_from_anyone_else_is_not_believed() -> None:
    forged = stamped("dmarc=pass header.from=example.id", server="mx.penipu.example")
    assert SenderCheck(["mx.bawaslu.go.id"])(forged, "example.id").verdict == "none"
    # With DKIM checked here instead, an unsigned mail is still unverified.
    assert SenderCheck(["mx.bawaslu.go.id"], dns)(forged, "example.id").verdict == "none"


def test_dkim_verified_here_with_an_injected_lookup() -> None:
    check = SenderCheck([], dns)
    good = check(signed(), "example.id")
    assert (good.verdict, good.dkim, good.method) == ("pass", "pass", "dkim")
    assert check(signed().replace(b"RT 03", b"RT 09"), "example.id").verdict == "fail"
    # Signed by a domain that is not the From domain: a valid signature, but not the sender's.
    assert check(signed(), "gmail.com").verdict == "fail"
    assert check(MAIL, "example.id").verdict == "none"


def test_the_verdict_travels_on_the_report() -> None:
    parsed = parse_mail(signed(), agency_id="bawaslu-3375", check=SenderCheck([], dns))
    report = parsed.to_report()
    assert report.sender_auth is not None and report.sender_auth.verdict == "pass"
    assert parse_mail(MAIL, agency_id="bawaslu-3375").to_report().sender_auth is None
