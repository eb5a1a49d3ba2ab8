import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pantau_shared.custody import GENESIS, ChainBroken, CustodyAction, CustodyEntry, link, verify_chain

START = datetime(2024, 2, 11, 8, 0, tzinfo=UTC)
SUBJECT = hashlib.sha256(b"post").hexdigest()


def chain(n: int) -> list[CustodyEntry]:
    entries: list[CustodyEntry] = []
    for i in range(n):
        entries.append(
            link(
                entries[-1] if entries else None,
                at=START + timedelta(minutes=i),
                actor=f"petugas-{i}",
                action=list(CustodyAction)[i % len(CustodyAction)],
                subject=SUBJECT,
                detail=f"langkah {i}",
            )
        )
    return entries


def test_links_count_up_from_genesis_and_each_points_at_the_one_before() -> None:
    entries = chain(4)
    assert [e.sequence for e in entries] == [1, 2, 3, 4]
    assert entries[0].previous_hash == GENESIS
    assert [e.previous_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert len({e.hash for e in entries}) == 4
    verify_chain(entries)


def test_the_documented_encoding_reproduces_the_hash() -> None:
    # Re-implemented here from the module docstring, as an outsider would.
    entry = link(None, at=START, actor="ana", action=CustodyAction.PRESERVED, subject="s", detail="ü")
    fields = ["pantau-custody-v1", "1", "2024-02-11T08:00:00.000000Z", "ana", "preserved", "s", "ü", GENESIS]
    encoded = b"".join(f"{len(f.encode())}:".encode() + f.encode() + b"," for f in fields)
    assert entry.hash == hashlib.sha256(encoded).hexdigest()


def test_json_lines_carry_the_time_as_hashed_and_round_trip() -> None:
    entry = chain(1)[0]
    assert '"at":"2024-02-11T08:00:00.000000Z"' in entry.model_dump_json()
    assert CustodyEntry.model_validate_json(entry.model_dump_json()) == entry


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "orang-lain"),
        ("detail", "diubah"),
        ("subject", "0" * 64),
        ("action", CustodyAction.DELETED),
        ("at", START + timedelta(days=1)),
    ],
)
def test_a_changed_field_breaks_the_chain_at_that_entry(field: str, value: object) -> None:
    entries = chain(3)
    entries[1] = entries[1].model_copy(update={field: value})
    with pytest.raises(ChainBroken) as broken:
        verify_chain(entries)
    assert broken.value.index == 1
    assert "diubah" in broken.value.reason


def test_a_removed_entry_breaks_the_chain() -> None:
    entries = chain(4)
    del entries[2]
    with pytest.raises(ChainBroken) as broken:
        verify_chain(entries)
    assert broken.value.index == 2


def test_reordered_entries_break_the_chain() -> None:
    entries = chain(3)
    entries[0], entries[1] = entries[1], entries[0]
    with pytest.raises(ChainBroken) as broken:
        verify_chain(entries)
    assert broken.value.index == 0


def test_a_truncated_start_is_refused_unless_the_anchor_is_given() -> None:
    entries = chain(5)
    with pytest.raises(ChainBroken):
        verify_chain(entries[2:])
    verify_chain(entries[2:], previous_hash=entries[1].hash, first_sequence=3)


def test_a_rehashed_forgery_still_breaks_at_the_next_entry() -> None:
    entries = chain(3)
    forged = link(None, at=START, actor="pemalsu", action=CustodyAction.PRESERVED, subject=SUBJECT, detail="")
    entries[0] = forged
    with pytest.raises(ChainBroken) as broken:
        verify_chain(entries)
    assert broken.value.index == 1


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        link(None, at=datetime(2024, 2, 11), actor="a", action=CustodyAction.ACCESSED, subject="s", detail="")


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=30).filter(str.strip), st.text(max_size=60)),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_any_single_change_to_any_chain_is_caught(steps: list[tuple[str, str]], data: st.DataObject) -> None:
    entries: list[CustodyEntry] = []
    for i, (actor, detail) in enumerate(steps):
        entries.append(
            link(
                entries[-1] if entries else None,
                at=START + timedelta(seconds=i),
                actor=actor,
                action=CustodyAction.ACCESSED,
                subject=SUBJECT,
                detail=detail,
            )
        )
    verify_chain(entries)
    index = data.draw(st.integers(0, len(entries) - 1))
    new_detail = data.draw(st.text(max_size=60).filter(lambda d: d != entries[index].detail))
    entries[index] = entries[index].model_copy(update={"detail": new_detail})
    with pytest.raises(ChainBroken) as broken:
        verify_chain(entries)
    assert broken.value.index == index
