"""The part of a connector's cursor that says which posts were seen, for platforms that cannot
be asked "only what is newer than X" (feeds, YouTube playlists, TikTok's date windows, the Graph
API's `since` in whole seconds): the newest post time seen, and the ids seen at that time.

A post is new when it is later than that time, or at that time and not among those ids. Posts
are stored under a stable observation id too, so a post that slips through here twice is still
kept once; this only saves work and keeps the counts honest.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

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
