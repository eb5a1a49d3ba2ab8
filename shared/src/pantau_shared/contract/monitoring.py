"""Request/reply methods of account monitoring.

`monitoring.coverage` and `monitoring.account` (intake answers) read the schedule: when each
account was last checked, its state, the share of active accounts checked within the SLO, and
what the credentials' quotas allow. `monitoring.posts` (triage answers) lists an account's
observed posts with what was found and the case each finding joined.

`monitoring.watchlist` (triage answers) is how the registered accounts reach intake's schedule:
triage owns the registries (the KPU account list, the officials to watch, the election calendar),
intake owns the schedule, and neither reads the other's schema. Intake pages through the list
for each agency it collects for and keeps its schedule equal to it, so a registry import reaches
the collectors at the next sync, and a sync missed while triage was down is simply done later.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .events import AgencyId, Platform
from .fields import RegionCode
from .reads import StoredReport
from .rpc import CaseQuery, Method, MethodKind, ReportQuery, Request

# The election calendar's stage where the agency's regions are now ("none": no election).
Period = Literal["before_campaign", "campaign", "quiet", "voting_day", "after", "none"]


class WatchlistQuery(Request):
    regions: list[RegionCode] = Field(min_length=1, max_length=600, description="Regions the agency watches")
    # Paging: the last (platform, handle) of the previous page.
    after_platform: str = ""
    after_handle: str = ""
    limit: int = Field(default=1000, ge=1, le=5000)


class WatchlistEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: Platform
    handle: str = Field(min_length=1, max_length=200, description="As the registry normalises it")
    kind: Literal["participant", "official"]
    region_code: str = ""
    # An account with findings lately: checked more often.
    priority: bool = False


class Watchlist(BaseModel):
    entries: list[WatchlistEntry]
    # Absent on the last page.
    next_platform: str | None = None
    next_handle: str | None = None
    period: Period = "none"


MONITORING_WATCHLIST = Method(
    "monitoring.watchlist",
    MethodKind.QUERY,
    "triage",
    WatchlistQuery,
    Watchlist,
    "The registered accounts and watched officials of the agency's regions, a page at a time",
)


AccountState = Literal["active", "gone", "private", "failing", "unlisted"]


class CoverageQuery(Request):
    platform: Platform | None = None
    # Accounts listed, those missing the SLO first (most overdue first), then the others.
    limit: int = Field(default=100, ge=0, le=1000)


class AccountCoverage(BaseModel):
    platform: Platform
    account_id: str
    handle: str | None = None
    kind: Literal["participant", "official", "feed"]
    region_code: str = ""
    state: AccountState
    # The platform now gives another name than the registry's (the account id is kept).
    renamed: bool = False
    priority: bool = False
    last_checked_at: AwareDatetime | None = None
    last_success_at: AwareDatetime | None = None
    due_at: AwareDatetime
    within_slo: bool
    # How long past the SLO the last successful check is (0 within it; never checked: since added).
    overdue_s: float = 0.0
    posts_observed: int = 0
    failures: int = 0
    last_error: str | None = None


class PlatformCoverage(BaseModel):
    platform: Platform
    accounts: int
    active: int
    within_slo: int
    gone: int
    private: int
    failing: int
    unlisted: int
    renamed: int


class QuotaForecast(BaseModel):
    """Whether a platform's credentials can check every active account within the SLO."""

    platform: Platform
    accounts: int
    interval_s: float
    # Quota units (YouTube) or requests (X) one check costs at the least.
    units_per_check: float
    units_per_day_needed: float
    units_per_day_available: float
    enough: bool
    # How many accounts the quota covers at this interval, the interval it allows for all of
    # them, and how many credentials of this size the SLO needs.
    coverable_accounts: int
    shortest_interval_s: float | None
    credentials_needed: int
    summary: str


class Coverage(BaseModel):
    agency_id: AgencyId
    at: AwareDatetime
    period: Period
    slo_s: float
    accounts: int
    active: int
    within_slo: int
    share_within_slo: float = Field(ge=0.0, le=1.0)
    platforms: list[PlatformCoverage]
    forecasts: list[QuotaForecast]
    listed: list[AccountCoverage]


class AccountQuery(Request):
    platform: Platform
    account_id: str = Field(min_length=1, max_length=500)


class AccountDetail(BaseModel):
    account: AccountCoverage
    slo_s: float


class PostsQuery(Request):
    platform: Platform
    account_id: str = Field(min_length=1, max_length=500)
    findings_only: bool = False
    limit: int = Field(default=20, ge=1, le=200)


class ObservedPostView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    observation_id: UUID
    platform: Platform
    account_id: str
    post_id: str
    url: str | None = None
    text: str | None = None
    account_handle: str | None = None
    posted_at: datetime
    observed_at: datetime
    reach: int | None = None
    evidence_sha256: str
    media_sha256: list[str] = []
    finding: bool
    categories: list[str] = []
    reasons: list[str] = []
    report_id: UUID | None = None
    case_id: UUID | None = None


class ObservedPosts(BaseModel):
    posts: list[ObservedPostView]


MONITORING_COVERAGE = Method(
    "monitoring.coverage",
    MethodKind.QUERY,
    "intake",
    CoverageQuery,
    Coverage,
    "The share of the agency's active accounts checked within the SLO, the quota forecast, the laggards",
)
MONITORING_ACCOUNT = Method(
    "monitoring.account",
    MethodKind.QUERY,
    "intake",
    AccountQuery,
    AccountDetail,
    "One watched account's schedule",
)
MONITORING_POSTS = Method(
    "monitoring.posts",
    MethodKind.QUERY,
    "triage",
    PostsQuery,
    ObservedPosts,
    "A watched account's last observed posts, with findings and their cases",
)
MONITORING_CASE_POSTS = Method(
    "monitoring.case_posts",
    MethodKind.QUERY,
    "triage",
    CaseQuery,
    ObservedPosts,
    "The observed posts whose findings opened or joined a case: which account, posted when",
)
MONITORING_REPORT_GET = Method(
    "monitoring.report.get",
    MethodKind.QUERY,
    "triage",
    ReportQuery,
    StoredReport,
    "The report a monitoring finding became, as it was published (intake never stores it)",
)
MONITORING_METHODS: tuple[Method[Any, Any], ...] = (
    MONITORING_WATCHLIST,
    MONITORING_COVERAGE,
    MONITORING_ACCOUNT,
    MONITORING_POSTS,
    MONITORING_CASE_POSTS,
    MONITORING_REPORT_GET,
)
