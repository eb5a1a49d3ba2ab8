"""Which URLs a report names, and which media a fetched page shows.

A report's URLs are its `url` field and every address in its text, whatever the scheme: a
`file:` or `gopher:` link is kept as a job too, so its refusal is recorded beside the report
instead of the link being silently dropped.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# Any scheme followed by `//` (http, https, file, ftp, gopher, ...), up to a space or a quote.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]{1,15}://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\""
_MEDIA_META = {"og:image", "og:image:url", "og:image:secure_url", "og:video", "og:video:url", "twitter:image"}


def report_urls(url: str | None, text: str | None, limit: int = 10) -> list[str]:
    found = [url] if url else []
    for match in _URL.finditer(text or ""):
        found.append(match.group(0).rstrip(_TRAILING))
    unique = list(dict.fromkeys(u for u in found if u))
    return unique[:limit]


class _MediaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k.lower(): v for k, v in attrs if v}
        if tag in ("img", "video", "audio", "source") and named.get("src"):
            self.found.append(named["src"])
        if tag == "video" and named.get("poster"):
            self.found.append(named["poster"])
        if tag == "meta" and (named.get("property") or named.get("name", "")).lower() in _MEDIA_META:
            if named.get("content"):
                self.found.append(named["content"])


def media_urls(html: bytes, base_url: str, limit: int = 20) -> list[str]:
    """The page's images, videos and og:image, as absolute http(s) URLs, each once."""
    parser = _MediaParser()
    parser.feed(html.decode("utf-8", "replace"))
    absolute = (urljoin(base_url, found.strip()) for found in parser.found)
    kept = [u for u in absolute if urlsplit(u).scheme in ("http", "https")]
    return list(dict.fromkeys(kept))[:limit]
