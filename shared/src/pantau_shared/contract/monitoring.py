"""Request/reply methods of account monitoring.

`monitoring.watchlist` (triage answers) is how the registered accounts reach intake's schedule:
triage owns the registries (the KPU account list, the officials to watch, the election calendar),
intake owns the schedule, and neither reads the other's schema. Intake pages through the list
for each agency it collects for and keeps its schedule equal to it, so a registry import reaches
the collectors at the next sync, and a sync missed while triage was down is simply done later.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .events import Platform
from .fields import RegionCode
from .rpc import Method, MethodKind, Request

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
MONITORING_METHODS: tuple[Method[Any, Any], ...] = (MONITORING_WATCHLIST,)
