"""Election calendars loaded from TOML: the stage of each election for a region at a moment.

Each election has schedules per region scope (a Kemendagri code prefix, '' for the whole
country). For a region the matching scopes are merged from the shortest prefix to the longest,
so a regional entry overrides the national one and may leave out the dates it keeps. Dates are
local dates, read in the region's own time zone (WIB, WITA, WIT).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Literal, Self

from pantau_shared.regions import zone_of

StageName = Literal["before_campaign", "campaign", "quiet", "voting_day", "after"]
Kind = Literal["pemilu", "pilkada"]

_DATE_FIELDS = ("campaign_start", "campaign_end", "quiet_start", "quiet_end", "voting_day")
_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_DASH = "\u2013"


class CalendarError(ValueError):
    """A calendar file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Schedule:
    """The dates one election keeps in one region scope (all bounds inclusive, local dates)."""

    region: str
    campaign_start: date
    campaign_end: date
    quiet_start: date
    quiet_end: date
    voting_day: date
    note: str = ""

    def stage_on(self, day: date) -> StageName:
        if day < self.campaign_start:
            return "before_campaign"
        if day <= self.campaign_end:
            return "campaign"
        if day <= self.quiet_end:
            return "quiet"
        if day == self.voting_day:
            return "voting_day"
        return "after"


@dataclass(frozen=True)
class Stage:
    election_id: str
    election_name: str
    kind: Kind
    stage: StageName
    schedule: Schedule
    local_day: date


@dataclass(frozen=True)
class ScheduleViolation:
    """Campaign content at a moment its election forbids it; `reason` is for people to read."""

    election_id: str
    stage: StageName
    reason: str


@dataclass
class _Election:
    id: str
    name: str
    kind: Kind
    scopes: dict[str, dict[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class Calendar:
    elections: tuple[_Election, ...]
    # (election id, region) -> its merged schedule: asked for every report, and resolving it
    # (sorting the covering scopes, merging them, checking the dates) was most of `stage`.
    # Bounded by the regions reports name.
    _schedules: dict[tuple[str, str], Schedule | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def load(cls, paths: Iterable[Path | str] | None = None) -> Self:
        """Read the given TOML files, or every `data/*.toml` shipped with the package.

        Files may extend one another's elections (same `id`): a later file adds or replaces
        region scopes. Raises CalendarError when an entry is missing a date or the dates are
        out of order for some region.
        """
        if paths is None:
            data = resources.files(__package__).joinpath("data")
            sources = sorted(
                (e.name, e.read_text(encoding="utf-8")) for e in data.iterdir() if e.name.endswith(".toml")
            )
        else:
            sources = [(str(p), Path(p).read_text(encoding="utf-8")) for p in paths]
        elections: dict[str, _Election] = {}
        for name, text in sources:
            try:
                document = tomllib.loads(text)
            except tomllib.TOMLDecodeError as error:
                raise CalendarError(f"{name}: {error}") from error
            for entry in document.get("election", []):
                _merge(elections, entry, name)
        calendar = cls(tuple(elections.values()))
        calendar._validate()
        return calendar

    @property
    def election_ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self.elections)

    def stage(self, region_code: str | None, at: datetime) -> list[Stage]:
        """Every election's stage for the region at `at` (an aware datetime), read in the
        region's time zone; elections with no schedule covering the region are left out."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        day = at.astimezone(zone_of(region_code)).date()
        stages = []
        for election in self.elections:
            key = (election.id, region_code or "")
            if key in self._schedules:
                schedule = self._schedules[key]
            else:
                schedule = self._schedules[key] = _resolve(election, key[1])
            if schedule is not None:
                stages.append(
                    Stage(election.id, election.name, election.kind, schedule.stage_on(day), schedule, day)
                )
        return stages

    def campaign_violations(
        self, region_code: str | None, at: datetime, election_id: str | None = None
    ) -> list[ScheduleViolation]:
        """Why campaign content posted at `at` in the region breaks an election's schedule.

        The quiet period and voting day of any election always count. Campaigning before the
        campaign period counts only for the election the content belongs to (`election_id`, e.g.
        from the participant registry): during Pemilu 2024's campaign, Pilkada 2024 was still
        "before campaign", and that must not turn every Pemilu post into a violation.
        An empty list means the schedule allows campaign content.
        """
        found = []
        for stage in self.stage(region_code, at):
            if election_id is not None and stage.election_id != election_id:
                continue
            forbidden = stage.stage in ("quiet", "voting_day") or (
                stage.stage == "before_campaign" and election_id is not None
            )
            if forbidden:
                found.append(ScheduleViolation(stage.election_id, stage.stage, _reason(stage)))
        return found

    def _validate(self) -> None:
        for election in self.elections:
            for region in election.scopes:
                # Resolving every scope checks that the merged dates are complete and ordered.
                _resolve(election, region or "", strict=True)


def _merge(elections: dict[str, _Election], entry: dict[str, object], source: str) -> None:
    election_id = entry.get("id")
    if not isinstance(election_id, str) or not election_id:
        raise CalendarError(f"{source}: an [[election]] has no id")
    election = elections.get(election_id)
    if election is None:
        name, kind = entry.get("name"), entry.get("kind")
        if not isinstance(name, str) or kind not in ("pemilu", "pilkada"):
            raise CalendarError(
                f"{source}: election {election_id!r} needs a name and a kind (pemilu or pilkada)"
            )
        election = elections[election_id] = _Election(election_id, name, kind)
    for schedule in entry.get("schedule", []):  # type: ignore[attr-defined]  # TOML: checked below
        region = schedule.get("region", "")
        if not isinstance(region, str):
            raise CalendarError(f"{source}: {election_id}: region must be a string")
        for key, value in schedule.items():
            if key in _DATE_FIELDS and (not isinstance(value, date) or isinstance(value, datetime)):
                raise CalendarError(
                    f"{source}: {election_id} [{region or 'nasional'}]: {key} "
                    "must be a date such as 2024-02-14"
                )
        election.scopes[region] = {k: v for k, v in schedule.items() if k != "region"}


def _covers(prefix: str, region: str) -> bool:
    # Kemendagri codes are dotted segments: 52.1 must not cover 52.10.
    return prefix == "" or region == prefix or region.startswith(prefix + ".")


def _resolve(election: _Election, region: str, *, strict: bool = False) -> Schedule | None:
    prefixes = sorted((p for p in election.scopes if _covers(p, region)), key=len)
    if not prefixes:
        return None
    merged: dict[str, object] = {}
    for prefix in prefixes:
        merged.update(election.scopes[prefix])
    where = f"{election.id} [{prefixes[-1] or 'nasional'}]"
    missing = [k for k in _DATE_FIELDS if k not in merged]
    if missing:
        raise CalendarError(f"{where}: missing {', '.join(missing)}")
    dates = {k: merged[k] for k in _DATE_FIELDS}
    schedule = Schedule(region=prefixes[-1], note=str(merged.get("note", "")), **dates)  # type: ignore[arg-type]  # checked dates (_load)
    if strict:
        _check_order(schedule, where)
    return schedule


def _check_order(s: Schedule, where: str) -> None:
    # The stages must tile time: campaign, then the quiet days, then voting day, no gaps.
    one = timedelta(days=1)
    if not (
        s.campaign_start <= s.campaign_end
        and s.quiet_start == s.campaign_end + one
        and s.quiet_start <= s.quiet_end
        and s.voting_day == s.quiet_end + one
    ):
        raise CalendarError(
            f"{where}: dates must run campaign_start <= campaign_end, "
            "quiet_start = the day after campaign_end, quiet_start <= quiet_end, "
            "voting_day = the day after quiet_end"
        )


def format_day(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_range(first: date, last: date) -> str:
    """Indonesian date range: "11-13 Februari 2024", "25 September - 23 November 2024", with an
    en dash as Indonesian typesetting has it."""
    if first == last:
        return format_day(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}{_DASH}{last.day} {_MONTHS[last.month - 1]} {last.year}"
    if first.year == last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} {_DASH} {format_day(last)}"
    return f"{format_day(first)} {_DASH} {format_day(last)}"


def _reason(stage: Stage) -> str:
    s = stage.schedule
    if stage.stage == "quiet":
        text = (
            f"Konten kampanye pada masa tenang {stage.election_name} "
            f"({format_range(s.quiet_start, s.quiet_end)})"
        )
    elif stage.stage == "voting_day":
        text = (
            f"Konten kampanye pada hari pemungutan suara {stage.election_name} ({format_day(s.voting_day)})"
        )
    else:
        text = (
            f"Konten kampanye di luar jadwal: masa kampanye {stage.election_name} baru "
            f"dimulai {format_day(s.campaign_start)} "
            f"({format_range(s.campaign_start, s.campaign_end)})"
        )
    if s.region:
        text += f", jadwal khusus wilayah {s.region}"
    return text
