"""Which case each report of a batch joins, decided in memory over the cases the batch touches.

The batch's reads come first (the open cases its links and texts name, the near-duplicate
candidates, the reporters already on those cases, all locked or read in a few statements); the
reports are then matched in order against those cases and the ones opened earlier in the same
batch, so two near-duplicates in one batch join one case exactly as they would one after the
other. What changed is written at the end, set-based.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pantau_shared.contract import CaseOpened, CaseState, CaseUpdated, EventData, ReportReceived

from .matching import SIMILARITY_THRESHOLD, Fingerprint, similarity
from .priority import assess, joined_factors
from .repository import Attachment, Case, NewCase


@dataclass
class _Touched:
    case: Case
    reporters: set[str]
    opened: NewCase | None = None  # set when the batch opened the case


@dataclass
class CaseBook:
    """The cases one batch reads and changes; `changes()` is what to write."""

    now: datetime
    _cases: dict[UUID, _Touched] = field(default_factory=dict)
    _by_key: dict[tuple[str, str, str], UUID] = field(default_factory=dict)
    _prints: list[tuple[str, Fingerprint, UUID]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    events: list[EventData] = field(default_factory=list)

    @classmethod
    def of(cls, now: datetime, locked: Iterable[Case], reporters: Iterable[tuple[UUID, str]]) -> "CaseBook":
        book = cls(now)
        for case in locked:
            if case.state != CaseState.CLOSED:  # closed while this batch waited for the lock
                book._add(_Touched(case, set()))
        for case_id, reporter_id in reporters:
            if case_id in book._cases:
                book._cases[case_id].reporters.add(reporter_id)
        return book

    def _add(self, touched: _Touched) -> None:
        case = touched.case
        self._cases[case.case_id] = touched
        for kind, value in (("url", case.canonical_url), ("content", case.content_sha256)):
            if value is not None:
                self._by_key.setdefault((case.agency_id, kind, value), case.case_id)

    def same_content(self, report: ReportReceived) -> Case | None:
        """The open case about the same link, else about the same text."""
        for kind, value in (("url", report.canonical_url), ("content", report.content_sha256)):
            if value is not None and (found := self._by_key.get((report.agency_id, kind, value))):
                return self._cases[found].case
        return None

    def near_duplicate(
        self, agency_id: str, print_: Fingerprint, stored: tuple[float, UUID] | None
    ) -> Case | None:
        """The most similar of the best stored candidate and the cases this batch opened."""
        best = stored if stored is not None and stored[1] in self._cases else None
        for agency, other, case_id in self._prints:
            if agency != agency_id or not set(print_.band_keys) & set(other.band_keys):
                continue
            score = similarity(print_, other)
            if score >= SIMILARITY_THRESHOLD and (best is None or score > best[0]):
                best = (score, case_id)
        return self._cases[best[1]].case if best else None

    def open(
        self, opened: CaseOpened, new: NewCase, print_: Fingerprint | None, report: ReportReceived
    ) -> None:
        """A case opened by `report`, which is then attached to it as its first report."""
        self._add(_Touched(new.case, set(), new))
        if print_ is not None:
            self._prints.append((opened.agency_id, print_, opened.case_id))
        self.events.append(opened)
        self._attach(opened.case_id, report)

    def attach(self, case: Case, report: ReportReceived) -> None:
        reports, reporters = self._attach(case.case_id, report)
        touched = self._cases[case.case_id]
        factors = joined_factors(case.priority_factors, report)
        priority = assess(
            case.categories,
            reporters=reporters,
            reports=reports,
            reach=max(case.reach or 0, report.reach or 0) or None,
            factors=factors,
        )
        touched.case = touched.case.model_copy(
            update={
                "priority_factors": factors,
                "priority": priority.score,
                "priority_level": priority.level,
                "priority_reasons": priority.reasons,
            }
        )
        self.events.append(
            CaseUpdated(
                case_id=case.case_id,
                agency_id=case.agency_id,
                updated_at=self.now,
                change="report_attached",
                state=case.state,
                region_code=case.region_code,
                categories=case.categories,
                priority=priority.score,
                priority_level=priority.level,
                report_count=reports,
                reporter_count=reporters,
                report_id=report.report_id,
                routed_to=case.routed_to,
            )
        )

    def _attach(self, case_id: UUID, report: ReportReceived) -> tuple[int, int]:
        """Count the report in, and return the case's new (report_count, reporter_count).

        A counted report is a new reporter unless its reporter is already on the case; one
        without a reporter (an agency's API report) is somebody of its own, not nobody. A flood
        is not independent confirmation, so neither counted nor remembered as a reporter."""
        touched = self._cases[case_id]
        reporter = None if report.sender_flagged else report.reporter_id
        new_reporter = not report.sender_flagged and (reporter is None or reporter not in touched.reporters)
        if reporter is not None:
            touched.reporters.add(reporter)
        touched.case = touched.case.model_copy(
            update={
                "report_count": touched.case.report_count + 1,
                "reporter_count": touched.case.reporter_count + int(new_reporter),
                "updated_at": self.now,
            }
        )
        self.attachments.append(Attachment(report.report_id, case_id, reporter, self.now))
        return touched.case.report_count, touched.case.reporter_count

    def case(self, case_id: UUID) -> Case:
        return self._cases[case_id].case

    def opened(self) -> list[NewCase]:
        """The cases this batch opened, as they stand after all its reports."""
        return [
            NewCase(t.case, t.opened.first_text, t.opened.fingerprint, t.opened.source)
            for t in self._cases.values()
            if t.opened is not None
        ]

    def updated(self) -> list[Case]:
        """Stored cases this batch attached reports to, as they stand now."""
        attached = {a.case_id for a in self.attachments}
        return [t.case for t in self._cases.values() if t.opened is None and t.case.case_id in attached]
