"""Readable text from a mail body: charsets, HTML to text, reply history, forward headers, links."""

import codecs
import re
from html.parser import HTMLParser

# Mail labelled ISO-8859-1 or unlabelled is in practice Windows-1252 (Outlook's smart quotes), as
# browsers assume (WHATWG Encoding); 8-bit bytes under a US-ASCII label are usually UTF-8.
_LATIN1_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "cp819", "iso_8859-1"}
_ASCII_LABELS = {"", "us-ascii", "ascii", "ansi_x3.4-1968", "us", "unknown-8bit", "x-unknown"}
# Labels whose real-world text is in a superset: mail "in gb2312" is GBK (GB18030 covers both), as
# WHATWG maps them; Korean, Thai and Japanese labels likewise to the Windows code pages.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "x-gbk": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "iso-8859-9": "cp1254",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# C1 controls in decoded text are Windows-1252 bytes someone decoded as ISO-8859-1 (the stdlib
# does so for encoded-word headers): map them to what the sender typed.
_C1_AS_CP1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or None for b in range(0x80, 0xA0)}
_BLANK_RUNS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\r\f\v]+")

LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*_>"

# "Pada Sen, 12 Feb 2024 pukul 10.15 Budi <budi@example.id> menulis:" (Gmail in Indonesian) and
# "On Mon, Feb 12, 2024 at 10:15 AM Budi <budi@example.id> wrote:"; Gmail wraps them at 76
# characters, so a header may span two lines. A digit is required so prose is not mistaken.
_REPLY_HEADER = re.compile(r"^(pada|on)\s(?=.*\d).{4,300}\s(menulis|wrote)\s*:\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^-{2,}\s*(original message|pesan asli|pesan asal)\s*-{2,}$", re.IGNORECASE)
_FORWARD = re.compile(
    r"^(-{2,}\s*(forwarded message|pesan terusan|pesan yang diteruskan)\s*-{2,}"
    r"|begin forwarded message:|awal pesan yang diteruskan:)$",
    re.IGNORECASE,
)
_FIELD = re.compile(
    r"^\*?(from|dari|date|tanggal|sent|dikirim|subject|subjek|perihal|to|kepada|cc)\s*:", re.IGNORECASE
)
_OUTLOOK_FROM = re.compile(r"^\*?(from|dari)\s*:", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\*?(sent|dikirim|date|tanggal)\s*:", re.IGNORECASE)
_MOBILE_SIGNATURE = re.compile(r"^(sent from|dikirim dari)\s.{1,60}$", re.IGNORECASE)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset when it fits, else the usual suspects; never raises."""
    label = (charset or "").strip().strip("\"'").lower()
    if label in _LATIN1_LABELS:
        candidates = ["cp1252", "latin-1"]
    elif label in _ASCII_LABELS:
        candidates = ["utf-8", "cp1252"]
    elif label in _SUPERSETS:
        candidates = [_SUPERSETS[label], "utf-8", "cp1252"]
    else:
        try:
            candidates = [codecs.lookup(label).name, "utf-8", "cp1252"]
        except LookupError:
            candidates = ["utf-8", "cp1252"]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("utf-8", errors="replace")


def clean(text: str) -> str:
    """Text safe to store: no lone surrogates, NULs or control characters, `\\n` line ends."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "replace").decode(
            "utf-8", errors="replace"
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_C1_AS_CP1252)
    return _CONTROL.sub("", text)


def _only_escapes(text: str) -> bool:
    return all(not ("\ud800" <= ch <= "\udfff") or "\udc80" <= ch <= "\udcff" for ch in text)


def tidy(text: str) -> str:
    lines = [line.rstrip() for line in clean(text).split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "title", "noscript", "template"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "table",
            "ul",
            "ol",
            "blockquote",
            "pre",
            "hr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "header",
            "footer",
            "dt",
            "dd",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._buffer: list[str] = []
        self._skip = 0
        self._quote = 0
        self._anchors: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "br":
            self._newline(force=True)
        elif tag in self._BLOCK:
            self._newline()
            self._quote += tag == "blockquote"
        elif tag == "a":
            self._anchors.append((dict(attrs).get("href"), len("".join(self._buffer))))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self._SKIP:
            self.handle_starttag(tag, attrs)
            if tag == "blockquote":
                self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._anchors:
            href, start = self._anchors.pop()
            shown = "".join(self._buffer)[start:]
            if href and LINK.fullmatch(href.strip()) and href.strip() not in shown:
                self._buffer.append(f" ({href.strip()})")
        elif tag in self._BLOCK and tag != "br":
            self._newline()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buffer.append(_SPACES.sub(" ", data.replace("\n", " ")))

    def _newline(self, force: bool = False) -> None:
        line = "".join(self._buffer).strip()
        if not line and not force:
            return
        self._buffer.clear()
        # Quoted history is marked like plain text (`> `), so one set of rules strips both.
        self.lines.append(("> " * self._quote + line).rstrip())

    def text(self) -> str:
        self._newline()
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return tidy(parser.text())


def strip_history(text: str) -> tuple[str, bool]:
    """The sender's own words without quoted replies; a forwarded message kept without its headers.

    Returns the text and whether it contained a forwarded message."""
    lines = text.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if _FORWARD.match(line):
            rest = _drop_forward_headers(lines[i:])
            return tidy("\n".join([*_own_words(kept), "", *rest])), True
        if _history_starts(lines, i):
            break
        kept.append(lines[i])
        i += 1
    own = tidy("\n".join(_own_words(kept)))
    if own:
        return own, False
    # Nothing but history (a reply used to pass a message on): keep it, unquoted.
    return tidy("\n".join(re.sub(r"^(\s*>)+ ?", "", line) for line in lines)), False


def _history_starts(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if _SEPARATOR.match(line):
        return True
    if re.match(r"^(pada|on)\s", line, re.IGNORECASE):
        if _REPLY_HEADER.match(line):
            return True
        if i + 1 < len(lines) and _REPLY_HEADER.match(line + " " + lines[i + 1].strip()):
            return True
    # Outlook puts a "From:/Sent:" block (or "Dari:/Dikirim:") above the quoted message.
    if _OUTLOOK_FROM.match(line):
        return any(_OUTLOOK_NEXT.match(nxt.strip()) for nxt in lines[i + 1 : i + 4])
    return False


def _own_words(lines: list[str]) -> list[str]:
    words = [line for line in lines if not line.lstrip().startswith(">")]
    if "-- " in words:  # the RFC 3676 signature separator
        words = words[: words.index("-- ")]
    while words and (not words[-1].strip() or _MOBILE_SIGNATURE.match(words[-1].strip())):
        words.pop()
    return words


def _drop_forward_headers(lines: list[str]) -> list[str]:
    """Remove every forward marker and the header block under it; the forwarded text stays."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _FORWARD.match(lines[i].strip()):
            i += 1
            while i < len(lines) and (
                _FIELD.match(lines[i].strip()) or (lines[i].startswith((" ", "\t")) and lines[i].strip())
            ):
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return out


def links_in(text: str) -> list[str]:
    """http(s) links in order of appearance, without duplicates or trailing punctuation."""
    found: list[str] = []
    for match in LINK.finditer(text):
        url = match.group(0)
        while url and (
            url[-1] in _TRAILING
            or (url[-1] == ")" and url.count(")") > url.count("("))
            or (url[-1] == "]" and url.count("]") > url.count("["))
        ):
            url = url[:-1]
        if len(url) > len("https://") and url not in found:
            found.append(url)
    return found
