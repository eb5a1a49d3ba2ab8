"""Sealed boxes: a submission's personal data crosses the bus readable by intake alone.

Publishers of `report.submitted` (the gateway's API and WhatsApp webhook, intake's mail channel)
seal the reporter and the contact cards to intake's public key with a libsodium sealed box
(PyNaCl): anyone holding the public key can seal, only a holder of the private key can open,
and the sender cannot open what it sealed. Intake holds a list of private keys, so a key can be
rotated: add the new key first, move the publishers to its public key, drop the old key once no
message sealed to it is left on a stream (REPORTS 30 days, DEADLETTER 180). See
`docs/reporter-contacts.md`.
"""

import base64
import binascii
import hashlib
from collections.abc import Sequence

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from pydantic import ValidationError

from .contract import ReportSubmitted
from .contract.events import PersonalData
from .contract.reasons import reasons
from .contract.sealed import SealedBox as SealedField

# Development and tests only: production settings refuse them (`pantau_shared.settings`).
DEV_PRIVATE_KEY = "4eMWF2IZcUmnNshloGTv9TkrXyE7AIrGtyhxfLnUSS8="
DEV_PUBLIC_KEY = "ds1h6PIh7tt/yGNw0IZiyuDLnz5FSBNdoAcKexzqd1o="


class UnsealError(Exception):
    """A sealed box intake cannot open: sealed to a key it does not hold, or damaged. Its
    message names the key id, never the content."""


def _key_bytes(encoded: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("a sealing key is 32 bytes in base64") from error
    if len(raw) != 32:
        raise ValueError(f"a sealing key is 32 bytes in base64, not {len(raw)}")
    return raw


def check_public_key(encoded: str) -> str:
    _key_bytes(encoded)
    return encoded.strip()


def check_private_key(encoded: str) -> str:
    _key_bytes(encoded)
    return encoded.strip()


def key_id(public_key: PublicKey) -> str:
    return hashlib.sha256(bytes(public_key)).hexdigest()[:16]


def new_key_pair() -> tuple[str, str]:
    """A new (private, public) key pair in base64."""
    private = PrivateKey.generate()
    return base64.b64encode(bytes(private)).decode(), base64.b64encode(bytes(private.public_key)).decode()


def public_key_of(private_key: str) -> str:
    return base64.b64encode(bytes(PrivateKey(_key_bytes(private_key)).public_key)).decode()


class Sealer:
    """Seals to one intake public key."""

    def __init__(self, public_key: str) -> None:
        self._public = PublicKey(_key_bytes(public_key))
        self._box = SealedBox(self._public)
        self.key_id = key_id(self._public)

    def seal(self, data: PersonalData) -> SealedField:
        box = self._box.encrypt(data.model_dump_json().encode())
        return SealedField(key_id=self.key_id, box=base64.b64encode(box).decode())


class Keyring:
    """Intake's private keys: any of them opens a box sealed to it (found by key id); the
    first is the current one, which intake's own mail channel seals to."""

    def __init__(self, private_keys: Sequence[str]) -> None:
        if not private_keys:
            raise ValueError("intake needs at least one private key to open sealed submissions")
        self._boxes: dict[str, SealedBox[PrivateKey]] = {}
        for encoded in private_keys:
            private = PrivateKey(_key_bytes(encoded))
            self._boxes[key_id(private.public_key)] = SealedBox(private)
        self._current = public_key_of(private_keys[0])

    def sealer(self) -> Sealer:
        return Sealer(self._current)

    def open(self, sealed: SealedField) -> PersonalData:
        box = self._boxes.get(sealed.key_id)
        if box is None:
            raise UnsealError(f"sealed to key {sealed.key_id}, which intake does not hold")
        try:
            plain = box.decrypt(base64.b64decode(sealed.box, validate=True))
        except (CryptoError, binascii.Error, ValueError) as error:
            raise UnsealError(f"sealed box for key {sealed.key_id} cannot be opened") from error
        try:
            return PersonalData.model_validate_json(plain)
        except ValidationError as error:
            raise UnsealError(f"sealed personal data is invalid ({reasons(error)})") from error


def seal_report(report: ReportSubmitted, sealer: Sealer) -> ReportSubmitted:
    """The submission as it is published: reporter and contact cards sealed, none in clear."""
    if report.reporter is None and not report.contacts:
        return report
    sealed = sealer.seal(PersonalData(reporter=report.reporter, contacts=report.contacts))
    return report.model_copy(update={"sealed_personal": sealed, "reporter": None, "contacts": ()})


def open_report(report: ReportSubmitted, keyring: Keyring) -> ReportSubmitted:
    """The submission with its personal data opened; one published before sealing as it is."""
    if report.sealed_personal is None:
        return report
    personal = keyring.open(report.sealed_personal)
    opened = report.model_copy(
        update={"sealed_personal": None, "reporter": personal.reporter, "contacts": personal.contacts}
    )
    try:
        # Checked again whole: a contact card may be all the submission carried.
        return ReportSubmitted.model_validate(opened.model_dump())
    except ValidationError as error:
        raise UnsealError(f"opened submission is invalid ({reasons(error)})") from error


def main() -> None:
    """`python -m pantau_shared.sealing`: a new key pair, as the two settings that take it."""
    private, public = new_key_pair()
    print(f'PANTAU_INTAKE_REPORTER_PRIVATE_KEYS=["{private}"]')
    print(f"PANTAU_GATEWAY_REPORTER_PUBLIC_KEY={public}")


if __name__ == "__main__":
    main()
