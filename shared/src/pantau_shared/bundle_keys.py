"""The keys that sign evidence bundles: Ed25519, in the text forms openssl reads.

The private key is PEM PKCS#8 (`openssl pkey -in KEY -pubout` prints its public half); the
public key is PEM SubjectPublicKeyInfo, or its 32 raw bytes in hex, which is short enough to
print on a letterhead or read over the phone. The fingerprint is the SHA-256 of the raw public
key, in groups of four hex digits, for comparing out of band.
"""

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KeyPair",
    "fingerprint",
    "generate_key_pair",
    "load_signing_key",
    "public_key_from_text",
    "public_key_pem",
    "raw_public_key",
]


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes
    public_hex: str


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(raw: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(raw: bytes) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def generate_key_pair() -> KeyPair:
    key = Ed25519PrivateKey.generate()
    raw = raw_public_key(key)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(private_pem=private_pem, public_pem=public_key_pem(raw), public_hex=raw.hex())


def load_signing_key(pem: bytes | str) -> Ed25519PrivateKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise ValueError("a bundle signing key is an Ed25519 private key in PEM (PKCS#8)") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("a bundle signing key is an Ed25519 private key in PEM (PKCS#8)")
    return key


def public_key_from_text(text: str) -> bytes:
    """32 raw bytes from 64 hex digits or a PEM public key; ValueError otherwise."""
    stripped = text.strip()
    if "-----BEGIN" in stripped:
        try:
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm) as error:
            raise ValueError("not a PEM public key") from error
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return raw_public_key(key)
    compact = stripped.replace(" ", "").replace(":", "").lower()
    try:
        raw = bytes.fromhex(compact)
    except ValueError as error:
        raise ValueError("an Ed25519 public key is 64 hex digits or PEM") from error
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 64 hex digits or PEM")
    return raw
