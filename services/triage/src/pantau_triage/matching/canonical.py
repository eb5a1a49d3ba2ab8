"""Canonical form of a report's text, so forwarded copies of one message compare equal.

A WhatsApp forward of a hoax differs from the original in wrapping, not in content: a
"Diteruskan" / "*PENTING*" / "copas dari grup sebelah" header, a "Sumber: ..." footer, emoji,
links, case, punctuation and spacing. `canonical_text` removes exactly those and keeps every
word (Indonesian or not) and every number, because "22 Mei" and "60 korban" are content.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

__all__ = ["canonical_key", "canonical_text", "content_key"]

# Tokens that address something rather than say something: links, bare domains, e-mail
# addresses, @mentions. Checked per whitespace token, which is much cheaper than scanning the text.
_ADDRESS_TOKEN = re.compile(
    r"[^\w@]*(?:https?://|www\.|@"
    r"|[\w-]+(?:\.[\w-]+)*\.(?:com|id|co|net|org|ly|me|gl|io|info|tv|news|la)(?:[/?#]|\W*$)"
    r"|[\w.+-]+@[\w-]+\.)"
)
# Whole header/footer lines added by the forwarding chain, matched after lower-casing and with
# decoration (*, _, ~, >, emoji, brackets) already trimmed from the line's ends. Only lines at the
# start or end of the message are dropped: the same words inside the body are content.
_WRAPPER_LINE = re.compile(
    r"^(?:"
    r"(?:pesan\s+)?(?:di\s*)?teruskan(?:\s+(?:dari|dr)\b.*)?"
    r"|(?:pesan\s+)?diteruskan(?:\s+(?:berkali-kali|dari|dr)\b.*)?"
    r"|forwarded(?:\s+(?:many\s+times|message|from)\b.*)?"
    r"|-+\s*forwarded message\s*-+"
    r"|(?:penting|info\s+penting|urgent|breaking\s+news|berita\s+terkini|info|waspada)"
    r"|(?:copas|copy\s*paste|kopas|c\s*p)(?:\s+(?:dari|dr|dri)\b.*)?"
    r"|(?:dari|dr|dri)\s+(?:grup|group|grp|wag)\b.*"
    r"|(?:sumber|source|src|cc|via)(?:\s*:.*)?"
    r"|(?:mohon\s+)?(?:sebarkan|viralkan|share)(?:\s+\S+){0,3}"
    r")$"
)
# The same wrappers when they share the first line with the content, e.g. "*PENTING* Besok ...".
_WRAPPER_PREFIX = re.compile(
    r"^[\W_]*(?:(?:fwd?|fw|re|diteruskan|forwarded|copas)\s*:"
    r"|(?:pe+n+t+i+n+g+|info penting|breaking news|urgent)\s*[*:!-]+)\s*",
)
_SOURCE_SUFFIX = re.compile(r"\s(?:sumber|source)\s*:.*$")
_LEADING_DECORATION = re.compile(r"^[\W_]+")
# emoji, bold/italic markers and brackets inside a wrapper line ("‼️ info penting ‼️")
_NON_EDGE = re.compile(r"[^\w\s:.,/-]+")
_HAS_WORD = re.compile(r"[^\W_]")
# wrappers are short lines; a longer edge line is content and is not matched against them
_MAX_WRAPPER_LENGTH = 80
_NON_WORD = re.compile(r"[\W_]+")
# Chat spellings that forwarders swap freely; one spelling each so a re-typed copy still matches.
_CHAT_SPELLINGS = {
    "yg": "yang",
    "dgn": "dengan",
    "utk": "untuk",
    "tdk": "tidak",
    "gak": "tidak",
    "ga": "tidak",
    "nggak": "tidak",
    "ngga": "tidak",
    "enggak": "tidak",
    "sdh": "sudah",
    "udah": "sudah",
    "udh": "sudah",
    "blm": "belum",
    "jgn": "jangan",
    "krn": "karena",
    "karna": "karena",
    "dr": "dari",
    "dri": "dari",
    "dlm": "dalam",
    "pd": "pada",
    "kpd": "kepada",
    "tsb": "tersebut",
    "bpk": "bapak",
    "spt": "seperti",
    "org": "orang",
    "hrs": "harus",
    "bs": "bisa",
    "tp": "tapi",
    "jd": "jadi",
    "klo": "kalau",
    "kalo": "kalau",
    "aja": "saja",
    "sj": "saja",
    "sy": "saya",
    "kmrn": "kemarin",
    "skrg": "sekarang",
}
# latin letters only: digits repeat in real numbers ("1000"), and the class is cheaper to test
_ELONGATION = re.compile(r"([a-z])\1\1+")


def canonical_text(text: str) -> str:
    """Return the words of `text` without forwarding wrappers, emoji, links or punctuation.

    The result is lower-case words and numbers separated by single spaces; it is empty when the
    message held nothing but wrappers. Common chat spellings ("yg", "jgn") become the word.
    """
    text = unicodedata.normalize("NFKC", html.unescape(text)).lower()
    lines = [_drop_addresses(line) for line in text.splitlines()]
    lines = _strip_wrapper_lines([line for line in lines if _HAS_WORD.search(line)])
    if lines:
        lines[0] = _strip_wrapper_prefixes(lines[0])
        lines[-1] = _SOURCE_SUFFIX.sub("", lines[-1])
    words = _NON_WORD.sub(" ", " ".join(lines))
    # "PENTIIIING" and "bangeeet": forwarded chains elongate words, the word stays the same.
    words = _ELONGATION.sub(r"\1", words)
    return " ".join([_CHAT_SPELLINGS.get(word, word) for word in words.split()])


def content_key(text: str) -> str:
    """SHA-256 hex digest of the canonical text: equal keys mean the same message re-sent."""
    return canonical_key(canonical_text(text))


def canonical_key(canonical: str) -> str:
    """`content_key` of a text already in canonical form."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _drop_addresses(line: str) -> str:
    if "." not in line and "@" not in line:
        return line
    return " ".join(
        [
            token
            for token in line.split()
            if not (("." in token or "@" in token) and _ADDRESS_TOKEN.match(token))
        ]
    )


def _strip_wrapper_lines(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and _is_wrapper(lines[start]):
        start += 1
    while end > start and _is_wrapper(lines[end - 1]):
        end -= 1
    return lines[start:end]


def _strip_wrapper_prefixes(line: str) -> str:
    # "Fwd: Fwd: *PENTING*: ..." stacks one marker per hop.
    while (stripped := _WRAPPER_PREFIX.sub("", line, count=1)) != line:
        line = stripped
    return line


def _is_wrapper(line: str) -> bool:
    if len(line) > _MAX_WRAPPER_LENGTH:
        return False
    core = " ".join(_NON_EDGE.sub(" ", _LEADING_DECORATION.sub("", line)).split()).rstrip(":.,/-")
    return bool(_WRAPPER_LINE.match(core))
