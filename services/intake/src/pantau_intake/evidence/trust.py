"""Trusted time on evidence: an RFC 3161 timestamp on each item's SHA-256 from the configured
authority (`pantau_shared.timestamping`), verified against the trusted roots when read.

Without a configured authority items are recorded as `not_timestamped`: said plainly, never
faked with a local clock."""

from dataclasses import dataclass, field
from datetime import datetime

from pantau_shared.timestamping import Timestamp, Timestamper, TimestampInvalid, verify


@dataclass
class Trust:
    stamper: Timestamper | None = None
    roots_pem: list[bytes] = field(default_factory=list)

    @property
    def state_of_new(self) -> str:
        return "pending" if self.stamper is not None else "not_timestamped"

    async def stamp(self, sha256: str) -> Timestamp:
        """Raises TimestampFailed; only called with a stamper."""
        assert self.stamper is not None
        return await self.stamper.stamp(sha256)

    def verified(self, token: bytes | None, sha256: str | None) -> tuple[bool | None, datetime | None]:
        """Whether a stored token proves the hash (None: no token to check)."""
        if token is None or sha256 is None:
            return None, None
        try:
            return True, verify(token, sha256, self.roots_pem)
        except TimestampInvalid:
            return False, None

    async def aclose(self) -> None:
        if self.stamper is not None:
            await self.stamper.aclose()
