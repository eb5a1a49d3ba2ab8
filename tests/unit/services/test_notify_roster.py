from datetime import UTC, datetime, time

import pytest

from pantau_notify.roster import Shift, on_duty, parse_shift


def test_shifts_parse_weekday_ranges_lists_and_whole_days() -> None:
    assert parse_shift("1-5 07:00-15:00") == Shift(frozenset({1, 2, 3, 4, 5}), time(7), time(15))
    assert parse_shift("6,7 23:00-07:00").weekdays == frozenset({6, 7})
    always = parse_shift("* 00:00-00:00")
    assert always.weekdays == frozenset(range(1, 8)) and always.covers(datetime(2024, 2, 14, 23, 59))
    for bad in ("0 07:00-15:00", "8 07:00-15:00", "1-5 7-15"):
        with pytest.raises(ValueError):
            parse_shift(bad)


def test_duty_follows_the_local_time_of_the_teams_region() -> None:
    morning = [parse_shift("1-7 07:00-15:00")]
    # 00:30 UTC is 07:30 WIB in Pekalongan and 09:30 WIT in Jayapura.
    moment = datetime(2024, 2, 14, 0, 30, tzinfo=UTC)  # Wednesday
    assert on_duty(morning, moment, "33.75")  # 07:30 WIB
    assert on_duty(morning, moment, "94.71")  # 09:30 WIT
    early = datetime(2024, 2, 13, 23, 30, tzinfo=UTC)  # 06:30 WIB, 07:30 WITA
    assert not on_duty(morning, early, "33.75")
    assert on_duty(morning, early, "52.01")


def test_overnight_shifts_cover_the_morning_after_their_start_day() -> None:
    night = [parse_shift("5 23:00-07:00")]  # Friday night
    saturday_3am_wib = datetime(2024, 2, 16, 20, 0, tzinfo=UTC)
    friday_3am_wib = datetime(2024, 2, 15, 20, 0, tzinfo=UTC)
    friday_11pm_wib = datetime(2024, 2, 16, 16, 0, tzinfo=UTC)
    assert on_duty(night, saturday_3am_wib, "33.75")
    assert not on_duty(night, friday_3am_wib, "33.75")
    assert on_duty(night, friday_11pm_wib, "33.75")
