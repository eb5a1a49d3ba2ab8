import pytest

from pantau_shared.contract import CaseState, Category, CategoryScore, Resolution
from pantau_triage.routing import Router
from pantau_triage.workflow import TRANSITIONS, InvalidTransition, check

S = CaseState


def test_the_usual_path_from_new_to_closed_is_allowed() -> None:
    check(S.NEW, S.VERIFYING, None)
    check(S.VERIFYING, S.TAKEDOWN_REQUESTED, None)
    check(S.TAKEDOWN_REQUESTED, S.CLOSED, Resolution.TAKEN_DOWN)
    check(S.CLOSED, S.VERIFYING, None)


@pytest.mark.parametrize(
    ("current", "target", "resolution", "message"),
    [
        (S.NEW, S.TAKEDOWN_REQUESTED, None, "tidak dapat diubah menjadi permintaan penurunan"),
        (S.CLOSED, S.FOLLOW_UP, None, "yang diizinkan: verifikasi"),
        (S.VERIFYING, S.CLOSED, None, "memerlukan alasan penyelesaian"),
        (S.NEW, S.VERIFYING, Resolution.DUPLICATE, "hanya untuk menutup"),
        (S.NEW, S.NEW, None, "tidak dapat diubah"),
    ],
)
def test_invalid_transitions_are_refused_with_an_indonesian_reason(
    current, target, resolution, message
) -> None:
    with pytest.raises(InvalidTransition, match=message) as refused:
        check(current, target, resolution)
    assert refused.value.status == 409


def test_every_state_can_eventually_close() -> None:
    for state in S:
        reachable, frontier = {state}, [state]
        while frontier:
            for following in TRANSITIONS[frontier.pop()]:
                if following not in reachable:
                    reachable.add(following)
                    frontier.append(following)
        assert S.CLOSED in reachable


def score(category: Category) -> CategoryScore:
    return CategoryScore(category=category, score=0.9, reason="uji")


def test_packaged_routing_sends_violations_to_local_bawaslu_and_hoaxes_to_komdigi() -> None:
    router = Router.load()
    assert router.route("bawaslu-ri", "33.75", [score(Category.HOAKS)]) == ("bawaslu-3375", "komdigi")
    assert router.route("bawaslu-3375", "33.75.01", [score(Category.POLITIK_UANG)]) == ()
    # Without a regency code the local Bawaslu cannot be named; Komdigi still gets the hoax.
    assert router.route("bawaslu-ri", "33", [score(Category.HOAKS)]) == ("komdigi",)
    assert router.route("bawaslu-3375", "33.75", []) == ()
