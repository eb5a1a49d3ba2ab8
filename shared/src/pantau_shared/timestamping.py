"""Trusted time for evidence: RFC 3161 timestamps on a SHA-256, and their offline verification.

`Timestamper(url).stamp(sha256_hex)` asks a time-stamping authority (TSA) to sign the hash with
its time: a random 64-bit nonce, `certReq` true (the token carries the TSA certificate, so it
verifies with nothing but the trusted roots), SHA-256 message imprint. The reply is checked
against the request (status granted, same imprint, same nonce) and kept as the DER
TimeStampResp the TSA sent: that is the artefact a court or another tool (`openssl ts -verify`)
checks, so it is stored as received, never re-encoded.

`verify(token, sha256_hex, roots_pem)` checks, offline, that the token's CMS signature chains
to one of the trusted roots through a certificate with the critical timeStamping purpose, and
that the token is for this hash; it returns the TSA's time (genTime, UTC). Reasons are in
Bahasa Indonesia: the evidence verifier prints them to the people who rely on them.

`TimestampFailed` means "try again later" (TSA unreachable, refusing, answering nonsense);
`TimestampInvalid` means the token does not prove what it claims.
"""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from asn1crypto import tsp
from cryptography import x509
from rfc3161_client import PKIStatus, TimeStampResponse, VerificationError, VerifierBuilder
from rfc3161_client import decode_timestamp_response as _decode

__all__ = [
    "Timestamp",
    "TimestampFailed",
    "TimestampInvalid",
    "Timestamper",
    "parse",
    "request",
    "verify",
]

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
_SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
_MAX_REPLY_BYTES = 256 * 1024


class TimestampFailed(Exception):
    """The TSA could not be asked or did not grant a timestamp: retry later."""


class TimestampInvalid(Exception):
    """The token does not verify; the message says why, in Bahasa Indonesia."""


@dataclass(frozen=True)
class Timestamp:
    token: bytes  # DER TimeStampResp, as the TSA sent it
    time: datetime  # genTime, UTC
    tsa: str  # the TSA's name (from the token, else its certificate's subject)
    serial: int


def _digest(sha256_hex: str) -> bytes:
    try:
        digest = bytes.fromhex(sha256_hex)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise ValueError(f"not a SHA-256 in hex: {sha256_hex[:80]!r}")
    return digest


def _decode_response(token: bytes) -> TimeStampResponse:
    try:
        return _decode(token)
    except BaseException as error:
        # The parser is Rust: malformed input can also surface as pyo3's PanicException, which
        # derives from BaseException. Anything but a request to stop means "not a token".
        if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise TimestampInvalid("token cap waktu tidak dapat dibaca (bukan TimeStampResp DER)") from error


def _tsa_name(response: TimeStampResponse) -> str:
    try:
        name = response.tst_info.name
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        name = None
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    if name is not None and isinstance(name.value, str):
        return name.value
    for der in response.signed_data.certificates:
        certificate = x509.load_der_x509_certificate(der)
        signer = next(iter(response.signed_data.signer_infos), None)
        if signer is not None and certificate.serial_number == signer.serial_number:
            return certificate.subject.rfc4514_string()
    return "tidak diketahui"


def _granted(response: TimeStampResponse) -> bool:
    return PKIStatus(response.status) in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS)


def parse(token: bytes) -> Timestamp:
    """What a token says (time, TSA, serial), without verifying it: for display and manifests."""
    response = _decode_response(token)
    if not _granted(response):
        raise TimestampInvalid(f"TSA menolak permintaan (status {response.status})")
    try:
        info = response.tst_info
        return Timestamp(
            token=token,
            time=info.gen_time.astimezone(UTC) if info.gen_time.tzinfo else info.gen_time.replace(tzinfo=UTC),
            tsa=_tsa_name(response),
            serial=info.serial_number,
        )
    except TimestampInvalid:
        raise
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise TimestampInvalid("isi token cap waktu tidak dapat dibaca") from error


def _load_roots(roots_pem: Sequence[bytes]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for pem in roots_pem:
        try:
            roots.extend(x509.load_pem_x509_certificates(pem))
        except ValueError as error:
            raise TimestampInvalid("sertifikat akar TSA tidak dapat dibaca") from error
    if not roots:
        raise TimestampInvalid("tidak ada sertifikat akar TSA tepercaya untuk memeriksa token")
    return roots


def _signer_attributes(token: bytes) -> tuple[bytes, dict[str, Any]]:
    """The signer's certificate (DER) and the signed attributes by name (asn1crypto: untyped)."""
    signed = tsp.TimeStampResp.load(token)["time_stamp_token"]["content"]
    signer = signed["signer_infos"][0]
    sid = signer["sid"]
    for choice in signed["certificates"]:
        certificate = choice.chosen
        if sid.name == "issuer_and_serial_number":
            matches = certificate.issuer == sid.chosen["issuer"] and certificate.serial_number == (
                sid.chosen["serial_number"].native
            )
        else:
            matches = certificate.key_identifier == sid.chosen.native
        if matches:
            attributes = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
            return bytes(certificate.dump()), attributes
    raise ValueError("no certificate of the signer")


def _check_certificate_binding(token: bytes) -> None:
    """RFC 3161 2.4.1 / RFC 5816: the signed attributes name the TSA's certificate by its hash
    (ESS signingCertificate or -V2), so the token cannot be passed off under another one.
    rfc3161-client does not check this; asn1crypto reads the attribute."""
    try:
        certificate, attributes = _signer_attributes(token)
        if "signing_certificate_v2" in attributes:
            first = attributes["signing_certificate_v2"]["certs"][0]
            algorithm = first["hash_algorithm"]["algorithm"].native
            expected = bytes(first["cert_hash"].native)
        elif "signing_certificate" in attributes:
            first = attributes["signing_certificate"]["certs"][0]
            algorithm, expected = "sha1", bytes(first["cert_hash"].native)
        else:
            raise TimestampInvalid(
                "token tidak menyebut sertifikat TSA penandatangannya (atribut ESS tidak ada)"
            )
        bound = hashlib.new(algorithm, certificate).digest() == expected
    except TimestampInvalid:
        raise
    except Exception as error:
        raise TimestampInvalid("sertifikat penanda tangan token tidak dapat dibaca") from error
    if not bound:
        raise TimestampInvalid("token menyebut sertifikat TSA lain daripada yang menandatanganinya")


def verify(token: bytes, sha256_hex: str, roots_pem: Sequence[bytes]) -> datetime:
    """The token's genTime (UTC) if it is a granted RFC 3161 timestamp of this SHA-256, signed
    through a timeStamping certificate that chains to one of `roots_pem`; TimestampInvalid
    with the reason otherwise. Needs no network."""
    digest = _digest(sha256_hex)
    roots = _load_roots(roots_pem)
    stamp = parse(token)
    response = _decode_response(token)
    imprint = response.tst_info.message_imprint
    if imprint.hash_algorithm != _SHA256_OID:
        raise TimestampInvalid(
            f"token memakai algoritme hash {imprint.hash_algorithm.dotted_string}, bukan SHA-256"
        )
    if imprint.message != digest:
        raise TimestampInvalid(f"token ini untuk hash lain ({imprint.message.hex()}), bukan {digest.hex()}")
    _check_certificate_binding(token)
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(response, digest)
    except VerificationError as error:
        raise TimestampInvalid(
            f"tanda tangan token tidak sah atau tidak berantai ke akar TSA tepercaya: {error}"
        ) from error
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise TimestampInvalid(f"token cap waktu rusak: {error}") from error
    return stamp.time


def request(sha256_hex: str, nonce: int) -> bytes:
    """The DER TimeStampReq for a SHA-256: the imprint is the hash itself, not a hash of it."""
    digest = _digest(sha256_hex)
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return bytes(query.dump())


class Timestamper:
    """An RFC 3161 client of one TSA over HTTP (RFC 3161 section 3.4).

    With `roots_pem` (the TSA's roots), `stamp` also verifies each token before returning it,
    so a TSA whose certificate changed or that signs wrongly is noticed when stamping, not
    months later when the evidence is read."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        http: httpx.AsyncClient | None = None,
        roots_pem: Sequence[bytes] | None = None,
    ) -> None:
        self._url = url
        self._owned = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout_s)
        self._timeout_s = timeout_s
        self._roots = list(roots_pem) if roots_pem is not None else None

    async def stamp(self, sha256_hex: str) -> Timestamp:
        digest = _digest(sha256_hex)
        nonce = secrets.randbits(64)
        token = await self._ask(request(sha256_hex, nonce))
        try:
            response = _decode_response(token)
        except TimestampInvalid as error:
            raise TimestampFailed(f"TSA {self._url} answered a reply that is not a TimeStampResp") from error
        if not _granted(response):
            raise TimestampFailed(
                f"TSA {self._url} refused: status {response.status} {' '.join(response.status_string)}"
            )
        info = response.tst_info
        if info.message_imprint.hash_algorithm != _SHA256_OID or info.message_imprint.message != digest:
            raise TimestampInvalid("TSA stamped another hash than the one asked")
        if info.nonce != nonce:
            raise TimestampInvalid("TSA reply carries another nonce than the request")
        if self._roots is not None:
            verify(token, sha256_hex, self._roots)
        return parse(token)

    async def _ask(self, query: bytes) -> bytes:
        """The reply's body, read up to a bound: a TSA answers a few KiB."""
        headers = {"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE}
        try:
            async with self._http.stream(
                "POST", self._url, content=query, headers=headers, timeout=self._timeout_s
            ) as reply:
                if reply.status_code != 200:
                    raise TimestampFailed(f"TSA {self._url} answered HTTP {reply.status_code}")
                if reply.headers.get("content-type", "").split(";")[0].strip() != REPLY_TYPE:
                    raise TimestampFailed(f"TSA {self._url} answered {reply.headers.get('content-type')!r}")
                body = bytearray()
                async for chunk in reply.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_REPLY_BYTES:
                        raise TimestampFailed(f"TSA {self._url} answered more than {_MAX_REPLY_BYTES} bytes")
                return bytes(body)
        except httpx.HTTPError as error:
            raise TimestampFailed(f"TSA {self._url} unreachable: {error!r}") from error

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()
