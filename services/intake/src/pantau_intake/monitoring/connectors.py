"""What a platform connector gives the collector, and how it says an account cannot be read."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pantau_shared.contract import Platform


@dataclass(frozen=True, slots=True)
class FetchedPost:
    post_id: str
    posted_at: datetime
    # The platform's answer for this post exactly as fetched: hashed as evidence.
    raw: bytes
    url: str | None = None
    text: str | None = None
    reach: int | None = None
    media_sha256: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fetched:
    """New posts since the cursor, and the cursor to keep once they are stored."""

    posts: tuple[FetchedPost, ...]
    cursor: str | None
    handle: str | None = None
    reach: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


class AccountGone(Exception):
    """The platform says the account no longer exists (deleted, suspended, renamed away)."""


class AccountPrivate(Exception):
    """The account exists but its posts cannot be read with the agency's credentials."""


class RateLimited(Exception):
    """The platform or the credential's quota says wait; not the account's fault."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited for {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class Connector(Protocol):
    platform: Platform

    async def fetch(self, account_id: str, cursor: str | None) -> Fetched:
        """The account's posts newer than `cursor` (None: the first look), oldest first."""
        ...
