"""Indonesia's three time zones by province (the first two digits of a Kemendagri code)."""

from datetime import datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7), "WIB")
WITA = timezone(timedelta(hours=8), "WITA")
WIT = timezone(timedelta(hours=9), "WIT")

# Bali, Nusa Tenggara, South/East/North Kalimantan and all of Sulawesi keep WITA;
# Maluku and the Papua provinces keep WIT; the rest (Sumatra, Java, West/Central Kalimantan) WIB.
_WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96"}


def zone_of(region_code: str | None) -> timezone:
    province = (region_code or "")[:2]
    if province in _WIT_PROVINCES:
        return WIT
    if province in _WITA_PROVINCES:
        return WITA
    return WIB


def local_time(moment: datetime, region_code: str | None) -> str:
    zone = zone_of(region_code)
    return moment.astimezone(zone).strftime(f"%d-%m-%Y %H:%M {zone.tzname(None)}")
