from datetime import datetime
from pathlib import Path

import pytest

from pantau_shared.regions import WIB, WIT, WITA
from pantau_triage.elections import Calendar, CalendarError

DATA = Path(__file__).parents[3] / "services/triage/src/pantau_triage/elections/data"
PEKALONGAN, LOMBOK_BARAT, JAYAPURA = "33.75", "52.01", "91.71"


@pytest.fixture(scope="module")
def calendar() -> Calendar:
    return Calendar.load()


def stages(calendar: Calendar, region: str | None, at: datetime) -> dict[str, str]:
    return {s.election_id: s.stage for s in calendar.stage(region, at)}


def test_ships_pemilu_and_pilkada_2024(calendar: Calendar) -> None:
    assert calendar.election_ids == {"pemilu-2024", "pilkada-2024"}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2023, 11, 27, 23, 59, tzinfo=WIB), "before_campaign"),
        (datetime(2023, 11, 28, 0, 0, tzinfo=WIB), "campaign"),
        (datetime(2024, 2, 10, 23, 30, tzinfo=WIB), "campaign"),
        (datetime(2024, 2, 11, 0, 30, tzinfo=WIB), "quiet"),
        (datetime(2024, 2, 13, 23, 59, tzinfo=WIB), "quiet"),
        (datetime(2024, 2, 14, 7, 0, tzinfo=WIB), "voting_day"),
        (datetime(2024, 2, 15, 0, 0, tzinfo=WIB), "after"),
    ],
)
def test_pemilu_stages_in_wib(calendar: Calendar, at: datetime, expected: str) -> None:
    assert stages(calendar, PEKALONGAN, at)["pemilu-2024"] == expected


def test_the_same_instant_is_quiet_period_in_wita_but_campaign_in_wib(calendar: Calendar) -> None:
    instant = datetime(2024, 2, 10, 23, 30, tzinfo=WIB)  # 00:30 WITA, 01:30 WIT on the 11th
    assert stages(calendar, PEKALONGAN, instant)["pemilu-2024"] == "campaign"
    assert stages(calendar, LOMBOK_BARAT, instant)["pemilu-2024"] == "quiet"
    assert stages(calendar, JAYAPURA, instant)["pemilu-2024"] == "quiet"
    assert stages(calendar, LOMBOK_BARAT, datetime(2024, 2, 11, 0, 30, tzinfo=WITA)) == {
        "pemilu-2024": "quiet",
        "pilkada-2024": "before_campaign",
    }


def test_wit_leaves_the_quiet_period_first(calendar: Calendar) -> None:
    instant = datetime(2024, 11, 26, 23, 30, tzinfo=WIB)  # 01:30 WIT on 27 November
    assert stages(calendar, PEKALONGAN, instant)["pilkada-2024"] == "quiet"
    assert stages(calendar, JAYAPURA, instant)["pilkada-2024"] == "voting_day"
    assert calendar.stage(JAYAPURA, instant)[0].local_day.isoformat() == "2024-11-27"


def test_no_region_reads_the_national_schedule_in_wib(calendar: Calendar) -> None:
    # 01:00 WIT on the 11th is 23:00 WIB on the 10th: still campaign when read in WIB.
    assert stages(calendar, None, datetime(2024, 2, 11, 1, 0, tzinfo=WIT))["pemilu-2024"] == "campaign"


def test_naive_datetimes_are_refused(calendar: Calendar) -> None:
    with pytest.raises(ValueError, match="timezone"):
        calendar.stage(PEKALONGAN, datetime(2024, 2, 11))


def test_quiet_period_content_is_a_violation_with_an_indonesian_reason(calendar: Calendar) -> None:
    [violation] = calendar.campaign_violations(PEKALONGAN, datetime(2024, 2, 12, 9, tzinfo=WIB))
    assert violation.election_id == "pemilu-2024"
    assert violation.stage == "quiet"
    assert violation.reason == "Konten kampanye pada masa tenang Pemilu 2024 (11\u201313 Februari 2024)"


def test_campaign_period_content_is_allowed(calendar: Calendar) -> None:
    assert calendar.campaign_violations(PEKALONGAN, datetime(2024, 2, 10, 23, 30, tzinfo=WIB)) == []
    assert (
        calendar.campaign_violations(
            LOMBOK_BARAT, datetime(2024, 10, 1, tzinfo=WITA), election_id="pilkada-2024"
        )
        == []
    )


def test_voting_day_is_a_violation(calendar: Calendar) -> None:
    [violation] = calendar.campaign_violations(LOMBOK_BARAT, datetime(2024, 11, 27, 8, tzinfo=WITA))
    assert violation.stage == "voting_day"
    assert "hari pemungutan suara Pilkada 2024 (27 November 2024)" in violation.reason


def test_before_campaign_counts_only_for_the_election_the_content_belongs_to(calendar: Calendar) -> None:
    # Pilkada 2024 is "before campaign" all through Pemilu 2024's campaign.
    during_pemilu_campaign = datetime(2024, 1, 5, 10, tzinfo=WIB)
    assert calendar.campaign_violations(PEKALONGAN, during_pemilu_campaign) == []
    assert calendar.campaign_violations(PEKALONGAN, during_pemilu_campaign, election_id="pemilu-2024") == []
    [early] = calendar.campaign_violations(
        PEKALONGAN, datetime(2024, 9, 24, 20, tzinfo=WIB), election_id="pilkada-2024"
    )
    assert early.stage == "before_campaign"
    assert "25 September \u2013 23 November 2024" in early.reason


def test_regional_override_wins_for_its_prefix_only() -> None:
    calendar = Calendar.load([DATA / "pilkada-2024.toml", DATA / "examples/regional-override.toml"])
    at = datetime(2024, 11, 28, 10, tzinfo=WITA)
    assert stages(calendar, LOMBOK_BARAT, at) == {"pilkada-2024": "campaign"}
    assert stages(calendar, "52.01.05.2001", at) == {"pilkada-2024": "campaign"}
    assert stages(calendar, "52.02", at) == {"pilkada-2024": "after"}
    [stage] = calendar.stage(LOMBOK_BARAT, at)
    assert stage.schedule.region == LOMBOK_BARAT
    assert stage.schedule.campaign_start.isoformat() == "2024-09-25"  # inherited from national
    [violation] = calendar.campaign_violations(LOMBOK_BARAT, datetime(2024, 12, 2, tzinfo=WITA))
    assert violation.reason.endswith("(1\u20133 Desember 2024), jadwal khusus wilayah 52.01")


def test_prefixes_match_whole_code_segments(tmp_path: Path) -> None:
    override = tmp_path / "override.toml"
    override.write_text(
        '[[election]]\nid = "pilkada-2024"\n[[election.schedule]]\n'
        'region = "52.1"\nvoting_day = 2024-12-04\nquiet_start = 2024-12-01\n'
        "quiet_end = 2024-12-03\ncampaign_end = 2024-11-30\n"
    )
    calendar = Calendar.load([DATA / "pilkada-2024.toml", override])
    assert calendar.stage("52.10", datetime(2024, 11, 28, tzinfo=WITA))[0].schedule.region == ""


def test_no_calendar_means_no_stage(tmp_path: Path) -> None:
    assert Calendar.load([]).stage(PEKALONGAN, datetime(2024, 2, 12, tzinfo=WIB)) == []
    assert Calendar.load([]).campaign_violations(PEKALONGAN, datetime(2024, 2, 12, tzinfo=WIB)) == []
    regional_only = tmp_path / "regional.toml"
    regional_only.write_text(
        '[[election]]\nid = "pilkada-aceh"\nname = "Pilkada Aceh"\nkind = "pilkada"\n'
        '[[election.schedule]]\nregion = "11"\ncampaign_start = 2024-09-25\n'
        "campaign_end = 2024-11-23\nquiet_start = 2024-11-24\nquiet_end = 2024-11-26\n"
        "voting_day = 2024-11-27\n"
    )
    calendar = Calendar.load([regional_only])
    assert calendar.stage(PEKALONGAN, datetime(2024, 11, 25, tzinfo=WIB)) == []
    assert [s.stage for s in calendar.stage("11.71", datetime(2024, 11, 25, tzinfo=WIB))] == ["quiet"]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "campaign_start = 2024-09-25\ncampaign_end = 2024-11-23\nquiet_start = 2024-11-24\n"
            "quiet_end = 2024-11-26\n",
            "missing voting_day",
        ),
        (
            "campaign_start = 2024-09-25\ncampaign_end = 2024-11-23\nquiet_start = 2024-11-25\n"
            "quiet_end = 2024-11-26\nvoting_day = 2024-11-27\n",
            "day after campaign_end",
        ),
        ('campaign_start = "2024-09-25"\n', "must be a date"),
    ],
)
def test_bad_calendars_are_refused(tmp_path: Path, schedule: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[election]]\nid = "x"\nname = "X"\nkind = "pilkada"\n'
        f'[[election.schedule]]\nregion = ""\n{schedule}'
    )
    with pytest.raises(CalendarError, match=message):
        Calendar.load([path])
