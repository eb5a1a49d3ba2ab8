"""Mail whose structure is broken, and archives: what can still be recovered with the standard
library, and a clear note where nothing can.

- A multipart whose declared boundary appears nowhere (a relay rewrote it, a client wrote another)
  is parsed again with the boundary its body actually uses.
- A body that is still MIME (base64 blocks, part headers, boundary lines) is not text: it is
  dropped from the text, and the whole mail is kept as an attachment with a note.
- A zip attachment lists its files, each with its own hash, so evidence inside is visible.
"""

import email
import hashlib
import io
import re
import zipfile
from collections import Counter
from email import policy
from email.message import EmailMessage

BROKEN_NOTE = (
    "[Catatan Pantau: struktur MIME surel ini rusak dan isinya tidak dapat dibaca seluruhnya; "
    "surel asli disimpan utuh sebagai lampiran surel-asli.eml.]"
)
ORIGINAL_NAME = "surel-asli.eml"
_BOUNDARY_LINE = re.compile(rb"^--([0-9A-Za-z'()+_,./:=?-]{1,70}?)(--)?[ \t]*\r?$", re.MULTILINE)
_BASE64_LINE = re.compile(r"^[A-Za-z0-9+/]{40,}={0,2}$")
_MIME_HEADER = re.compile(r"^(content-[\w-]+|mime-version)\s*:", re.IGNORECASE)
MAX_ZIP_MEMBERS = 100
MAX_ZIP_TOTAL = 100 * 1024 * 1024


def with_real_boundary(message: EmailMessage, raw: bytes) -> EmailMessage | None:
    """The message parsed again with the boundary its body uses, when the declared one is not it."""
    if message.get_content_maintype() != "multipart" or _has_parts(message):
        return None
    declared = message.get_boundary()
    used = Counter(m.group(1) for m in _BOUNDARY_LINE.finditer(raw) if m.group(1).decode() != declared)
    if not used:
        return None
    boundary = used.most_common(1)[0][0].decode()
    try:
        repaired = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(repaired, EmailMessage)
        repaired.set_boundary(boundary)
        reparsed = email.message_from_bytes(repaired.as_bytes(), policy=policy.default)
    except Exception:  # the stdlib cannot write it back either: parse as it came
        return None
    assert isinstance(reparsed, EmailMessage)
    return reparsed if _has_parts(reparsed) else None


def _has_parts(message: EmailMessage) -> bool:
    return message.is_multipart() and any(True for _ in message.iter_parts())


def undecoded(text: str) -> bool:
    """Text that is still MIME: mostly base64 lines or part headers, not words."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return False
    mime = sum(1 for line in lines if _BASE64_LINE.match(line) or _MIME_HEADER.match(line))
    return mime * 2 >= len(lines)


def readable_lines(text: str) -> str:
    """The lines a person wrote, without base64 blocks and part headers."""
    kept = [
        line
        for line in text.split("\n")
        if not (_BASE64_LINE.match(line.strip()) or _MIME_HEADER.match(line.strip()))
    ]
    return "\n".join(kept)


def original_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def zip_members(data: bytes, max_member_bytes: int) -> list[tuple[str, int, str | None]]:
    """(name, size, sha256) of the files in a zip; sha256 is None for one over the size limit.
    An archive that is not a readable zip lists nothing (it is kept as one file all the same)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()][:MAX_ZIP_MEMBERS]
    except (zipfile.BadZipFile, OSError, ValueError):
        return []
    members: list[tuple[str, int, str | None]] = []
    total = 0
    for info in infos:
        name = info.filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "tanpa-nama"
        total += info.file_size
        # Sizes from the directory are checked before reading: a zip bomb is listed, not opened.
        if info.file_size > max_member_bytes or total > MAX_ZIP_TOTAL or info.flag_bits & 0x1:
            members.append((name, info.file_size, None))
            continue
        try:
            content = archive.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
            members.append((name, info.file_size, None))
            continue
        members.append((name, len(content), hashlib.sha256(content).hexdigest()))
    return members
