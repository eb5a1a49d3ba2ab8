"""Whether a re-check's answer says the content is gone.

A removed post answers 404 or 410 (451 where it is withheld by law), or 200 with the platform's
own "content unavailable" page, which Facebook, Instagram, X, TikTok and YouTube all show rather
than an error status. The pages are recognised by their words, per platform, in the languages
Pantau's fetcher is answered in (English by default, Indonesian when the platform localises by
the address). A marker is a plain phrase: the page's HTML is searched, its entities decoded.
"""

import html
from dataclasses import dataclass

from pantau_shared.contract import Platform
from pantau_shared.contract.takedowns import RecheckOutcome, RemovalKind
from pantau_shared.fetching import Exchange

GONE_STATUSES = {404: RemovalKind.NOT_FOUND, 410: RemovalKind.GONE, 451: RemovalKind.LEGAL_BLOCK}
# Only the start of a page is searched: the notices are in its first part, and a live page can
# be megabytes of script.
SEARCHED_BYTES = 512 * 1024


@dataclass(frozen=True)
class UnavailableMarker:
    platform: Platform
    phrase: str


UNAVAILABLE_MARKERS: tuple[UnavailableMarker, ...] = (
    UnavailableMarker(Platform.FACEBOOK, "This content isn't available right now"),
    UnavailableMarker(Platform.FACEBOOK, "This content isn't available at the moment"),
    UnavailableMarker(Platform.FACEBOOK, "Konten Ini Tidak Tersedia Saat Ini"),
    UnavailableMarker(Platform.INSTAGRAM, "Sorry, this page isn't available."),
    UnavailableMarker(Platform.INSTAGRAM, "Maaf, halaman ini tidak tersedia."),
    UnavailableMarker(Platform.X, "This post is unavailable"),
    UnavailableMarker(Platform.X, "Hmm...this page doesn't exist"),
    UnavailableMarker(Platform.X, "This Tweet was deleted"),
    UnavailableMarker(Platform.TIKTOK, "Video currently unavailable"),
    UnavailableMarker(Platform.TIKTOK, "Video saat ini tidak tersedia"),
    UnavailableMarker(Platform.YOUTUBE, "Video unavailable"),
    UnavailableMarker(Platform.YOUTUBE, "This video has been removed"),
    UnavailableMarker(Platform.YOUTUBE, "Video tidak tersedia"),
    UnavailableMarker(Platform.TELEGRAM, "Post not found"),
)


def markers_for(platform: Platform) -> tuple[str, ...]:
    """The phrases of `platform`; a link of no known platform is judged by all of them."""
    if platform in (Platform.WEB, Platform.UNKNOWN):
        return tuple(m.phrase for m in UNAVAILABLE_MARKERS)
    return tuple(m.phrase for m in UNAVAILABLE_MARKERS if m.platform is platform)


@dataclass(frozen=True)
class Verdict:
    outcome: RecheckOutcome
    removal_kind: RemovalKind | None = None
    detail: str | None = None


def judge(answer: Exchange, platform: Platform) -> Verdict:
    """The final answer of a re-check (after redirects) read for removal."""
    kind = GONE_STATUSES.get(answer.status)
    if kind is not None:
        return Verdict(RecheckOutcome.REMOVED, kind, f"HTTP {answer.status}")
    if 200 <= answer.status < 300:
        page = _normalised(html.unescape(answer.body[:SEARCHED_BYTES].decode("utf-8", "replace")))
        for phrase in markers_for(platform):
            if _normalised(phrase) in page:
                return Verdict(
                    RecheckOutcome.REMOVED, RemovalKind.UNAVAILABLE_PAGE, f"halaman platform: {phrase!r}"
                )
        return Verdict(RecheckOutcome.LIVE)
    # Any other answer (a 5xx, a 403 of a login wall, a 429) says nothing either way.
    return Verdict(RecheckOutcome.FAILED, detail=f"HTTP {answer.status}: tidak menentukan")


def _normalised(text: str) -> str:
    # Platforms write the apostrophe straight or curly (U+2019), some with non-breaking spaces.
    return " ".join(text.replace("\u2019", "'").replace("\u00a0", " ").casefold().split())
