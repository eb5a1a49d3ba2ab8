"""Personal data that crosses the bus sealed: readable by intake alone.

A submission's reporter (name, email address, phone number) and the contact cards they passed
on are personal data (UU 27/2022). Streams keep messages for weeks (REPORTS 30 days, DEADLETTER
180) and every consumer of a stream can read them, so publishers seal these fields to intake's
public key (`pantau_shared.sealing`) and only intake, which keeps contacts apart, opens them.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
_BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"


class SealedBox(BaseModel):
    """A libsodium sealed box (X25519, XSalsa20-Poly1305, a fresh key pair per box) to the
    intake key `key_id`: the first 8 bytes of the SHA-256 of that public key, in hex, so intake
    knows which of its keys opens it while keys rotate."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key_id: Annotated[str, Field(pattern=KEY_ID_PATTERN, examples=["3f9c2a1b0d4e5f60"])]
    box: Annotated[str, Field(pattern=_BASE64_PATTERN, max_length=131_072, description="Base64")]
