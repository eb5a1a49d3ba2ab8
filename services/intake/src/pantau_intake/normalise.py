"""From a submitted report to the normalised record: canonical URL, platform, evidence hashes."""

import hashlib
import hmac
import re
import unicodedata
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pantau_shared.contract import Platform, Reporter, ReportReceived, ReportSubmitted
from pantau_shared.contract.fields import ascii_host
from pantau_shared.contract.platforms import platform_of_host
from pantau_shared.regions import region_at

# Mobile and vanity hosts that serve the same content as the main host.
HOST_ALIASES = {
    "twitter.com": "x.com",
    "mobile.twitter.com": "x.com",
    "m.facebook.com": "facebook.com",
    "web.facebook.com": "facebook.com",
    "m.youtube.com": "youtube.com",
    "mobile.facebook.com": "facebook.com",
    "fb.com": "facebook.com",
}
# Parameters that only track who shared a link; two shares of one post must compare equal.
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|igshid|igsh|si|s|t|ref|ref_src|ref_url|mibextid|_rdr|rdid|"
    r"share_id|sender_device|is_from_webapp|feature|__cft__\[\d+\]|__tn__)$",
    re.IGNORECASE,
)
WHITESPACE = re.compile(r"\s+")


def canonical_url(url: str) -> tuple[str, Platform]:
    raw = url.strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    host = ascii_host(parts.hostname or "")
    if host.startswith("www."):
        host = host[4:]
    host = HOST_ALIASES.get(host, host)
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)
    ]
    if host == "youtu.be" and len(path) > 1:
        host, query, path = "youtube.com", [("v", path.strip("/"))], "/watch"
    elif host == "youtube.com" and path.startswith("/shorts/"):
        query, path = [("v", path.removeprefix("/shorts/").strip("/"))], "/watch"
    if len(path) > 1:
        path = path.rstrip("/")
    platform = platform_of(host)
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    return urlunsplit(("https", host + port, path, urlencode(sorted(query)), "")), platform


def platform_of(host: str) -> Platform:
    if not host:
        return Platform.UNKNOWN
    return platform_of_host(host) or Platform.WEB


def normalised_text(text: str) -> str:
    """The form used for the content hash: the same words, however a forward re-spaced them."""
    return WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def contact_keys(reporter: Reporter | None) -> list[str]:
    """Normalised contacts, phone first: WhatsApp numbers are the most common identity."""
    if reporter is None:
        return []
    keys = []
    if reporter.phone:
        digits = re.sub(r"\D", "", reporter.phone)
        if digits.startswith("0"):
            digits = "62" + digits[1:]
        if digits:
            keys.append("tel:" + digits)
    if reporter.email:
        keys.append("mailto:" + reporter.email.strip().lower())
    return keys


def pseudonym(pepper: bytes, contact_key: str) -> str:
    return "rep_" + hmac.new(pepper, contact_key.encode(), hashlib.sha256).hexdigest()[:24]


def received(report: ReportSubmitted, *, received_at: datetime, reporter_id: str | None) -> ReportReceived:
    url, platform = (None, Platform.UNKNOWN)
    if report.url:
        url, platform = canonical_url(report.url)
    text = report.text.strip() if report.text else None
    return ReportReceived(
        report_id=report.report_id,
        agency_id=report.agency_id,
        channel=report.channel,
        submitted_at=report.submitted_at,
        received_at=received_at,
        text=text or None,
        url=report.url,
        canonical_url=url,
        platform=platform,
        # A place the reporter shared says where it happened when the report does not.
        region_code=report.region_code
        or (region_at(report.location.latitude, report.location.longitude) if report.location else None),
        author_handle=report.author_handle,
        raw_sha256=sha256_hex((report.text or "") + "\n" + (report.url or "")),
        content_sha256=sha256_hex(normalised_text(text)) if text else None,
        reporter_id=reporter_id,
        external_id=report.external_id,
        reach=report.reach,
        forwarded=report.forwarded,
        attachments=report.attachments,
        location=report.location,
        contacts=report.contacts,
        sender_auth=report.sender_auth,
    )
