"""The election calendar and the registries applied to one report: who posted, and when.

What a post means depends on its author and its moment: campaign content from a registered
participant's account in the quiet period is itself a violation (UU 7/2017 art. 276, 492), and
a civil servant's or village official's campaign post is a neutrality breach (art. 280(2)-(3)).
"""

from dataclasses import dataclass, field

from pantau_shared.contract import Category, CategoryScore, ReportReceived
from pantau_shared.postgres import Connection

from .elections import Calendar
from .nlp.rules import cite
from .registries import HandleError, handle_from_url, normalise_handle, normalise_platform
from .registry_store import Lookalike, RegisteredAccount, WatchedOfficial, lookalikes, lookup

AUTHOR_POINTS = 10.0
LOOKALIKE_POINTS = 10.0
QUIET_POINTS = 15.0
QUIET_STAGES = {"quiet": "masa tenang", "voting_day": "hari pemungutan suara"}


@dataclass(frozen=True)
class Assessment:
    categories: list[CategoryScore]
    # Extra priority points with the reason each one adds.
    factors: list[tuple[float, str]] = field(default_factory=list)


class ElectionRules:
    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar

    async def assess(
        self,
        conn: Connection,
        report: ReportReceived,
        categories: list[CategoryScore],
        campaign_cues: tuple[str, ...],
    ) -> Assessment:
        found = {c.category: c for c in categories}
        factors: list[tuple[float, str]] = []
        at = report.submitted_at
        for stage in self._calendar.stage(report.region_code, at):
            if stage.stage in QUIET_STAGES:
                factors.append(
                    (QUIET_POINTS, f"{QUIET_STAGES[stage.stage].capitalize()} {stage.election_name}")
                )
        author, similar = await self._author(conn, report)
        if isinstance(author, RegisteredAccount):
            factors.append((AUTHOR_POINTS, f"Akun resmi peserta: {author.participant} ({author.party})"))
            for violation in self._calendar.campaign_violations(
                report.region_code or author.region_code, at, election_id=author.election_id
            ):
                _keep(found, Category.KAMPANYE_LUAR_JADWAL, 0.9, violation.reason)
        elif isinstance(author, WatchedOfficial):
            factors.append(
                (AUTHOR_POINTS, f"Akun yang diawasi: {author.role} {author.name} ({author.institution})")
            )
            if campaign_cues or Category.POLITIK_UANG in found:
                _keep(
                    found,
                    Category.NETRALITAS_ASN,
                    0.9,
                    f"{author.role} {author.name} ({author.institution}) memuat konten "
                    f"kampanye: {', '.join(campaign_cues[:3]) or 'politik uang'}",
                )
        elif campaign_cues:
            for violation in self._calendar.campaign_violations(report.region_code, at):
                _keep(
                    found,
                    Category.KAMPANYE_LUAR_JADWAL,
                    0.6,
                    cite(violation.reason, campaign_cues),
                )
        if similar:
            factors.append((LOOKALIKE_POINTS, f"{similar[0].reason} (perlu ditinjau)"))
        return Assessment(sorted(found.values(), key=lambda c: c.score, reverse=True), factors)

    async def _author(
        self, conn: Connection, report: ReportReceived
    ) -> tuple[RegisteredAccount | WatchedOfficial | None, list[Lookalike]]:
        target = handle_from_url(report.canonical_url) if report.canonical_url else None
        if target is None and report.author_handle and report.platform.value not in ("unknown", "web"):
            try:
                platform = normalise_platform(report.platform.value)
                target = (platform, normalise_handle(platform, report.author_handle))
            except (HandleError, ValueError):
                target = None
        if target is None:
            return None, []
        platform, handle = target
        author = await lookup(conn, platform, handle)
        if author is not None:
            return author, []
        return None, await lookalikes(conn, platform, handle, limit=1)


def _keep(found: dict[Category, CategoryScore], category: Category, score: float, reason: str) -> None:
    current = found.get(category)
    if current is None or current.score < score:
        found[category] = CategoryScore(category=category, score=score, reason=reason)
