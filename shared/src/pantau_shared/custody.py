"""The custody log: a hash chain of who preserved, stamped, opened, exported or deleted evidence.

Each entry's `hash` covers all its fields and the previous entry's hash, so an entry changed,
removed, inserted or reordered breaks every link after it; quoting the last hash (the chain
head, printed in every bundle verdict) pins the whole history. Storage is the caller's: this
module only links and checks.

The canonical encoding, for anyone re-implementing the check: the hash is the lower-case hex
SHA-256 of the concatenation of these eight fields as netstrings, in this order:

    "pantau-custody-v1", sequence (decimal, no sign or leading zeros), at, actor, action,
    subject, detail, previous_hash

where a netstring of a text is `<byte length in decimal>:<UTF-8 bytes>,`, `at` is the time in
UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fractional digits; `custody.jsonl` writes it
in exactly this form), and `action` is its lower-case name (`preserved`). For example the
field `actor` = `"ana"` contributes `3:ana,`. The first entry has sequence 1 and
previous_hash `GENESIS` (64 zeros).
"""

import hashlib
from collections.abc import Sequence
from datetime import datetime

from .contract.evidence_bundle import CustodyAction, CustodyEntry, custody_time

__all__ = ["GENESIS", "ChainBroken", "CustodyAction", "CustodyEntry", "entry_hash", "link", "verify_chain"]

GENESIS = "0" * 64
_DOMAIN = "pantau-custody-v1"


class ChainBroken(ValueError):
    """Entry `index` (0-based, in the order given) does not follow from the one before it."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"entri ke-{index + 1}: {reason}")
        self.index = index
        self.reason = reason


def _netstring(text: str) -> bytes:
    raw = text.encode("utf-8")
    return str(len(raw)).encode("ascii") + b":" + raw + b","


def entry_hash(
    *,
    sequence: int,
    at: datetime,
    actor: str,
    action: CustodyAction,
    subject: str,
    detail: str,
    previous_hash: str,
) -> str:
    fields = (_DOMAIN, str(sequence), custody_time(at), actor, action.value, subject, detail, previous_hash)
    return hashlib.sha256(b"".join(map(_netstring, fields))).hexdigest()


def _rehash(entry: CustodyEntry) -> str:
    return entry_hash(
        sequence=entry.sequence,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        detail=entry.detail,
        previous_hash=entry.previous_hash,
    )


def link(
    previous: CustodyEntry | None,
    *,
    at: datetime,
    actor: str,
    action: CustodyAction,
    subject: str,
    detail: str,
) -> CustodyEntry:
    """The entry that follows `previous` (the first of a chain when None)."""
    sequence = 1 if previous is None else previous.sequence + 1
    previous_hash = GENESIS if previous is None else previous.hash
    # Validated first (the hash field takes a placeholder), then sealed with its own hash.
    draft = CustodyEntry(
        sequence=sequence,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        detail=detail,
        previous_hash=previous_hash,
        hash=GENESIS,
    )
    return draft.model_copy(update={"hash": _rehash(draft)})


def verify_chain(
    entries: Sequence[CustodyEntry], *, previous_hash: str = GENESIS, first_sequence: int = 1
) -> None:
    """Raise ChainBroken at the first entry that is not the successor of the one before it.

    By default the chain must start at its beginning (sequence 1 after GENESIS); a part of a
    longer chain is checked by passing the hash and sequence of the entry it follows."""
    expected_previous, expected_sequence = previous_hash, first_sequence
    for index, entry in enumerate(entries):
        if entry.sequence != expected_sequence:
            raise ChainBroken(index, f"nomor urut {entry.sequence}, seharusnya {expected_sequence}")
        if entry.previous_hash != expected_previous:
            raise ChainBroken(index, "tidak menyambung ke hash entri sebelumnya")
        if _rehash(entry) != entry.hash:
            raise ChainBroken(index, "isi entri tidak cocok dengan hash-nya (entri diubah)")
        expected_previous, expected_sequence = entry.hash, entry.sequence + 1
