"""The case workflow: which state may follow which, and what closing needs."""

from pantau_shared.bus import Conflict
from pantau_shared.contract import CaseState, Resolution

S = CaseState
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.NEW: frozenset({S.VERIFYING, S.CLOSED}),
    S.VERIFYING: frozenset({S.FOLLOW_UP, S.REFERRED, S.TAKEDOWN_REQUESTED, S.CLOSED}),
    S.FOLLOW_UP: frozenset({S.REFERRED, S.TAKEDOWN_REQUESTED, S.CLOSED}),
    S.REFERRED: frozenset({S.FOLLOW_UP, S.CLOSED}),
    S.TAKEDOWN_REQUESTED: frozenset({S.FOLLOW_UP, S.CLOSED}),
    # A closed case can be reopened for another look, never skipped back to follow-up.
    S.CLOSED: frozenset({S.VERIFYING}),
}
STATE_LABELS = {
    S.NEW: "baru",
    S.VERIFYING: "verifikasi",
    S.FOLLOW_UP: "tindak lanjut",
    S.REFERRED: "diteruskan",
    S.TAKEDOWN_REQUESTED: "permintaan penurunan konten",
    S.CLOSED: "ditutup",
}


class InvalidTransition(Conflict):
    def __init__(self, detail: str, current: CaseState) -> None:
        super().__init__(detail, allowed=sorted(TRANSITIONS[current]))


def check(current: CaseState, target: CaseState, resolution: Resolution | None) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(STATE_LABELS[s] for s in TRANSITIONS[current]))
        raise InvalidTransition(
            f"kasus berstatus {STATE_LABELS[current]} tidak dapat diubah menjadi "
            f"{STATE_LABELS[target]}; yang diizinkan: {allowed}",
            current,
        )
    if target is S.CLOSED and resolution is None:
        raise InvalidTransition("menutup kasus memerlukan alasan penyelesaian (resolution)", current)
    if target is not S.CLOSED and resolution is not None:
        raise InvalidTransition("alasan penyelesaian hanya untuk menutup kasus", current)
