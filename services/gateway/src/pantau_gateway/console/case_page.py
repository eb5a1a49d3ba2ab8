"""The case page: everything known of one case, and the actions an officer takes on it.

Each action is a form posted to its own address and answered with a redirect back to the page,
so a reload never posts twice. Each calls the same request/reply method as the API's route for
it, with the officer's name as the actor and their user as the principal.
"""

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pantau_shared.bus import RpcClient, RpcError
from pantau_shared.contract import CASE_REFERRALS
from pantau_shared.contract.evidence import EVIDENCE_CASE
from pantau_shared.contract.queue import CASE_ASSIGN, CASE_NOTE, CASE_NOTES
from pantau_shared.contract.rpc import (
    CASE_GET,
    CASE_HISTORY,
    CASE_RECLASSIFY,
    CASE_REFERRAL,
    CASE_TRANSITION,
    NOTIFICATION_ACK,
    NOTIFICATION_LIST,
    CaseQuery,
    Method,
)
from pantau_shared.contract.takedowns import TAKEDOWN_LIST

from .. import users
from ..deps import StateDep
from .errors import console_router
from .forms import FormInvalid, build
from .identity import Officer, signed_in
from .rendering import render

router = console_router()
T = TypeVar("T")
ALERTS = ("case_alert", "case_escalation")
DONE = {
    "akui": "Peringatan dikonfirmasi: Anda tercatat menangani kasus ini, eskalasi dihentikan.",
    "status": "Status kasus diubah.",
    "kategori": "Kategori kasus dikoreksi.",
    "penugasan": "Penugasan kasus dicatat.",
    "catatan": "Catatan ditambahkan.",
    "rujukan": "Penanganan instansi Anda dicatat.",
}
Form200 = Annotated[str, Form(max_length=200)]
FormNote = Annotated[str, Form(max_length=5_000)]


async def _optional(call: Awaitable[T]) -> T | None:
    """A part of the page whose service is down stays empty; the rest still shows."""
    try:
        return await call
    except RpcError:
        return None


async def case_context(request: Request, rpc: RpcClient, officer: Officer, case_id: UUID) -> dict[str, Any]:
    agency, query = officer.agency_id, CaseQuery(case_id=case_id)
    # The case first: another agency's case is 404 before anything else is asked about it.
    case = await rpc.call(agency, CASE_GET, query)
    # The evidence is kept by the owner's intake, also for an agency the case was routed to.
    history, notifications, referrals, notes, evidence, takedowns = await asyncio.gather(
        _optional(rpc.call(agency, CASE_HISTORY, query)),
        _optional(rpc.call(agency, NOTIFICATION_LIST, query)),
        _optional(rpc.call(agency, CASE_REFERRALS, query)),
        _optional(rpc.call(agency, CASE_NOTES, query)),
        _optional(rpc.call(case.agency_id, EVIDENCE_CASE, query)),
        _optional(rpc.call(agency, TAKEDOWN_LIST, query)),
    )
    staff = await users.listed(request.state.pantau.infra.pool, agency)
    return {
        "case": case,
        "assignee": getattr(case, "assignee", None),
        "owned": case.agency_id == agency,
        "history": history.entries if history is not None else None,
        # The patrol's alerts only: news sent to reporters would show their contacts.
        "alerts": None
        if notifications is None
        else [n for n in notifications.notifications if n.template in ALERTS],
        "partners": referrals.referrals if referrals is not None else None,
        "notes": notes.notes if notes is not None else None,
        "evidence": evidence,
        "takedowns": takedowns.takedowns if takedowns is not None else None,
        "staff": [u for u in staff if u.disabled_at is None],
        "names": {str(u.user_id): u.name for u in staff},
    }


async def show(
    request: Request, rpc: RpcClient, officer: Officer, case_id: UUID, error: str | None = None
) -> HTMLResponse:
    context = await case_context(request, rpc, officer, case_id)
    done = DONE.get(request.query_params.get("selesai", ""))
    return render(
        request, "case.html", 422 if error else 200, officer=officer, error=error, done=done, **context
    )


@router.get("/kasus/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, case_id: UUID, state: StateDep, officer: Annotated[Officer, signed_in("read")]
) -> HTMLResponse:
    return await show(request, state.rpc, officer, case_id)


async def act(
    request: Request,
    rpc: RpcClient,
    officer: Officer,
    case: UUID,
    done: str,
    method: Method[Any, Any],
    **fields: Any,
) -> Response:
    """Runs `method` with the form's fields (blank ones left out), the officer as the actor and
    their user as the principal, and goes back to the case. A refusal the officer can fix (a
    transition not allowed from here, a form the contract refuses) is shown on the case page."""
    given = {k: v.strip() if isinstance(v, str) else v for k, v in fields.items()}
    command = {k: v for k, v in given.items() if v != ""}
    command.update(actor=officer.name, principal=officer.principal.name)
    try:
        await rpc.call(officer.agency_id, method, build(lambda: method.request.model_validate(command)))
    except FormInvalid as invalid:
        return await show(request, rpc, officer, case, invalid.message)
    except RpcError as refused:
        if refused.status not in (403, 409, 422):
            raise
        # Triage's refusal names what is allowed instead, in Indonesian.
        return await show(request, rpc, officer, case, refused.detail)
    return RedirectResponse(f"/konsol/kasus/{case}?selesai={done}", status_code=303)


@router.post("/kasus/{case_id}/akui")
async def acknowledge(
    request: Request,
    case_id: UUID,
    state: StateDep,
    officer: Annotated[Officer, signed_in("acknowledge")],
    delivery_id: Annotated[str, Form(max_length=64)],
) -> Response:
    return await act(
        request, state.rpc, officer, case_id, "akui", NOTIFICATION_ACK, delivery_id=delivery_id, via="api"
    )


@router.post("/kasus/{case_id}/status")
async def transition(
    request: Request,
    case_id: UUID,
    state: StateDep,
    officer: Annotated[Officer, signed_in("transition")],
    to: Form200,
    resolution: Form200 = "",
    note: FormNote = "",
) -> Response:
    return await act(
        request,
        state.rpc,
        officer,
        case_id,
        "status",
        CASE_TRANSITION,
        case_id=case_id,
        to=to,
        resolution=resolution,
        note=note,
    )


@router.post("/kasus/{case_id}/kategori")
async def correct_categories(
    request: Request,
    case_id: UUID,
    state: StateDep,
    officer: Annotated[Officer, signed_in("classify")],
    category: Annotated[list[str], Form()] = [],  # noqa: B006  # FastAPI copies defaults
    note: FormNote = "",
) -> Response:
    return await act(
        request,
        state.rpc,
        officer,
        case_id,
        "kategori",
        CASE_RECLASSIFY,
        case_id=case_id,
        categories=category,
        note=note,
    )


@router.post("/kasus/{case_id}/penugasan")
async def assign(
    request: Request,
    case_id: UUID,
    state: StateDep,
    officer: Annotated[Officer, signed_in("assign")],
    assignee: Form200 = "",
    note: FormNote = "",
) -> Response:
    return await act(
        request,
        state.rpc,
        officer,
        case_id,
        "penugasan",
        CASE_ASSIGN,
        case_id=case_id,
        assignee=assignee or None,
        note=note,
    )


@router.post("/kasus/{case_id}/catatan")
async def add_note(
    request: Request,
    case_id: UUID,
    state: StateDep,
    officer: Annotated[Officer, signed_in("note")],
    text: FormNote = "",
) -> Response:
    return await act(request, state.rpc, officer, case_id, "catatan", CASE_NOTE, case_id=case_id, text=text)


@router.post("/kasus/{case_id}/rujukan")
async def record_referral(
    request: Request,
    case_id: UUID,
    state: StateDep,
    officer: Annotated[Officer, signed_in("refer")],
    referral_state: Form200,
    note: FormNote = "",
) -> Response:
    return await act(
        request,
        state.rpc,
        officer,
        case_id,
        "rujukan",
        CASE_REFERRAL,
        case_id=case_id,
        state=referral_state,
        note=note,
    )
