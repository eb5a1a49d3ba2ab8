"""Pages for people who follow a link in an alert: read the case, acknowledge the alert.

The links are signed (`pantau_shared.links`) and work without an API key; each opens one case
of one agency, read-only. Everything here is HTML in Indonesian, errors included: a person with
a browser should never meet JSON.
"""

import html
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from pantau_shared.bus import RpcClient, RpcError
from pantau_shared.contract import TAXONOMY, CaseView
from pantau_shared.contract.rpc import CASE_GET, CaseQuery
from pantau_shared.links import case_token_valid
from pantau_shared.regions import local_time
from pantau_shared.wording import PRIORITY_LABELS, number, platform_label, state_label

from .deps import SettingsDep, StateDep
from .roles import public

router = APIRouter()

UNAVAILABLE = {
    404: "Kasus ini tidak ditemukan, atau tidak terlihat oleh instansi pada tautan.",
    503: "Layanan kasus sedang tidak berjalan. Coba lagi beberapa saat lagi.",
    504: "Layanan kasus tidak menjawab. Coba lagi beberapa saat lagi.",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='id'><head><meta charset='utf-8'><title>{html.escape(title)}"
        "</title><meta name='viewport' content='width=device-width'></head>"
        "<body style='font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em'>"
        f"<h2>{html.escape(title)}</h2>{body}</body></html>",
        status_code=status,
    )


def invalid_link() -> HTMLResponse:
    return page(
        "Tautan tidak berlaku",
        "<p>Tautan ini tidak lengkap atau tidak sah, mungkin terpotong saat disalin. Buka tautan"
        " langsung dari pesan Pantau yang Anda terima, atau hubungi koordinator tim patroli.</p>",
        403,
    )


def unavailable(error: RpcError) -> HTMLResponse:
    message = UNAVAILABLE.get(error.status, "Kasus tidak dapat ditampilkan saat ini.")
    return page("Kasus tidak dapat ditampilkan", f"<p>{html.escape(message)}</p>", error.status)


def as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


async def fetch_case(rpc: RpcClient, agency_id: str, case_id: UUID) -> CaseView:
    return await rpc.call(agency_id, CASE_GET, CaseQuery(case_id=case_id))


def case_facts(case: CaseView) -> str:
    """The case as a table: what it is, how urgent, where, and what was reported."""
    categories = ", ".join(TAXONOMY[c.category].label for c in case.categories)
    rows = [
        ("Nomor kasus", number(case.case_id)),
        ("Kategori", categories or "belum terklasifikasi"),
        ("Prioritas", f"{PRIORITY_LABELS[case.priority_level]} ({case.priority}/100)"),
        ("Status", state_label(case.state)),
        ("Wilayah", case.region_code or "-"),
        ("Platform", platform_label(case.platform)),
        ("Tautan", case.canonical_url or "-"),
        ("Dibuka", local_time(case.opened_at, case.region_code)),
        ("Laporan", f"{case.report_count} laporan dari {case.reporter_count} pelapor"),
    ]
    table = "".join(
        f"<tr><td style='padding-right:1em;color:#555'>{label}</td><td>{html.escape(str(value))}</td></tr>"
        for label, value in rows
    )
    return (
        f"<table>{table}</table><h3>Ringkasan</h3><blockquote>{html.escape(case.summary or '-')}</blockquote>"
    )


@router.get(
    "/kasus/{agency_id}/{case_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[public("the read-only case page of an alert's signed link: the token is the authority")],
)
async def case_page(
    agency_id: str,
    case_id: str,
    state: StateDep,
    settings: SettingsDep,
    t: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """The case behind the "Buka kasus" link of an alert, read-only."""
    case_uuid = as_uuid(case_id)
    secret = settings.ack_link_secret.get_secret_value().encode()
    if case_uuid is None or not case_token_valid(secret, agency_id, str(case_uuid), t):
        return invalid_link()
    try:
        case = await fetch_case(state.rpc, agency_id, case_uuid)
    except RpcError as error:
        return unavailable(error)
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in dict.fromkeys(case.priority_reasons))
    found = "".join(
        f"<li>{html.escape(TAXONOMY[c.category].label)}: {html.escape(c.reason)}</li>"
        for c in case.categories
    )
    return page(
        f"Kasus {number(case.case_id)}",
        case_facts(case)
        + (f"<h3>Temuan</h3><ul>{found}</ul>" if found else "")
        + (f"<h3>Alasan prioritas</h3><ul>{reasons}</ul>" if reasons else "")
        + "<p style='color:#777'>Halaman ini hanya untuk dibaca. Perubahan status kasus dilakukan"
        " lewat aplikasi instansi Anda (API Pantau).</p>",
    )
