"""Acknowledging patrol alerts: by API, or from the signed link in the alert.

The link opens a page with a button rather than acknowledging on GET, because mail scanners
and link previews fetch links nobody clicked.
"""

import html
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from pantau_shared.bus import RpcError
from pantau_shared.contract.rpc import NOTIFICATION_ACK, Acknowledged, AcknowledgeNotification, Actor
from pantau_shared.links import ack_token_valid
from pantau_shared.settings import PlatformSettings
from pantau_shared.wording import number

from .deps import OriginDep, SettingsDep, StateDep
from .pages import as_uuid, case_facts, fetch_case, invalid_link, page
from .roles import STAFF, Principal, Scope, public, require

router = APIRouter()


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Actor


@router.post("/v1/notifications/{delivery_id}/ack", response_model=Acknowledged, responses={404: {}})
async def acknowledge(
    delivery_id: UUID,
    body: AckIn,
    state: StateDep,
    caller: Annotated[Principal, require(*STAFF, scope=Scope.CASES_WRITE)],
    origin: OriginDep,
) -> Acknowledged:
    """Confirm that someone handles the alerted case; its escalation stops."""
    command = AcknowledgeNotification(delivery_id=delivery_id, actor=body.actor, via="api", **origin.fields())
    return await state.rpc.call(caller.agency_id, NOTIFICATION_ACK, command)


def _valid(settings: PlatformSettings, agency_id: str, delivery_id: str, case_id: str, token: str) -> bool:
    delivery, case = as_uuid(delivery_id), as_uuid(case_id)
    return (
        delivery is not None
        and case is not None
        and ack_token_valid(
            settings.ack_link_secret.get_secret_value().encode(), agency_id, str(delivery), str(case), token
        )
    )


SIGNED_LINK = public("opened from the signed link in an alert: the token is the authority", audited_as="link")


@router.get(
    "/ack/{agency_id}/{delivery_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[SIGNED_LINK],
)
async def ack_page(
    agency_id: str,
    delivery_id: str,
    state: StateDep,
    settings: SettingsDep,
    t: Annotated[str, Query(max_length=64)] = "",
    c: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """A page that names the case being confirmed, with the button that confirms it."""
    if not _valid(settings, agency_id, delivery_id, c, t):
        return invalid_link()
    try:
        facts = case_facts(await fetch_case(state.rpc, agency_id, UUID(c)))
    except RpcError:
        # The confirmation goes to notify, not to triage: it works while the case cannot be read.
        facts = f"<p>Nomor kasus: {number(c)}</p>"
    return page(
        "Konfirmasi penanganan kasus",
        facts
        + (
            f"<form method='post'><input type='hidden' name='t' value='{html.escape(t)}'>"
            f"<input type='hidden' name='c' value='{html.escape(c)}'>"
            "<p><label>Nama Anda<br><input name='actor' required maxlength='200'></label></p>"
            "<p><button type='submit'>Saya tangani kasus ini</button></p></form>"
        ),
    )


@router.post(
    "/ack/{agency_id}/{delivery_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[SIGNED_LINK],
)
async def ack_from_link(
    agency_id: str,
    delivery_id: str,
    state: StateDep,
    settings: SettingsDep,
    t: Annotated[str, Form(max_length=64)] = "",
    c: Annotated[str, Form(max_length=64)] = "",
    actor: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    if not _valid(settings, agency_id, delivery_id, c, t):
        return invalid_link()
    if not actor.strip():
        return page("Konfirmasi gagal", "<p>Tuliskan nama Anda, lalu tekan tombol sekali lagi.</p>", 422)
    try:
        command = AcknowledgeNotification(
            delivery_id=UUID(delivery_id), actor=actor.strip(), via="link", principal="link"
        )
        await state.rpc.call(agency_id, NOTIFICATION_ACK, command)
    except RpcError as error:
        reason = {404: "Peringatan ini tidak ditemukan."}.get(
            error.status, "Layanan notifikasi sedang tidak dapat dihubungi. Coba lagi beberapa saat lagi."
        )
        return page("Konfirmasi gagal", f"<p>{reason}</p>", error.status)
    return page(
        "Terima kasih",
        f"<p>Kasus {number(c)} dicatat ditangani oleh {html.escape(actor.strip())}. Eskalasi dihentikan.</p>",
    )
