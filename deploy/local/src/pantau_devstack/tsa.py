"""A real RFC 3161 time-stamping authority on loopback, for the dev stack and the tests.

`LocalTsa` answers `POST /` (any path) of `application/timestamp-query` with an
`application/timestamp-reply`: a TimeStampResp whose token is CMS SignedData over a TSTInfo,
signed by a TSA certificate (extendedKeyUsage timeStamping, critical) issued by its own root
CA, the way a public TSA is built. Verifiers trust `root_pem`.

    async with LocalTsa(port=0) as tsa:
        stamper = Timestamper(tsa.url)
        ...verify(token, digest, [tsa.root_pem])

The dev stack keeps one authority across restarts: `LocalTsa(port=..., data_dir=path)` writes
its root certificate, TSA certificate and TSA key into `data_dir` on first start and loads them
afterwards (`root.pem`, `tsa.pem`, `tsa-key.pem`), so tokens stamped yesterday still chain to
the root a verifier was given. Run it inside the stack's event loop, for as long as the stack
runs, with `async with` (or `await tsa.start()` ... `await tsa.stop()`).

`refuse_next(n)` makes the next n requests answer status `rejection` (systemFailure), the way a
TSA refuses when it cannot stamp, so callers' retry paths can be tested; `misbehave_next(how)`
answers the next one for another nonce, another hash, with a megabyte of junk, or with a token
that does not name its signing certificate (no ESS signingCertificate attribute). The ASN.1 structures
come from asn1crypto; keys and certificates from cryptography.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Self

from aiohttp import web
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["POLICY_OID", "TSA_NAME", "LocalTsa", "Misbehaviour", "TsaIdentity"]

# The ITU-T example arc (2.999): a development TSA has no registered policy of its own.
POLICY_OID = "2.999.3161.1"
TSA_NAME = "Pantau Local TSA"
_DIGEST_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}
Misbehaviour = Literal["refuse", "other_nonce", "other_hash", "oversized", "unbound"]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pantau development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*allowed: str) -> x509.KeyUsage:
    flags = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )  # fmt: skip
    return x509.KeyUsage(**{flag: flag in allowed for flag in flags})


@dataclass(frozen=True)
class TsaIdentity:
    """The root certificate and the TSA's certificate and private key."""

    root: x509.Certificate
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, *, valid_days: int = 3650) -> Self:
        now = datetime.now(UTC) - timedelta(minutes=5)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root_name = _name("Pantau Local TSA Root")
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage("key_cert_sign", "crl_sign"), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(TSA_NAME))
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage("digital_signature", "content_commitment"), critical=True)
            # RFC 3161 2.3: the TSA's certificate has exactly this purpose, marked critical.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )
        return cls(root=root, certificate=certificate, key=key)

    @classmethod
    def load_or_create(cls, directory: Path) -> Self:
        paths = [directory / name for name in ("root.pem", "tsa.pem", "tsa-key.pem")]
        if all(path.exists() for path in paths):
            key = serialization.load_pem_private_key(paths[2].read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{paths[2]} is not an RSA private key")
            return cls(
                root=x509.load_pem_x509_certificate(paths[0].read_bytes()),
                certificate=x509.load_pem_x509_certificate(paths[1].read_bytes()),
                key=key,
            )
        identity = cls.generate()
        directory.mkdir(parents=True, exist_ok=True)
        paths[0].write_bytes(identity.root.public_bytes(serialization.Encoding.PEM))
        paths[1].write_bytes(identity.certificate.public_bytes(serialization.Encoding.PEM))
        paths[2].touch(mode=0o600)
        paths[2].write_bytes(
            identity.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return identity

    def respond(self, query: bytes, *, now: datetime | None = None, bind_certificate: bool = True) -> bytes:
        """The DER TimeStampResp for a DER TimeStampReq: granted, or rejected with the reason."""
        try:
            request = tsp.TimeStampReq.load(query, strict=True)
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
        except (ValueError, TypeError, KeyError):
            return _rejection("bad_data_format", "request is not a DER TimeStampReq")
        if _DIGEST_LENGTHS.get(algorithm) != len(digest):
            return _rejection("bad_alg", f"unsupported message imprint {algorithm}")
        gen_time = (now or datetime.now(UTC)).replace(microsecond=0)
        info: dict[str, object] = {
            "version": "v1",
            "policy": POLICY_OID,
            "message_imprint": imprint,
            "serial_number": secrets.randbits(63),
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName(
                name="directory_name", value=asn1_x509.Name.load(self.certificate.subject.public_bytes())
            ),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        token = self._sign(
            tsp.TSTInfo(info), include_certificate=bool(request["cert_req"].native), bind=bind_certificate
        )
        return bytes(tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump())

    def _sign(self, info: tsp.TSTInfo, *, include_certificate: bool, bind: bool = True) -> cms.ContentInfo:
        certificate_der = self.certificate.public_bytes(serialization.Encoding.DER)
        certificate = asn1_x509.Certificate.load(certificate_der)
        content = info.dump()
        attributes: list[dict[str, object]] = [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        ]
        if bind:
            # RFC 5816: the ESS signing-certificate-v2 attribute binds the token to this certificate.
            cert_id = {
                "hash_algorithm": {"algorithm": "sha256"},
                "cert_hash": hashlib.sha256(certificate_der).digest(),
            }
            attributes.append({"type": "signing_certificate_v2", "values": [{"certs": [cert_id]}]})
        signed_attrs = cms.CMSAttributes(attributes)
        signature = self.key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": certificate.issuer, "serial_number": certificate.serial_number},
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
            "signer_infos": [signer],
        }
        if include_certificate:
            signed_data["certificates"] = [certificate]
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


def _altered(query: bytes, how: Misbehaviour) -> bytes:
    """The request as a misbehaving TSA would have read it: another nonce, or another hash."""
    request = tsp.TimeStampReq.load(query)
    fields = {name: request[name] for name in ("version", "message_imprint", "cert_req")}
    if how == "other_nonce":
        fields["nonce"] = request["nonce"].native + 1
    else:
        fields["nonce"] = request["nonce"]
        digest = bytes(byte ^ 0xFF for byte in request["message_imprint"]["hashed_message"].native)
        fields["message_imprint"] = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest}
    return bytes(tsp.TimeStampReq(fields).dump())


class _Rejection(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """A TimeStampResp without its token: asn1crypto's model requires the token RFC 3161 omits."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 (asn1crypto's declaration style)


def _rejection(failure: str, text: str) -> bytes:
    status = {"status": "rejection", "status_string": [text], "fail_info": {failure}}
    return bytes(_Rejection({"status": status}).dump())


@dataclass
class LocalTsa:
    port: int = 0
    data_dir: Path | None = None
    host: str = "127.0.0.1"
    url: str = ""
    requests: int = 0
    _misbehaviour: list[Misbehaviour] = field(default_factory=list)
    _identity: TsaIdentity | None = None
    _runner: web.AppRunner | None = field(default=None, repr=False)

    @property
    def identity(self) -> TsaIdentity:
        if self._identity is None:
            raise RuntimeError("LocalTsa is not started")
        return self._identity

    @property
    def root_pem(self) -> bytes:
        return self.identity.root.public_bytes(serialization.Encoding.PEM)

    def refuse_next(self, n: int = 1) -> None:
        self._misbehaviour += ["refuse"] * n

    def misbehave_next(self, how: Misbehaviour) -> None:
        """The next request is answered wrongly, as a broken or hostile TSA would."""
        self._misbehaviour.append(how)

    async def _stamp(self, request: web.Request) -> web.Response:
        if request.content_type != "application/timestamp-query":
            return web.Response(status=415, text="expected application/timestamp-query")
        self.requests += 1
        query = await request.read()
        how = self._misbehaviour.pop(0) if self._misbehaviour else None
        if how == "refuse":
            reply = _rejection("system_failure", "the time source is unavailable")
        elif how == "oversized":
            reply = b"\x30" * (1 << 20)
        elif how == "unbound":
            reply = self.identity.respond(query, bind_certificate=False)
        else:
            reply = self.identity.respond(_altered(query, how) if how is not None else query)
        return web.Response(body=reply, content_type="application/timestamp-reply")

    async def start(self) -> None:
        self._identity = (
            TsaIdentity.load_or_create(self.data_dir) if self.data_dir is not None else TsaIdentity.generate()
        )
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/{tail:.*}", self._stamp)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
