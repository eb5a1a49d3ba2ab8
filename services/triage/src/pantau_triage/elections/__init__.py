"""Election calendars as data: which stage each election is in, per region and local time."""

from .calendar import Calendar, CalendarError, Schedule, ScheduleViolation, Stage

__all__ = ["Calendar", "CalendarError", "Schedule", "ScheduleViolation", "Stage"]
