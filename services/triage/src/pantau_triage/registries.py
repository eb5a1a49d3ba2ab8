"""Registries of accounts to watch, as pure functions: handles, CSV rows and look-alikes.

Two registries: the official accounts election participants register with the KPU (up to 20
per participant per platform), and the accounts of officials who must stay neutral (ASN, kepala
desa, perangkat desa). Every handle is stored in one normalised form per platform, so a URL, an
"@Handle" and a "handle" written by different clerks meet. Look-alikes compare a "skeleton":
the handle with look-alike characters folded, separators, doubled letters and decorations such
as "_official" removed.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

from pantau_shared.contract.platforms import PLATFORM_HOSTS, SHARE_HOSTS

MAX_ACCOUNTS_PER_PLATFORM = 20
ACCOUNT_REQUIRED = ("participant", "election_id", "platform")
OFFICIAL_REQUIRED = ("name", "role", "platform")
ACCOUNT_COLUMNS = ("participant", "party", "election_id", "region_code", "platform", "handle", "url")
OFFICIAL_COLUMNS = ("name", "role", "institution", "region_code", "platform", "handle", "url")
ROLES = ("asn", "kepala_desa", "perangkat_desa")
PLATFORM_LABELS = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "x": "X",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "telegram": "Telegram",
}

_PLATFORM_ALIASES = {
    "fb": "facebook",
    "ig": "instagram",
    "twitter": "x",
    "yt": "youtube",
    "tele": "telegram",
    "tg": "telegram",
}
# What each platform accepts in a username (after lower-casing), and how long it may be.
_HANDLE_RULES = {
    "instagram": (re.compile(r"[a-z0-9._]{1,30}"), "huruf, angka, titik, garis bawah; maks. 30"),
    "x": (re.compile(r"[a-z0-9_]{1,15}"), "huruf, angka, garis bawah; maks. 15"),
    "tiktok": (re.compile(r"[a-z0-9._]{2,24}"), "huruf, angka, titik, garis bawah; 2-24"),
    "facebook": (re.compile(r"[a-z0-9]{5,50}|id:\d{5,20}"), "huruf, angka, titik; min. 5"),
    "youtube": (
        re.compile(r"[a-z0-9._-]{3,30}|channel:UC[A-Za-z0-9_-]{22}"),
        "huruf, angka, titik, garis bawah, tanda hubung; 3-30",
    ),
    "telegram": (re.compile(r"[a-z0-9_]{5,32}"), "huruf, angka, garis bawah; 5-32"),
}
# First path segments that are pages of the platform, not accounts.
_RESERVED = {
    "instagram": {"p", "reel", "reels", "tv", "explore", "accounts", "direct", "about"},
    "x": {"home", "i", "intent", "search", "hashtag", "share", "explore", "settings", "messages"},
    "facebook": {
        "watch",
        "groups",
        "events",
        "photo.php",
        "story.php",
        "sharer",
        "sharer.php",
        "share",
        "hashtag",
        "reel",
        "login",
        "marketplace",
        "gaming",
    },
    "youtube": {"watch", "shorts", "playlist", "results", "feed", "embed"},
    "telegram": {"s", "joinchat", "share", "addstickers"},
    "tiktok": {"video", "tag", "discover", "music", "search"},
}

Platform = str
Row = TypeVar("Row", "AccountRow", "OfficialRow")


class HandleError(ValueError):
    """A handle or URL that names no account; the message is Indonesian, for the uploader."""


# --- handles ---------------------------------------------------------------------------------


def normalise_platform(value: str) -> Platform:
    name = value.strip().lower()
    name = _PLATFORM_ALIASES.get(name, name)
    if name not in _HANDLE_RULES:
        raise HandleError(f"platform tidak dikenal: {value!r} (pilih: {', '.join(_HANDLE_RULES)})")
    return name


def normalise_handle(platform: Platform, value: str) -> str:
    """The stored form of an account on `platform`, from "@Handle", "handle" or a profile URL.

    Lower case without "@" everywhere; Facebook ignores dots in usernames, so they are dropped;
    numeric Facebook profiles become "id:<number>" and YouTube channel ids "channel:<id>".
    Raises HandleError for a value that names no account of that platform.
    """
    raw = value.strip()
    if not raw:
        raise HandleError("akun kosong")
    if "/" in raw or raw.lower().startswith(("http:", "https:")):
        found_platform, handle = _handle_from_url(raw)
        if found_platform != platform:
            raise HandleError(f"URL {raw!r} bukan akun {PLATFORM_LABELS[platform]}")
        return handle
    return _clean(platform, raw.lstrip("@"))


def handle_from_url(url: str) -> tuple[Platform, str] | None:
    """The account a profile or post URL belongs to, when the URL says it; None otherwise
    (an Instagram post URL, for instance, does not name its author)."""
    try:
        return _handle_from_url(url)
    except HandleError:
        return None


def _handle_from_url(url: str) -> tuple[Platform, str]:
    raw = url.strip()
    parts = urlsplit(raw if "://" in raw else "https://" + raw)
    host = (parts.hostname or "").lower().removeprefix("www.")
    for prefix in ("m.", "mobile.", "web.", "vm.", "vt."):
        host = host.removeprefix(prefix)
    found = None if host in SHARE_HOSTS else PLATFORM_HOSTS.get(host)
    platform: Platform | None = found.value if found is not None and found.value in PLATFORM_LABELS else None
    if platform is None:
        raise HandleError(f"URL {raw!r} bukan akun platform yang dikenal")
    segments = [s for s in parts.path.split("/") if s]
    query = parse_qs(parts.query)
    candidate: str | None = None
    if platform == "facebook":
        if segments[:1] in (["profile.php"], ["permalink.php"]) and query.get("id"):
            candidate = "id:" + query["id"][0]
        elif segments[:1] == ["people"] and len(segments) >= 3:
            candidate = "id:" + segments[2]
        elif segments and segments[0] not in _RESERVED["facebook"] and not segments[0].endswith(".php"):
            candidate = segments[0]
    elif platform == "tiktok":
        if segments and segments[0].startswith("@"):
            candidate = segments[0][1:]
    elif platform == "youtube":
        if segments and segments[0].startswith("@"):
            candidate = segments[0][1:]
        elif segments[:1] == ["channel"] and len(segments) >= 2:
            return platform, _clean(platform, "channel:" + segments[1])
    elif platform == "instagram" and segments[:1] == ["stories"] and len(segments) >= 2:
        candidate = segments[1]
    elif segments and segments[0].lower() not in _RESERVED.get(platform, set()):
        candidate = segments[0]
    if candidate is None:
        raise HandleError(f"URL {raw!r} tidak menunjuk akun (bukan halaman profil)")
    return platform, _clean(platform, candidate)


def _clean(platform: Platform, value: str) -> str:
    if value.startswith("channel:") and platform == "youtube":
        handle = value  # channel ids are case-sensitive
    else:
        handle = value.strip().lstrip("@").lower()
        if platform == "facebook" and not handle.startswith("id:"):
            handle = handle.replace(".", "")
    pattern, rule = _HANDLE_RULES[platform]
    if not pattern.fullmatch(handle):
        raise HandleError(f"akun {value!r} tidak sah untuk {PLATFORM_LABELS[platform]} ({rule})")
    return handle


# --- skeletons and look-alikes ---------------------------------------------------------------

# Characters people swap to imitate a handle: digits for letters, and Cyrillic and Greek letters
# drawn like the Latin ones in _LATIN (for platforms allowing Unicode names).
_HOMOGLYPHS = (
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458"
    "\u0455\u0501\u0261\u03bf\u03b1\u03bd\u03b9\u03ba\u03c4"
)
_LATIN = "aeopcyxljsdgoavlkt"
_FOLD = str.maketrans("01i|!3457$8962" + _HOMOGLYPHS, "olllleastsbggz" + _LATIN)
# Decorations added to a real name to look official. Long ones are stripped even when glued on
# ("budisantosoofficial"); short ones only when set apart ("budi_santoso_id"), else "rasyid"
# would lose its "id".
_LONG_AFFIXES = (
    "official",
    "resmi",
    "asli",
    "real",
    "original",
    "fanpage",
    "fans",
    "team",
    "center",
    "media",
    "dprd",
    "caleg",
)
_SHORT_AFFIXES = ("id", "ri", "the", "ofc", "ofcl", "tv", "ind", "idn", "indonesia", "news", "info")
_SEPARATORS = re.compile(r"[._\-\s]+")
_TRAILING_NUMBER = re.compile(r"\d{2,}$")
_MIN_SKELETON = 4
MIN_CONTAINED = 6


def _fold(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.translate(_FOLD)).replace("rn", "m").replace("vv", "w")


@functools.cache
def _affixes() -> tuple[frozenset[str], tuple[str, ...]]:
    glued = tuple(_fold(a) for a in _LONG_AFFIXES)
    return frozenset(glued) | {_fold(a) for a in _SHORT_AFFIXES}, glued


def skeleton(handle: str) -> str:
    """A key equal for a handle and its imitations: "@Budi_Santoso_0fficial" -> "budlsantoso".

    Empty for handles that are numbers (Facebook ids, YouTube channel ids)."""
    text = unicodedata.normalize("NFKD", handle.lower().lstrip("@"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    if text.startswith(("id:", "channel:")):
        return ""
    # Years and numbers tacked on ("budi_2024", "budisantoso88") go before digits become letters;
    # a single digit stays, as it is more often a letter in disguise ("budisant0so").
    raw_tokens = [t for t in _SEPARATORS.split(text) if t]
    while len(raw_tokens) > 1 and raw_tokens[-1].isdigit():
        raw_tokens.pop()
    if raw_tokens:
        raw_tokens[-1] = _TRAILING_NUMBER.sub("", raw_tokens[-1]) or raw_tokens[-1]
    tokens = [t for t in (_fold(t) for t in raw_tokens) if t]
    separate, glued = _affixes()
    while len(tokens) > 1 and tokens[-1] in separate:
        tokens.pop()
    while len(tokens) > 1 and tokens[0] in separate:
        tokens.pop(0)
    joined = "".join(tokens)
    changed = True
    while changed:
        changed = False
        for affix in glued:
            if joined.endswith(affix) and len(joined) - len(affix) >= _MIN_SKELETON:
                joined, changed = joined[: -len(affix)], True
            if joined.startswith(affix) and len(joined) - len(affix) >= _MIN_SKELETON:
                joined, changed = joined[len(affix) :], True
    # Doubled letters collapse last: "budisantoso"+"official" must not lose an "o" to the join.
    return re.sub(r"(.)\1+", r"\1", joined)


@dataclass(frozen=True)
class Resemblance:
    score: float
    kind: Literal["same_handle", "skeleton", "contains", "edit"]
    distance: int = 0


def resemblance(candidate: str, registered: str) -> Resemblance | None:
    """How much the normalised handle `candidate` imitates the normalised `registered` one;
    None when it does not (or when they are the same handle)."""
    if candidate == registered:
        return None
    return compare_skeletons(skeleton(candidate), skeleton(registered))


def compare_skeletons(a: str, b: str) -> Resemblance | None:
    """`resemblance` on skeletons already computed (the store keeps them in a column)."""
    if len(b) < _MIN_SKELETON or len(a) < _MIN_SKELETON:
        return None
    if a == b:
        return Resemblance(0.95, "skeleton")
    # Only as a prefix: "budisantoso" holds "lsantoso" (another candidate's "isantoso") too.
    if a.startswith(b) and len(b) >= MIN_CONTAINED:
        return Resemblance(round(0.7 + 0.2 * len(b) / len(a), 3), "contains")
    if abs(len(a) - len(b)) > 2:
        return None
    distance = edit_distance(a, b)
    ratio = 1 - distance / max(len(a), len(b))
    if distance <= 2 and ratio >= 0.8:
        return Resemblance(round(0.9 * ratio, 3), "edit", distance)
    return None


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
    neighbouring letters each cost one."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def lookalike_reason(
    resembles: Resemblance,
    *,
    handle: str,
    participant: str,
    party: str,
    platform: Platform,
    same_platform: bool,
) -> str:
    owner = f"milik {participant}" + (f" ({party})" if party else "")
    where = "" if same_platform else f" di {PLATFORM_LABELS.get(platform, platform)}"
    detail = {
        "same_handle": "nama akun sama, tetapi tidak terdaftar di platform ini",
        "skeleton": "beda hanya pada huruf/angka serupa, tanda baca, huruf ganda "
        "atau tambahan seperti 'official'",
        "contains": "diawali nama akun resmi, dengan tambahan",
        "edit": f"beda {resembles.distance} huruf",
    }[resembles.kind]
    return f"Mirip akun resmi @{handle}{where} {owner}: {detail}"


# --- CSV rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    participant: str
    party: str
    election_id: str
    region_code: str
    platform: Platform
    handle: str
    url: str
    line: int = 0


@dataclass(frozen=True)
class OfficialRow:
    name: str
    role: str
    institution: str
    region_code: str
    platform: Platform
    handle: str
    url: str
    line: int = 0


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"baris {self.line}: {self.reason}"


@dataclass
class Parsed(Generic[Row]):
    rows: list[Row]
    errors: list[RowError]


_REGION = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?")


def parse_accounts(
    source: str | Path | Iterable[str], elections: Collection[str] | None = None
) -> Parsed[AccountRow]:
    """Rows of a participant-account CSV (see elections/README.md), every bad row as an error.

    `source` is a file path or the file's lines (e.g. `io.StringIO(text)`). `elections`, when
    given, are the election ids the rows may name. The same account twice for one participant
    is kept once; for two participants, or past 20 accounts on one platform, it is an error.
    """
    counts: dict[tuple[str, str, str, str], int] = {}

    def build(record: dict[str, str], line: int) -> AccountRow:
        participant = _required(record, "participant")
        election_id = _required(record, "election_id")
        if elections is not None and election_id not in elections:
            raise HandleError(
                f"election_id {election_id!r} tidak ada di kalender ({', '.join(sorted(elections))})"
            )
        platform, handle, url = _account(record)
        region = _region(record)
        key = (election_id, region, participant.casefold(), platform)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > MAX_ACCOUNTS_PER_PLATFORM:
            raise HandleError(
                f"{participant} sudah punya {MAX_ACCOUNTS_PER_PLATFORM} akun "
                f"{PLATFORM_LABELS[platform]} (batas KPU)"
            )
        return AccountRow(
            participant, record.get("party", "").strip(), election_id, region, platform, handle, url, line
        )

    return _parse(source, ACCOUNT_REQUIRED, build, owner=lambda r: r.participant.casefold())


def parse_officials(source: str | Path | Iterable[str]) -> Parsed[OfficialRow]:
    """Rows of a watched-official CSV (see elections/README.md), every bad row as an error."""

    def build(record: dict[str, str], line: int) -> OfficialRow:
        name = _required(record, "name")
        role = _required(record, "role").lower().replace(" ", "_").replace("-", "_")
        if role not in ROLES:
            raise HandleError(f"peran {role!r} tidak dikenal (pilih: {', '.join(ROLES)})")
        platform, handle, url = _account(record)
        return OfficialRow(
            name, role, record.get("institution", "").strip(), _region(record), platform, handle, url, line
        )

    return _parse(source, OFFICIAL_REQUIRED, build, owner=lambda r: r.name.casefold())


def _parse(
    source: str | Path | Iterable[str],
    required: tuple[str, ...],
    build: Callable[[dict[str, str], int], Row],
    owner: Callable[[Row], str],
) -> Parsed[Row]:
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], Row] = {}
    lines = _lines(source)
    header = next(lines, "")
    delimiter = ";" if header.count(";") > header.count(",") else ","
    names = [h.strip().lower() for h in next(csv.reader([header], delimiter=delimiter), [])]
    missing = [c for c in required if c not in names]
    if "handle" not in names and "url" not in names:
        missing.append("handle/url")
    if missing:
        return Parsed([], [RowError(1, f"kolom tidak ada: {', '.join(missing)}")])
    reader = csv.reader(lines, delimiter=delimiter)
    line = 1
    for values in reader:
        line += 1
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(names):
            errors.append(RowError(line, f"{len(values)} kolom, header punya {len(names)}"))
            continue
        record = dict(zip(names, values, strict=False))
        try:
            row = build(record, line)
        except HandleError as error:
            errors.append(RowError(line, str(error)))
            continue
        earlier = seen.get((row.platform, row.handle))
        if earlier is None:
            seen[(row.platform, row.handle)] = row
            rows.append(row)
        elif owner(earlier) != owner(row):
            errors.append(
                RowError(
                    line,
                    f"akun {row.platform} @{row.handle} sudah tercantum "
                    f"di baris {earlier.line} untuk pemilik lain",
                )
            )
    return Parsed(rows, errors)


def _lines(source: str | Path | Iterable[str]) -> Iterator[str]:
    if isinstance(source, str | Path):
        # utf-8-sig: spreadsheets save CSV with a byte-order mark.
        return iter(io.StringIO(Path(source).read_text(encoding="utf-8-sig"), newline=""))
    return iter(source)


def _required(record: dict[str, str], column: str) -> str:
    value = (record.get(column) or "").strip()
    if not value:
        raise HandleError(f"kolom {column} kosong")
    return value


def _region(record: dict[str, str]) -> str:
    region = (record.get("region_code") or "").strip()
    if region and not _REGION.fullmatch(region):
        raise HandleError(f"region_code {region!r} bukan kode Kemendagri (mis. 52.01)")
    return region


def _account(record: dict[str, str]) -> tuple[Platform, str, str]:
    platform = normalise_platform(_required(record, "platform"))
    raw_handle = (record.get("handle") or "").strip()
    url = (record.get("url") or "").strip()
    if not raw_handle and not url:
        raise HandleError("handle dan url kosong (isi salah satu)")
    handle = normalise_handle(platform, raw_handle) if raw_handle else ""
    if url:
        from_url = normalise_handle(platform, url)
        if handle and from_url != handle:
            raise HandleError(f"handle @{handle} tidak sama dengan akun di url ({from_url})")
        handle = from_url
    return platform, handle, url
