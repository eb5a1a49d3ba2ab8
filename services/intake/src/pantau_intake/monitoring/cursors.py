"""The part of a connector's cursor that says which posts were seen, for platforms that cannot
be asked "only what is newer than X" (feeds, YouTube playlists, TikTok's date windows, the Graph
API's `since` in whole seconds): the newest post time seen, and the ids seen at that time.

A post is new when it is later than that time, or at that time and not among those ids. Posts
are stored under a stable observation id too, so a post that slips through here twice is still
kept once; this only saves work and keeps the counts honest.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict

from .connectors import FetchedPost


class Seen(BaseModel):
    model_config = ConfigDict(frozen=True)

    after: datetime | None = None
    ids: tuple[str, ...] = ()

    def is_new(self, post: FetchedPost, since: datetime | None = None) -> bool:
        if self.after is None:
            return since is None or post.posted_at >= since
        return post.posted_at > self.after or (post.posted_at == self.after and post.post_id not in self.ids)

    def new(self, posts: Iterable[FetchedPost], since: datetime | None = None) -> tuple[FetchedPost, ...]:
        """The new posts, oldest first, each once."""
        unique = {p.post_id: p for p in posts if self.is_new(p, since)}
        return tuple(sorted(unique.values(), key=lambda p: (p.posted_at, p.post_id)))

    def advance(self, new: Sequence[FetchedPost]) -> "Seen":
        if not new:
            return self
        latest = max(p.posted_at for p in new)
        if self.after is not None and latest < self.after:
            return self
        at_latest = {p.post_id for p in new if p.posted_at == latest}
        if latest == self.after:
            at_latest |= set(self.ids)
        return Seen(after=latest, ids=tuple(sorted(at_latest)))


class Paged(BaseModel):
    """A cursor for newest-first pages read down to what was seen: a check that stops at the
    page limit goes on from `resume` next time, so nothing between is skipped, and what it saw
    becomes `seen` only once the older pages are read too (`pending` until then)."""

    model_config = ConfigDict(frozen=True)

    seen: Seen = Seen()
    resume: str | None = None
    pending: Seen | None = None

    def checked(
        self, posts: Sequence[FetchedPost], since: datetime | None, token: str | None, reached: bool
    ) -> tuple[tuple[FetchedPost, ...], Self]:
        """The new posts of this check, and the cursor to keep; `token` is the next page's."""
        new = self.seen.new(posts, since)
        latest = (self.pending or self.seen).advance(new)
        if token is not None and not reached:
            return new, self.model_copy(update={"resume": token, "pending": latest})
        return new, self.model_copy(update={"seen": latest, "resume": None, "pending": None})
