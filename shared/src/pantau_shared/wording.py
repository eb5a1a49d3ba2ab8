"""How Pantau words things for people: Indonesian labels for the contract's values, names where
ids would otherwise show, and excerpts that end on a whole word.

Shared by notify (emails, WhatsApp) and the gateway (the pages behind links in messages), so
a case reads the same wherever a person meets it.
"""

import re
from collections.abc import Mapping
from uuid import UUID

from .contract import CaseState, Channel, Platform, PriorityLevel

PRIORITY_LABELS = {
    PriorityLevel.LOW: "rendah",
    PriorityLevel.MEDIUM: "sedang",
    PriorityLevel.HIGH: "tinggi",
    PriorityLevel.CRITICAL: "kritis",
}
STATE_LABELS = {
    CaseState.NEW: "diterima",
    CaseState.VERIFYING: "sedang diverifikasi",
    CaseState.FOLLOW_UP: "ditindaklanjuti",
    CaseState.REFERRED: "diteruskan ke instansi berwenang",
    CaseState.TAKEDOWN_REQUESTED: "diajukan penurunan konten",
    CaseState.CLOSED: "selesai",
}
PLATFORM_LABELS = {
    Platform.FACEBOOK: "Facebook",
    Platform.INSTAGRAM: "Instagram",
    Platform.X: "X (Twitter)",
    Platform.TIKTOK: "TikTok",
    Platform.YOUTUBE: "YouTube",
    Platform.TELEGRAM: "Telegram",
    Platform.WHATSAPP: "WhatsApp",
    Platform.WEB: "situs web",
    Platform.UNKNOWN: "tidak diketahui",
}
# Where a case's first report came from, as an alert says it: a person or a collector.
CHANNEL_LABELS = {
    Channel.API: "laporan melalui API instansi mitra",
    Channel.WEB: "laporan masyarakat melalui situs web",
    Channel.EMAIL: "laporan masyarakat melalui email",
    Channel.WHATSAPP: "laporan masyarakat melalui WhatsApp",
    Channel.PATROL: "temuan tim patroli siber",
    Channel.CRAWLER: "temuan penelusuran otomatis",
    Channel.MONITORING: "pemantauan otomatis akun terdaftar (bukan laporan masyarakat)",
}


def channel_label(channel: str | None) -> str:
    try:
        return CHANNEL_LABELS[Channel(channel)] if channel else "tidak tercatat"
    except ValueError:
        return channel or "tidak diketahui"


# The kind of agency is the first part of its id (`bawaslu-3375`, `komdigi`, `diskominfo-3375`).
_AGENCY_KINDS = {"bawaslu": "Bawaslu", "komdigi": "Komdigi", "kominfo": "Kominfo", "diskominfo": "Diskominfo"}
ELLIPSIS = "…"


def platform_label(platform: str | None) -> str:
    try:
        return PLATFORM_LABELS[Platform(platform or Platform.UNKNOWN)]
    except ValueError:
        return platform or PLATFORM_LABELS[Platform.UNKNOWN]


def state_label(state: str | None) -> str:
    try:
        return STATE_LABELS[CaseState(state or CaseState.NEW)]
    except ValueError:
        return str(state)


def agency_name(agency_id: str, names: Mapping[str, str]) -> str:
    """The agency's name as configured; else one read from its id (`Bawaslu wilayah 33.75`)."""
    if agency_id in names:
        return names[agency_id]
    kind, _, region = agency_id.partition("-")
    label = _AGENCY_KINDS.get(kind.lower(), kind.capitalize())
    if re.fullmatch(r"\d{2}(\d{2})?", region):
        code = region if len(region) == 2 else f"{region[:2]}.{region[2:]}"
        return f"{label} wilayah {code}"
    return f"{label} {region.upper()}".strip()


def team_label(name: str | None) -> str:
    """`Tim Patroli Siber` as it is, `Patroli siber` as `tim Patroli siber`: never "tim Tim"."""
    name = (name or "").strip()
    if not name:
        return "tim patroli"
    return name if name.lower().startswith("tim ") else f"tim {name}"


def number(identifier: UUID | str) -> str:
    """The number people quote for a report or a case: the first and the last four characters
    of its id's first and last groups, upper case (`2152F563-4A5B`).

    Ids are UUIDv7: the first group is the time (it changes only every 65 seconds, so cases opened
    in the same minute share it) and the last group is random, which tells them apart. The same
    characters everywhere a reporter or an officer sees it (receipt, news of the case, the case
    page, the console), so a number read over the phone finds the record."""
    text = str(identifier)
    return f"{text.split('-')[0]}-{text[-4:]}".upper()


def excerpt(text: str | None, limit: int) -> str:
    """At most `limit` characters, cut at the end of a word (a link is kept whole or left out),
    with "…" where something was cut."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    kept = text[:room]
    if text[room] != " ":
        head, space, _ = kept.rpartition(" ")
        # One long word or link with no space to cut at: cut inside it, still marked.
        kept = head if space and head else kept
    return kept.rstrip(" ,.;:-") + ELLIPSIS
