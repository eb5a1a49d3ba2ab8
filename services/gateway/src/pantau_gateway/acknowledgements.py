"""Acknowledging patrol alerts: by API, or from the signed link in the alert.

The link opens a page with a button rather than acknowledging on GET, because mail scanners
and link previews fetch links nobody clicked.
"""

import html
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from pantau_shared.bus import RpcError
from pantau_shared.contract.rpc import NOTIFICATION_ACK, Acknowledged, AcknowledgeNotification, Actor
from pantau_shared.links import ack_token_valid

from .deps import CallerDep, OriginDep, SettingsDep, StateDep
from .problems import Problem

router = APIRouter()


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Actor


@router.post("/v1/notifications/{delivery_id}/ack", response_model=Acknowledged, responses={404: {}})
async def acknowledge(
    delivery_id: UUID, body: AckIn, state: StateDep, caller: CallerDep, origin: OriginDep
) -> Acknowledged:
    """Confirm that someone handles the alerted case; its escalation stops."""
    command = AcknowledgeNotification(delivery_id=delivery_id, actor=body.actor, via="api", **origin.fields())
    return await state.rpc.call(caller.agency_id, NOTIFICATION_ACK, command)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='id'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta name='viewport' content='width=device-width'></head>"
        f"<body style='font-family:sans-serif;max-width:32em;margin:2em auto'>"
        f"<h2>{title}</h2>{body}</body></html>",
        status_code=status,
    )


def _check(settings: Any, agency_id: str, delivery_id: UUID, token: str) -> None:
    if not ack_token_valid(
        settings.ack_link_secret.get_secret_value().encode(), agency_id, str(delivery_id), token
    ):
        raise Problem(403, "tautan konfirmasi tidak sah")


@router.get("/ack/{agency_id}/{delivery_id}", response_class=HTMLResponse, include_in_schema=False)
async def ack_page(
    agency_id: str, delivery_id: UUID, settings: SettingsDep, t: Annotated[str, Query(max_length=64)]
) -> HTMLResponse:
    _check(settings, agency_id, delivery_id, t)
    return _page(
        "Konfirmasi penanganan kasus",
        (
            f"<form method='post'><input type='hidden' name='t' value='{html.escape(t)}'>"
            "<p><label>Nama Anda<br><input name='actor' required maxlength='200'></label></p>"
            "<p><button type='submit'>Saya tangani kasus ini</button></p></form>"
        ),
    )


@router.post("/ack/{agency_id}/{delivery_id}", response_class=HTMLResponse, include_in_schema=False)
async def ack_from_link(
    agency_id: str,
    delivery_id: UUID,
    state: StateDep,
    settings: SettingsDep,
    t: Annotated[str, Form(max_length=64)],
    actor: Annotated[str, Form(min_length=1, max_length=200)],
) -> HTMLResponse:
    _check(settings, agency_id, delivery_id, t)
    try:
        command = AcknowledgeNotification(delivery_id=delivery_id, actor=actor, via="link", principal="link")
        await state.rpc.call(agency_id, NOTIFICATION_ACK, command)
    except RpcError as error:
        return _page("Konfirmasi gagal", f"<p>{html.escape(error.detail)}</p>", error.status)
    return _page(
        "Terima kasih", f"<p>Kasus dicatat ditangani oleh {html.escape(actor)}. Eskalasi dihentikan.</p>"
    )
