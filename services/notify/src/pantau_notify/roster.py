"""Who is on duty: shifts in the local time of the team's region (WIB, WITA or WIT)."""

from dataclasses import dataclass
from datetime import datetime, time

from pantau_shared.regions import zone_of


@dataclass(frozen=True)
class Shift:
    weekdays: frozenset[int]
    starts: time
    ends: time

    def covers(self, local: datetime) -> bool:
        now = local.time()
        if self.starts <= self.ends:
            return local.isoweekday() in self.weekdays and self.starts <= now < self.ends
        # Overnight: the evening part belongs to the start day, the morning part to the day
        # after it.
        if now >= self.starts:
            return local.isoweekday() in self.weekdays
        yesterday = 7 if local.isoweekday() == 1 else local.isoweekday() - 1
        return now < self.ends and yesterday in self.weekdays


def on_duty(shifts: list[Shift], moment: datetime, region_prefix: str | None) -> bool:
    local = moment.astimezone(zone_of(region_prefix))
    return any(shift.covers(local) for shift in shifts)


def parse_shift(text: str) -> Shift:
    """`1-5 07:00-15:00`, `6,7 23:00-07:00`, or `* 00:00-00:00` (always)."""
    days, _, hours = text.strip().partition(" ")
    if days == "*":
        weekdays = frozenset(range(1, 8))
    elif "-" in days:
        first, last = (int(d) for d in days.split("-"))
        weekdays = frozenset(range(first, last + 1))
    else:
        weekdays = frozenset(int(d) for d in days.split(","))
    if not weekdays or not weekdays <= frozenset(range(1, 8)):
        raise ValueError(f"weekdays must be 1 (Monday) to 7 (Sunday): {text!r}")
    start, _, end = hours.partition("-")
    starts, ends = time.fromisoformat(start), time.fromisoformat(end)
    if starts == ends:  # a whole day
        return Shift(weekdays, time(0, 0), time(23, 59, 59, 999_999))
    return Shift(weekdays, starts, ends)
