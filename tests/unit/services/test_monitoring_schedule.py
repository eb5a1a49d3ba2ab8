from datetime import timedelta

import pytest
from pydantic import ValidationError

from pantau_intake.monitoring.schedule import Backoff
from pantau_intake.settings import IntakeSettings


def test_the_slo_interval_follows_the_election_period() -> None:
    assert IntakeSettings().monitoring_interval() == timedelta(hours=6)
    assert IntakeSettings(monitoring_period="quiet_period").monitoring_interval() == timedelta(hours=1)
    assert IntakeSettings(monitoring_period="voting_day").monitoring_interval() == timedelta(hours=1)


def test_a_period_without_an_interval_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="voting_day"):
        IntakeSettings(monitoring_period="voting_day", monitoring_interval_s={"campaign": 60.0})


def test_backoff_doubles_per_failure_up_to_its_longest() -> None:
    backoff = Backoff(base_s=60, longest_s=300)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 4, 9)] == [60, 120, 240, 300, 300]
