from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from pantau_intake.monitoring.budgets import DAY_PACIFIC, FIFTEEN_MINUTES
from pantau_intake.monitoring.connectors import FetchedPost
from pantau_intake.monitoring.coverage import forecast
from pantau_intake.monitoring.cursors import Seen
from pantau_intake.monitoring.schedule import Backoff
from pantau_intake.settings import IntakeSettings, MonitoredAgency, MonitoringSettings
from pantau_shared.contract import Platform

T0 = datetime(2024, 2, 11, 3, 0, tzinfo=UTC)


def test_the_slo_interval_follows_the_calendar_stage_and_priority() -> None:
    settings = MonitoringSettings()
    assert settings.interval("campaign") == timedelta(hours=6)
    assert settings.interval("quiet") == settings.interval("voting_day") == timedelta(hours=1)
    assert settings.interval("campaign", priority=True) == timedelta(hours=2)
    assert settings.interval("a stage nobody named") == timedelta(hours=24)


def test_monitoring_is_off_without_a_credential_and_bad_settings_are_refused() -> None:
    assert MonitoredAgency(regions=["33.75"]).platforms() == []
    agency = MonitoredAgency(
        regions=["33.75"], youtube_api_key=SecretStr("k"), feeds=["https://a.example/rss"]
    )
    assert agency.platforms() == ["youtube", "web"]
    with pytest.raises(ValidationError):
        MonitoredAgency(youtube_daily_units=0)
    with pytest.raises(ValidationError):
        IntakeSettings(monitoring={"priority_factor": 0.5})


def test_backoff_doubles_per_failure_up_to_its_longest() -> None:
    backoff = Backoff(base_s=60, longest_s=300)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 4, 9)] == [60, 120, 240, 300, 300]


def test_the_youtube_key_cannot_cover_a_regency_every_six_hours_and_the_forecast_says_what_would() -> None:
    key = MonitoredAgency(youtube_api_key=SecretStr("k"))
    lombok_barat = forecast(Platform.YOUTUBE, 13_100, 0, timedelta(hours=6), 3.0, key)
    assert not lombok_barat.enough
    assert lombok_barat.units_per_day_needed == 52_400  # 13,100 channels x 4 checks x 1 unit
    assert lombok_barat.credentials_needed == 6 and lombok_barat.coverable_accounts == 2_500
    assert lombok_barat.shortest_interval_s == pytest.approx(13_100 * 86_400 / 10_000)
    assert "tidak cukup" in lombok_barat.summary and "52.400" in lombok_barat.summary
    assert "6 kredensial" in lombok_barat.summary and "31,4 jam" in lombok_barat.summary

    small = forecast(Platform.YOUTUBE, 1_000, 100, timedelta(hours=6), 3.0, key)
    assert small.enough and small.units_per_day_needed == (1_000 + 200) * 4
    x = forecast(
        Platform.X, 13_100, 0, timedelta(hours=1), 3.0, MonitoredAgency(x_bearer_token=SecretStr("t"))
    )
    # 1,500 requests per 15 minutes: 144,000 a day, less than 13,100 accounts every hour.
    assert x.units_per_day_available == 144_000 and x.credentials_needed == 3 and not x.enough


def _post(post_id: str, minutes: int) -> FetchedPost:
    return FetchedPost(post_id, T0 + timedelta(minutes=minutes), b"{}")


def test_seen_posts_are_not_new_again_even_at_the_same_second() -> None:
    first = Seen().new([_post("b", 5), _post("a", 5), _post("old", -999)], since=T0 - timedelta(hours=1))
    assert [p.post_id for p in first] == ["a", "b"]
    seen = Seen().advance(first)
    assert seen == Seen(after=T0 + timedelta(minutes=5), ids=("a", "b"))
    again = seen.new([_post("a", 5), _post("b", 5), _post("c", 5), _post("d", 6), _post("e", 1)])
    assert [p.post_id for p in again] == ["c", "d"]
    assert seen.advance(again) == Seen(after=T0 + timedelta(minutes=6), ids=("d",))
    assert seen.advance([_post("c", 5)]).ids == ("a", "b", "c")


def test_quota_windows_reset_at_midnight_pacific_and_every_fifteen_minutes() -> None:
    start, end = DAY_PACIFIC.bounds(T0)  # 19:00 Pacific the day before
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (T0.replace(day=10, hour=8), T0.replace(hour=8))
    start, end = FIFTEEN_MINUTES.bounds(T0 + timedelta(minutes=17))
    assert (start, end) == (T0 + timedelta(minutes=15), T0 + timedelta(minutes=30))
