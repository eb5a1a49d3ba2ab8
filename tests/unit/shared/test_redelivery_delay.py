"""When a message a handler could not handle comes back."""

from pantau_shared.bus import RetryLater
from pantau_shared.bus.consumer import redelivery_delay


def test_a_handler_that_knows_when_it_can_succeed_sets_the_delay() -> None:
    assert redelivery_delay(RetryLater("leased elsewhere", delay=2.7), 1) == 2.7
    assert redelivery_delay(RetryLater("leased elsewhere", delay=0.0), 9) == 0.0


def test_any_other_failure_backs_off_by_its_delivery_count() -> None:
    for error in (RetryLater("database briefly unavailable"), ConnectionError("reset"), ValueError("x")):
        for delivery in (1, 4, 10):
            ceiling = min(60.0, 0.5 * 2 ** (delivery - 1))
            assert ceiling / 2 <= redelivery_delay(error, delivery) <= ceiling
