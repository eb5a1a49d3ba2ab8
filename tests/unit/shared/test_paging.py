"""Keyset cursors: what goes in comes out, and nothing else is taken for a cursor."""

from datetime import UTC, datetime
from uuid import UUID

import pytest

from pantau_shared import paging
from pantau_shared.bus import Invalid

ID = UUID("018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91")
AT = datetime(2024, 2, 12, 1, 15, 30, 123456, tzinfo=UTC)


def test_a_cursor_gives_back_its_key_with_its_types() -> None:
    cursor = paging.encode("priority", (67, ID))
    assert cursor.isascii() and "=" not in cursor
    assert paging.decode(cursor, "priority", (int, UUID)) == [67, ID]
    assert paging.decode(paging.encode("oldest", (AT, ID)), "oldest", (datetime, UUID)) == [AT, ID]


PRIORITY: tuple[type[paging.Key], ...] = (int, UUID)


@pytest.mark.parametrize(
    ("cursor", "kind", "types"),
    [
        ("0", "priority", PRIORITY),
        ("bm90LWpzb24", "priority", PRIORITY),  # not JSON
        (paging.encode("oldest", (AT, ID)), "priority", PRIORITY),  # another sort's
        (paging.encode("priority", (67,)), "priority", PRIORITY),  # too short
        (paging.encode("priority", ("tinggi", ID)), "priority", PRIORITY),  # not an int
        (paging.encode("priority", (67, "not-a-uuid")), "priority", PRIORITY),
        (paging.encode("updated", ("2024-02-12T01:15:30", ID)), "updated", (datetime, UUID)),  # no zone
    ],
)
def test_anything_else_is_an_invalid_request(
    cursor: str, kind: str, types: tuple[type[paging.Key], ...]
) -> None:
    with pytest.raises(Invalid):
        paging.decode(cursor, kind, types)


def test_a_where_clause_numbers_its_parameters_after_the_agency() -> None:
    where = paging.Where(["bawaslu-3375"], ["agency_id = $1"])
    where.add(f"priority >= {where.param(50)}")
    where.after(
        "priority, case_id", paging.encode("priority", (67, ID)), "priority", (int, UUID), descending=True
    )
    assert where.sql() == "agency_id = $1 AND priority >= $2 AND (priority, case_id) < ($3, $4)"
    assert where.args == ["bawaslu-3375", 50, 67, ID]
    assert paging.next_cursor([{"k": 1}], 1, "x", ("k",)) is None
    assert paging.decode(paging.next_cursor([{"k": "a"}, {"k": "b"}], 1, "x", ("k",)) or "", "x", (str,)) == [
        "a"
    ]
