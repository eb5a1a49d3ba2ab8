"""Identifiers that sort by creation time, so indexes stay append-mostly and logs read in order."""

import os
import time
import uuid


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    unix_ms = time.time_ns() // 1_000_000
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def stable_id(namespace: str, name: str) -> uuid.UUID:
    """A deterministic id, so a retried request or a redelivered message maps to the same record."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"pantau:{namespace}:{name}")
