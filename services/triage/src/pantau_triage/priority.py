"""Case priority from 0 to 100, with the reasons that produced it."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pantau_shared.contract import TAXONOMY, CategoryScore, Channel, PriorityLevel, ReportReceived

LEVELS = ((75, PriorityLevel.CRITICAL), (50, PriorityLevel.HIGH), (25, PriorityLevel.MEDIUM))
# A mail whose sender could not be verified (SPF/DKIM/DMARC) may be spam or phishing under a
# borrowed name: still read, but below a verified report of the same content.
UNVERIFIED_SENDER_PENALTY = 15


@dataclass(frozen=True)
class Priority:
    score: int
    level: PriorityLevel
    reasons: tuple[str, ...]


def level_of(score: int) -> PriorityLevel:
    return next((level for floor, level in LEVELS if score >= floor), PriorityLevel.LOW)


def unverified_sender(report: ReportReceived) -> bool:
    """An email report whose sender did not pass authentication (no verdict counts as failed)."""
    return report.channel is Channel.EMAIL and (
        report.sender_auth is None or report.sender_auth.verdict != "pass"
    )


UNVERIFIED_REASON = "Pengirim email tidak terverifikasi (SPF/DKIM/DMARC tidak lulus): mungkin spam"
UNVERIFIED_FACTOR = (-float(UNVERIFIED_SENDER_PENALTY), UNVERIFIED_REASON)


def sender_factors(report: ReportReceived) -> tuple[tuple[float, str], ...]:
    """What the first report's sender adds to a case's stored factors, so a recomputed priority
    (another report joining, a reclassification) keeps it."""
    return (UNVERIFIED_FACTOR,) if unverified_sender(report) else ()


def joined_factors(
    factors: Sequence[tuple[float, str]], report: ReportReceived
) -> tuple[tuple[float, str], ...]:
    """A case's factors once `report` joins it: a report that is not from an unverified sender
    vouches for the case, so the unverified-sender penalty goes; one more unverified mail keeps it."""
    if unverified_sender(report):
        return tuple(factors)
    return tuple(f for f in factors if f != UNVERIFIED_FACTOR)


def assess(
    categories: list[CategoryScore] | tuple[CategoryScore, ...],
    reporters: int,
    reports: int,
    *,
    flooded_sender: int | None = None,
    unverified: bool = False,
    reach: int | None = None,
    factors: Sequence[tuple[float, str]] = (),
) -> Priority:
    reasons = []
    score = 10.0
    if categories:
        # The worst category dominates: severity (1-5) weighted by how sure the classifier is.
        top = max(categories, key=lambda c: TAXONOMY[c.category].severity * c.score)
        info = TAXONOMY[top.category]
        score += 60 * (info.severity / 5) * top.score
        reasons.append(f"{info.label} (tingkat bahaya {info.severity}/5, keyakinan {top.score:.0%})")
    else:
        reasons.append("Belum ada kategori pelanggaran yang terdeteksi")
    if reporters > 1 or reports > 1:
        # Many independent reporters signal reach; logarithmic so a forwarded flood saturates.
        bonus = min(30.0, 10 * math.log2(max(reporters, 1) + max(reports - reporters, 0) / 4 + 1))
        score += bonus
        reasons.append(f"Dilaporkan {reports} kali oleh {reporters} pelapor berbeda")
    if reach:
        # Followers or views: each tenfold adds a little, so one viral post cannot outrank a
        # severe category on its own.
        bonus = min(15.0, 3 * math.log10(max(reach, 1)))
        score += bonus
        reasons.append(f"Jangkauan sekitar {reach:,} akun".replace(",", "."))
    for points, reason in factors:
        score += points
        reasons.append(reason)
    if flooded_sender is not None:
        score -= 20
        reasons.append(f"Pengirim sudah mengirim {flooded_sender} laporan hari ini (dibatasi)")
    if unverified:
        score -= UNVERIFIED_SENDER_PENALTY
        reasons.append(UNVERIFIED_REASON)
    final = max(0, min(100, round(score)))
    # A factor can restate another (two rules naming one cue): each reason is said once.
    return Priority(score=final, level=level_of(final), reasons=tuple(dict.fromkeys(reasons)))
