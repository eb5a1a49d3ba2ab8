"""Keyset pages: opaque cursors holding the sort key of the last item a page showed, and the
WHERE clause a page's query is built with.

A page continues strictly after that key (with the record's id to break ties), so rows inserted
meanwhile never shift the next page, and reading page 1,000 costs what page 1 does. The cursor is
base64url JSON: opaque to clients, checked on the way back (a bad one is `invalid`, not a crash).
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from .bus import Invalid

Key = int | str | datetime | UUID


def encode(kind: str, key: Sequence[Key]) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else str(value) for value in key]
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, kind: str, types: Sequence[type[Key]]) -> list[Key]:
    """The key a cursor of `kind` holds, each value parsed as `types` says."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw)
        if not isinstance(found, list) or found[:1] != [kind] or len(found) != len(types) + 1:
            raise ValueError(kind)
        return [_parse(value, wanted) for value, wanted in zip(found[1:], types, strict=True)]
    except (ValueError, TypeError, binascii.Error) as error:
        raise Invalid(f"cursor tidak valid untuk urutan {kind}; mulai lagi dari halaman pertama") from error


def _parse(value: object, wanted: type[Key]) -> Key:
    if not isinstance(value, str):
        raise TypeError(value)
    if wanted is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(value)
        return parsed
    if wanted is UUID:
        return UUID(value)
    if wanted is int:
        return int(value)
    return value


@dataclass
class Where:
    """A WHERE clause under construction, with its arguments in order (`$1` first)."""

    args: list[Any]
    clauses: list[str] = field(default_factory=list)

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def after(
        self, columns: str, cursor: str, kind: str, types: Sequence[type[Key]], *, descending: bool
    ) -> None:
        """Continue strictly after the cursor's key, in the page's direction."""
        key = decode(cursor, kind, types)
        self.add(f"({columns}) {'<' if descending else '>'} ({', '.join(self.param(v) for v in key)})")

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "true"


def next_cursor(rows: Sequence[Any], limit: int, kind: str, columns: Sequence[str]) -> str | None:
    """The cursor after a page fetched with `limit + 1` rows; none when it was the last."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode(kind, [last[column] for column in columns])
