"""The console's templates: Jinja2 with autoescaping, the labels people read instead of ids,
and the headers every console page carries."""

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pantau_shared.contract import TAXONOMY, CaseState, ReferralState, Resolution
from pantau_shared.regions import local_time
from pantau_shared.wording import PRIORITY_LABELS, number, platform_label, state_label

from ..sessions import CSRF_FIELD

RESOLUTION_LABELS = {
    Resolution.VIOLATION_HANDLED: "pelanggaran ditangani",
    Resolution.TAKEN_DOWN: "konten diturunkan",
    Resolution.NOT_A_VIOLATION: "bukan pelanggaran",
    Resolution.DUPLICATE: "duplikat",
    Resolution.INSUFFICIENT_EVIDENCE: "bukti tidak cukup",
    Resolution.REFERRED_ELSEWHERE: "diteruskan ke instansi lain",
}
REFERRAL_LABELS = {
    ReferralState.PENDING: "menunggu",
    ReferralState.ACKNOWLEDGED: "diterima",
    ReferralState.IN_PROGRESS: "sedang ditangani",
    ReferralState.DONE: "selesai",
    ReferralState.DECLINED: "ditolak",
}
DELIVERY_LABELS = {
    "pending": "menunggu",
    "sending": "sedang dikirim",
    "sent": "terkirim",
    "failed": "gagal",
    "skipped": "dilewati",
}
# What a line of a case's history records (triage's `change` values).
CHANGE_LABELS = {
    "opened": "kasus dibuka",
    "report_attached": "laporan baru bergabung",
    "state_changed": "status diubah",
    "reclassified": "kategori dikoreksi",
    "assigned": "penugasan",
    "referred": "diteruskan ke instansi lain",
    "referral_joined": "rujukan bergabung",
    "referral_updated": "penanganan instansi mitra",
}
# No script, no frames, no foreign origin: the pages are plain HTML forms and inline SVG.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(moment: datetime | None, region_code: str | None = None) -> str:
    return local_time(moment, region_code) if moment is not None else "-"


def _category(category: str) -> str:
    info = TAXONOMY.get(category)  # type: ignore[call-overload]  # a str from a form or a view
    # A key of the statistics (`tidak_diketahui`) or of a newer taxonomy reads as words.
    return info.label if info is not None else category.replace("_", " ")


def _resolution(resolution: str | None) -> str:
    try:
        return RESOLUTION_LABELS[Resolution(resolution)] if resolution else "-"
    except ValueError:
        return str(resolution)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pantau_gateway.console", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when,
        number=number,
        case_number=number,
        state=state_label,
        priority=lambda level: PRIORITY_LABELS.get(level, level),
        platform=platform_label,
        category=_category,
        resolution=_resolution,
        delivery=lambda state: DELIVERY_LABELS.get(state, state),
        change=lambda change: CHANGE_LABELS.get(change, change),
        evidence_kind=lambda kind: EVIDENCE_KINDS.get(kind, kind),
        evidence_status=lambda status: EVIDENCE_STATUSES.get(status, status),
        takedown_status=lambda status: TAKEDOWN_STATUSES.get(status, status),
    )
    env.globals.update(
        taxonomy=TAXONOMY,
        states=list(CaseState),
        resolutions=RESOLUTION_LABELS,
        priorities=PRIORITY_LABELS,
        referral_states=REFERRAL_LABELS,
        csrf_field=CSRF_FIELD,
    )
    return env


templates = Jinja2Templates(env=environment())


EVIDENCE_KINDS = {
    "warc": "arsip halaman (WARC)",
    "screenshot": "tangkapan layar",
    "media": "media",
    "attachment": "lampiran",
}
EVIDENCE_STATUSES = {
    "preserved": "tersimpan",
    "refused": "ditolak",
    "failed": "gagal diambil",
    "unavailable": "tidak tersedia",
    "deleted": "dihapus (retensi)",
}
TAKEDOWN_STATUSES = {
    "requested": "diajukan",
    "acknowledged": "diterima platform",
    "overdue": "melewati tenggat",
    "removed": "sudah diturunkan",
    "refused": "ditolak platform",
}


def render(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=code, headers=HEADERS)
