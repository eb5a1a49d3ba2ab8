"""Indonesia's three time zones by province (the first two digits of a Kemendagri code), and
the region a shared location lies in."""

import math
from dataclasses import dataclass
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


# Where a shared WhatsApp location lies: offline, by distance to a regency's centre. Only the
# regencies listed here are known (the deployments of this project so far); a point farther than
# a region's radius from every centre gets no region rather than a wrong one. Boundary polygons
# (BIG / Kemendagri) would answer for every regency and near borders; see docs/channels.md.
@dataclass(frozen=True)
class RegionCentre:
    code: str
    name: str
    latitude: float
    longitude: float
    radius_km: float


CENTRES = (
    RegionCentre("33.75", "Kota Pekalongan", -6.8898, 109.6746, 6.0),
    RegionCentre("33.26", "Kabupaten Pekalongan", -7.0300, 109.6200, 22.0),
    RegionCentre("33.13", "Kabupaten Karanganyar", -7.6300, 111.0000, 22.0),
    RegionCentre("17.71", "Kota Bengkulu", -3.8000, 102.2700, 10.0),
    RegionCentre("52.01", "Kabupaten Lombok Barat", -8.7000, 116.1000, 22.0),
    RegionCentre("52.71", "Kota Mataram", -8.5833, 116.1167, 6.0),
)
_EARTH_RADIUS_KM = 6371.0


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def region_at(latitude: float, longitude: float, centres: tuple[RegionCentre, ...] = CENTRES) -> str | None:
    """The code of the known region whose centre is nearest, if the point is within its radius.

    Smaller regions (a city inside its regency) win when the point is within both radii."""
    inside = [
        (distance_km(latitude, longitude, c.latitude, c.longitude) / c.radius_km, c.code)
        for c in centres
        if distance_km(latitude, longitude, c.latitude, c.longitude) <= c.radius_km
    ]
    return min(inside)[1] if inside else None
