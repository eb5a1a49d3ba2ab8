"""The election calendar and the registries applied to one report: who posted, and when.

What a post means depends on its author and its moment: campaign content from a registered
participant's account in the quiet period is itself a violation (UU 7/2017 art. 276, 492), and
a civil servant's or village official's campaign post is a neutrality breach (art. 280(2)-(3)).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from pantau_shared.contract import Category, CategoryScore, ReportReceived
from pantau_shared.postgres import Connection

from .elections import Calendar
from .nlp.rules import cite
from .registries import HandleError, handle_from_url, normalise_handle, normalise_platform
from .registry_store import Lookalike, RegisteredAccount, WatchedOfficial, lookalikes_many, lookup_many

AUTHOR_POINTS = 10.0
LOOKALIKE_POINTS = 10.0
QUIET_POINTS = 15.0
QUIET_STAGES = {"quiet": "masa tenang", "voting_day": "hari pemungutan suara"}


@dataclass(frozen=True)
class Assessment:
    categories: list[CategoryScore]
    # Extra priority points with the reason each one adds.
    factors: list[tuple[float, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Author:
    """Who posted, as far as the registries know: a participant's account or a watched
    official, else the registered accounts the handle imitates (at most one)."""

    account: RegisteredAccount | WatchedOfficial | None = None
    similar: tuple[Lookalike, ...] = ()


class ElectionRules:
    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar

    async def authors(self, conn: Connection, reports: Sequence[ReportReceived]) -> list[Author]:
        """The registries' answer for each report's author: a few statements for the whole
        batch (exact look-ups, then look-alikes of the handles no registry has)."""
        targets = [_target(report) for report in reports]
        wanted = list(dict.fromkeys(t for t in targets if t is not None))
        if not wanted:
            return [Author() for _ in reports]
        accounts = dict(zip(wanted, await lookup_many(conn, wanted), strict=True))
        unknown = [t for t in wanted if accounts[t] is None]
        similar = dict(zip(unknown, await lookalikes_many(conn, unknown, limit=1), strict=True))
        return [
            Author(accounts[t], tuple(similar.get(t, ()))) if t is not None else Author() for t in targets
        ]

    def assess(
        self,
        report: ReportReceived,
        categories: list[CategoryScore],
        campaign_cues: tuple[str, ...],
        author: Author,
    ) -> Assessment:
        found = {c.category: c for c in categories}
        factors: list[tuple[float, str]] = []
        at = report.submitted_at
        for stage in self._calendar.stage(report.region_code, at):
            if stage.stage in QUIET_STAGES:
                factors.append(
                    (QUIET_POINTS, f"{QUIET_STAGES[stage.stage].capitalize()} {stage.election_name}")
                )
        account = author.account
        if isinstance(account, RegisteredAccount):
            factors.append((AUTHOR_POINTS, f"Akun resmi peserta: {account.participant} ({account.party})"))
            for violation in self._calendar.campaign_violations(
                report.region_code or account.region_code, at, election_id=account.election_id
            ):
                _keep(found, Category.KAMPANYE_LUAR_JADWAL, 0.9, violation.reason)
        elif isinstance(account, WatchedOfficial):
            factors.append(
                (AUTHOR_POINTS, f"Akun yang diawasi: {account.role} {account.name} ({account.institution})")
            )
            if campaign_cues or Category.POLITIK_UANG in found:
                _keep(
                    found,
                    Category.NETRALITAS_ASN,
                    0.9,
                    f"{account.role} {account.name} ({account.institution}) memuat konten "
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
        if author.similar:
            factors.append((LOOKALIKE_POINTS, f"{author.similar[0].reason} (perlu ditinjau)"))
        return Assessment(sorted(found.values(), key=lambda c: c.score, reverse=True), factors)


def _target(report: ReportReceived) -> tuple[str, str] | None:
    """The (platform, handle) the report's link or author names, if any."""
    target = handle_from_url(report.canonical_url) if report.canonical_url else None
    if target is None and report.author_handle and report.platform.value not in ("unknown", "web"):
        try:
            platform = normalise_platform(report.platform.value)
            target = (platform, normalise_handle(platform, report.author_handle))
        except (HandleError, ValueError):
            target = None
    return target


def _keep(found: dict[Category, CategoryScore], category: Category, score: float, reason: str) -> None:
    current = found.get(category)
    if current is None or current.score < score:
        found[category] = CategoryScore(category=category, score=score, reason=reason)
