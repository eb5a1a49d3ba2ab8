"""Triage of the posts intake's collectors observe on watched accounts.

Every post is kept (evidence hash, the post's own time, reach, what was found) in the
time-partitioned `observed_posts`; only a post with a finding becomes a report. The checks are
the report path's own: the classifier and claims (`analysis.Analyser`) and the election rules
with the calendar judged at the post's own time (a participant's post in the quiet period, an
official's campaign post, a look-alike of a registered account). A finding is staged as a
`report.received.v1` on channel `monitoring`, in the same transaction that keeps the post, so
it opens or joins a case through triage's one report path (merging, priority, routing, alerts)
and the case's report says it came from monitoring, from which account, posted when.
"""

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast
from uuid import UUID

import asyncpg

from pantau_shared.bus import Answer, Subscription
from pantau_shared.bus.rpc import NotFound
from pantau_shared.contract import (
    Attachment,
    Channel,
    Envelope,
    EventData,
    Platform,
    PostObserved,
    ReportReceived,
    StoredReport,
    stable_id,
)
from pantau_shared.contract.monitoring import (
    MONITORING_CASE_POSTS,
    MONITORING_POSTS,
    MONITORING_REPORT_GET,
    MONITORING_WATCHLIST,
    ObservedPosts,
    ObservedPostView,
    PostsQuery,
)
from pantau_shared.contract.rpc import CaseQuery, ReportQuery
from pantau_shared.outbox import Outbox

from .analysis import Analyser, Analysis
from .claims_registry import ClaimRegistry
from .election_rules import Assessment, Author, ElectionRules
from .elections import Calendar
from .observed_partitions import Partitions
from .watchlist import Watchlists

# A look-alike of a registered account is a finding even when the text says nothing: its
# reason is the one factor the rules mark for review.
LOOKALIKE_MARK = "(perlu ditinjau)"

INSERT = (
    "INSERT INTO observed_posts (observation_id, agency_id, platform, account_id, account_handle, post_id,"
    " url, text, media_sha256, posted_at, observed_at, reach, evidence_sha256, finding, categories, reasons,"
    " report_id, region_code, account_kind)"
    " SELECT o, a, p, acc, h, pid, u, t, string_to_array(m, ' '), pa, oa, r, e, f,"
    "  string_to_array(c, ' '), string_to_array(re, chr(31)), rid, rc, k"
    " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
    "  $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::bigint[], $13::text[],"
    "  $14::bool[], $15::text[], $16::text[], $17::uuid[], $18::text[], $19::text[])"
    "  AS x(o, a, p, acc, h, pid, u, t, m, pa, oa, r, e, f, c, re, rid, rc, k)"
    " ON CONFLICT DO NOTHING RETURNING observation_id"
)


def as_report(post: "PostObserved | StoredPost") -> ReportReceived:
    """The report a post with a finding becomes: submitted when it was posted, received when
    it was observed, by no reporter (so no receipt goes anywhere)."""
    return ReportReceived(
        report_id=stable_id("monitoring.report", str(post.observation_id)),
        agency_id=post.agency_id,
        channel=Channel.MONITORING,
        submitted_at=post.posted_at,
        received_at=post.observed_at,
        text=post.text,
        url=post.url,
        canonical_url=post.url,
        platform=post.platform,
        region_code=post.region_code,
        # The registry's own form of the account, so the rules recognise it even once renamed.
        author_handle=post.account_id if post.account_kind != "feed" else post.account_handle,
        raw_sha256=post.evidence_sha256,
        reach=post.reach,
        external_id=post.post_id[:200],
        attachments=tuple(Attachment(sha256=digest) for digest in post.media_sha256),
    )


def is_finding(assessment: Assessment) -> bool:
    return bool(assessment.categories) or any(LOOKALIKE_MARK in reason for _, reason in assessment.factors)


class ObservedPostsTriage:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        analyser: Analyser,
        claims: ClaimRegistry,
        rules: ElectionRules,
        calendar: Calendar,
        *,
        retention_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._outbox = outbox
        self._analyser = analyser
        self._claims = claims
        self._rules = rules
        self.partitions = Partitions(pool, retention_days, clock=clock)
        self.watchlists = Watchlists(pool, calendar, self.recent_findings, clock=clock)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                durable="triage-observed",
                stream="POSTS",
                subject_suffix=PostObserved.SUBJECT,
                handler=self.post_observed,
                batch=self.posts_observed,
                events=(PostObserved,),
            )
        ]

    def answers(self) -> list[Answer[Any, Any]]:
        return [
            Answer(MONITORING_WATCHLIST, self.watchlists.watchlist),
            Answer(MONITORING_POSTS, self.posts),
            Answer(MONITORING_CASE_POSTS, self.case_posts),
            Answer(MONITORING_REPORT_GET, self.report),
        ]

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        return [self.partitions.run(stopping)]

    async def post_observed(self, envelope: Envelope[EventData]) -> None:
        [outcome] = await self.posts_observed([envelope])
        if outcome is not None:
            raise outcome

    async def posts_observed(self, envelopes: Sequence[Envelope[EventData]]) -> list[BaseException | None]:
        """A fetched batch: one classifier call, one statement for the posts, the findings'
        reports staged in the same transaction. Redelivered posts are kept once and report once."""
        # The subscription takes PostObserved alone.
        observed = [cast(PostObserved, e.data) for e in envelopes]
        await self._claims.refresh(self._pool)
        analyses = self._analyser.analyse([p.text or "" for p in observed])
        analyses = [
            found.with_claims(await self._claims.visible(self._pool, post.agency_id, found.claims))
            for post, found in zip(observed, analyses, strict=True)
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            reports = [as_report(post) for post in observed]
            authors = await self._rules.authors(conn, reports)
            judged = [
                (post, self._judge(report, found, author))
                for post, report, found, author in zip(observed, reports, analyses, authors, strict=True)
            ]
            kept = await conn.fetch(INSERT, *_columns(judged))
            new = {row["observation_id"] for row in kept}
            await self._outbox.stage_many(
                conn, [as_report(post) for post, a in judged if a is not None and post.observation_id in new]
            )
        self._outbox.committed()
        return [None] * len(envelopes)

    def _judge(self, report: ReportReceived, found: Analysis, author: Author) -> Assessment | None:
        """The rules' assessment when something was found, else None."""
        assessment = self._rules.assess(report, found.categories, found.campaign_cues, author)
        return assessment if is_finding(assessment) else None

    async def recent_findings(self, agency_id: str, accounts: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (platform, account) had a finding in the last week: checked more often."""
        if not accounts:
            return set()
        rows = await self._pool.fetch(
            "SELECT DISTINCT platform, account_id FROM observed_posts"
            " WHERE agency_id = $1 AND finding AND observed_at > now() - interval '7 days'"
            "   AND (platform, account_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))",
            agency_id,
            [p for p, _ in accounts],
            [a for _, a in accounts],
        )
        return {(r["platform"], r["account_id"]) for r in rows}

    async def posts(self, agency_id: str, query: PostsQuery) -> ObservedPosts:
        rows = await self._pool.fetch(
            "SELECT o.*, cr.case_id FROM observed_posts o"
            " LEFT JOIN case_reports cr ON cr.report_id = o.report_id"
            " WHERE o.agency_id = $1 AND o.platform = $2 AND o.account_id = $3 AND (o.finding OR NOT $4)"
            " ORDER BY o.posted_at DESC LIMIT $5",
            agency_id,
            query.platform.value,
            query.account_id,
            query.findings_only,
            query.limit,
        )
        return ObservedPosts(posts=[ObservedPostView.model_validate(dict(r)) for r in rows])

    async def report(self, agency_id: str, query: ReportQuery) -> StoredReport:
        """The report a finding became, exactly as it was published: intake never saw it, so
        `GET /v1/reports/{id}` asks here when intake knows no such report."""
        row = await self._pool.fetchrow(
            "SELECT * FROM observed_posts WHERE report_id = $1 AND agency_id = $2", query.report_id, agency_id
        )
        if row is None:
            raise NotFound(f"tidak ada laporan {query.report_id}")
        # Never withdrawn: a post its author deleted is a takedown's business, not a reporter's.
        return StoredReport.model_validate(as_report(StoredPost.of(row)).model_dump())

    async def case_posts(self, agency_id: str, query: CaseQuery) -> ObservedPosts:
        rows = await self._pool.fetch(
            "SELECT o.*, cr.case_id FROM observed_posts o JOIN case_reports cr ON cr.report_id = o.report_id"
            " WHERE o.agency_id = $1 AND cr.case_id = $2 ORDER BY o.posted_at",
            agency_id,
            query.case_id,
        )
        return ObservedPosts(posts=[ObservedPostView.model_validate(dict(r)) for r in rows])


@dataclass(frozen=True, slots=True)
class StoredPost:
    """An observed post as `observed_posts` keeps it: what `as_report` reads of a post."""

    observation_id: UUID
    agency_id: str
    platform: Platform
    account_id: str
    account_handle: str | None
    account_kind: Literal["participant", "official", "feed"] | None
    post_id: str
    url: str | None
    text: str | None
    media_sha256: tuple[str, ...]
    posted_at: datetime
    observed_at: datetime
    reach: int | None
    evidence_sha256: str
    region_code: str | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> "StoredPost":
        values = {name: row[name] for name in cls.__slots__}
        return cls(
            **values | {"platform": Platform(row["platform"]), "media_sha256": tuple(row["media_sha256"])}
        )


def _columns(judged: list[tuple[PostObserved, Assessment | None]]) -> list[list[Any]]:
    return [
        [p.observation_id for p, _ in judged],
        [p.agency_id for p, _ in judged],
        [p.platform.value for p, _ in judged],
        [p.account_id for p, _ in judged],
        [p.account_handle for p, _ in judged],
        [p.post_id for p, _ in judged],
        [p.url for p, _ in judged],
        [p.text for p, _ in judged],
        [" ".join(p.media_sha256) for p, _ in judged],
        [p.posted_at for p, _ in judged],
        [p.observed_at for p, _ in judged],
        [p.reach for p, _ in judged],
        [p.evidence_sha256 for p, _ in judged],
        [a is not None for _, a in judged],
        [" ".join(c.category.value for c in a.categories) if a else "" for _, a in judged],
        [
            chr(31).join([c.reason for c in a.categories] + [r for _, r in a.factors]) if a else ""
            for _, a in judged
        ],
        [as_report(p).report_id if a is not None else None for p, a in judged],
        [p.region_code for p, _ in judged],
        [p.account_kind for p, _ in judged],
    ]


class WithObserved:
    """Triage's handlers with the observed-post path beside them: one table for the runtime."""

    def __init__(self, triage: Any, observed: ObservedPostsTriage) -> None:
        self._triage = triage
        self._observed = observed

    def subscriptions(self) -> list[Subscription]:
        return [*self._triage.subscriptions(), *self._observed.subscriptions()]

    def answers(self) -> list[Answer[Any, Any]]:
        return [*self._triage.answers(), *self._observed.answers()]

    def streams(self) -> Any:
        return getattr(self._triage, "streams", list)()

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        inner: list[Coroutine[Any, Any, None]] = getattr(self._triage, "background", lambda _: [])(stopping)
        return [*inner, *self._observed.background(stopping)]
