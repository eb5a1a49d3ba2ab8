"""What a re-check reads as removed, and when the next one comes: pure logic."""

from datetime import UTC, datetime, timedelta

import pytest

from pantau_devstack.posts_site import UNAVAILABLE_TEXT
from pantau_shared.contract import Platform
from pantau_shared.contract.takedowns import RecheckOutcome, RemovalKind
from pantau_shared.fetching import Exchange
from pantau_triage.takedowns_recheck import Schedule, duration_words, fetchable
from pantau_triage.takedowns_removal import UNAVAILABLE_MARKERS, judge, markers_for

NOW = datetime(2024, 2, 12, 2, 0, tzinfo=UTC)


def answer(status: int, body: str = "<html><body>Postingan</body></html>") -> Exchange:
    return Exchange(
        "https://x.com/a/status/1", "GET", (), status, "", "HTTP/1.1", (), body.encode(), None, NOW
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, RemovalKind.NOT_FOUND), (410, RemovalKind.GONE), (451, RemovalKind.LEGAL_BLOCK)],
)
def test_gone_statuses_are_removals(status: int, kind: RemovalKind) -> None:
    verdict = judge(answer(status), Platform.X)
    assert (verdict.outcome, verdict.removal_kind) == (RecheckOutcome.REMOVED, kind)


@pytest.mark.parametrize("status", [403, 429, 500, 503])
def test_other_errors_say_nothing(status: int) -> None:
    assert judge(answer(status), Platform.X).outcome is RecheckOutcome.FAILED


def test_a_live_page_is_live() -> None:
    assert judge(answer(200), Platform.FACEBOOK).outcome is RecheckOutcome.LIVE


def test_the_platforms_unavailable_page_is_a_removal_whatever_the_apostrophe_or_case() -> None:
    page = "<h1>This content isn&#8217;t AVAILABLE right   now</h1>"
    verdict = judge(answer(200, page), Platform.FACEBOOK)
    assert (verdict.outcome, verdict.removal_kind) == (RecheckOutcome.REMOVED, RemovalKind.UNAVAILABLE_PAGE)


def test_markers_are_per_platform_and_all_apply_to_an_unknown_one() -> None:
    x_page = "<p>This post is unavailable</p>"
    assert judge(answer(200, x_page), Platform.FACEBOOK).outcome is RecheckOutcome.LIVE
    assert judge(answer(200, x_page), Platform.X).outcome is RecheckOutcome.REMOVED
    assert judge(answer(200, x_page), Platform.WEB).outcome is RecheckOutcome.REMOVED
    assert len(markers_for(Platform.UNKNOWN)) == len(UNAVAILABLE_MARKERS)


def test_the_local_posts_site_speaks_facebooks_words() -> None:
    assert UNAVAILABLE_TEXT in markers_for(Platform.FACEBOOK)


SCHEDULE = Schedule(interval_s=900, near_deadline_interval_s=120, near_deadline_window_s=1800)


def test_rechecks_come_more_often_near_the_deadline_and_one_falls_on_it() -> None:
    assert SCHEDULE.next_check(NOW, NOW + timedelta(hours=3)) == NOW + timedelta(seconds=900)
    assert SCHEDULE.next_check(NOW, NOW + timedelta(minutes=20)) == NOW + timedelta(seconds=120)
    close = NOW + timedelta(seconds=50)
    assert SCHEDULE.next_check(NOW, close) == close
    # Past the deadline (overdue): the ordinary interval again.
    assert SCHEDULE.next_check(NOW, NOW - timedelta(minutes=1)) == NOW + timedelta(seconds=900)


def test_durations_read_as_people_say_them() -> None:
    assert duration_words(11520) == "3 jam 12 menit"
    assert duration_words(45) == "45 detik"
    assert duration_words(125) == "2 menit 5 detik"
    assert duration_words(0) == "0 detik"


def test_urls_are_fetched_in_the_form_a_request_line_carries() -> None:
    assert fetchable("facebook.com/groups/1/posts/2") == "https://facebook.com/groups/1/posts/2"
    assert fetchable("https://ü.example/pätH?q=ä b#x") == "https://xn--tda.example/p%C3%A4tH?q=%C3%A4%20b"
    assert (
        fetchable("http://posts.pantau.test:8080/posts/1?a=1&b=2")
        == "http://posts.pantau.test:8080/posts/1?a=1&b=2"
    )
