"""Signing in and out of the console with a staff account (`users`, `sessions`).

The form calls the same `sign_in` as `POST /v1/sessions` (the same brute-force limit per client
address). It is bound to a short-lived cookie of its own by a CSRF token, so another site cannot
sign a browser in to an account of its choosing; the page a signed-out officer asked for is
where they land.
"""

import secrets
from typing import Annotated

from fastapi import Cookie, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import sessions
from ..deps import StateDep
from ..problems import Problem
from ..roles import public
from ..signin import sign_in as api_sign_in
from .errors import console_router
from .identity import SIGN_IN, Officer, signed_in
from .rendering import render

router = console_router()
FORM_COOKIE = "__Host-pantau-masuk"
HOME = "/konsol/"
_REFUSED = {
    401: "Alamat email atau kata sandi salah, atau akun dinonaktifkan.",
    429: "Terlalu banyak percobaan masuk yang gagal dari alamat ini. Coba lagi beberapa menit lagi.",
}


def _landing(target: str) -> str:
    """Only a console page of this gateway: never a redirect elsewhere."""
    return target if target.startswith(HOME) and not target.startswith("//") else HOME


def _form(request: Request, target: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "signin.html",
        status,
        error=error,
        target=_landing(target),
        csrf=sessions.csrf_token(token),
        csrf_field=sessions.CSRF_FIELD,
        # Where the agency signs its staff in with its own identity provider.
        oidc=request.state.pantau.oidc is not None,
    )
    response.set_cookie(
        FORM_COOKIE, token, max_age=3600, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


@router.get("/masuk", response_class=HTMLResponse, dependencies=[public("the sign-in form")])
async def sign_in_form(request: Request, lanjut: str = HOME) -> HTMLResponse:
    return _form(request, lanjut)


@router.post("/masuk", dependencies=[public("signing in: the password is the authority")])
async def sign_in(
    request: Request,
    state: StateDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1_000)] = "",
    lanjut: Annotated[str, Form(max_length=2_000)] = HOME,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    form_cookie: Annotated[str | None, Cookie(alias=FORM_COOKIE)] = None,
) -> Response:
    if form_cookie is None or not sessions.csrf_valid(form_cookie, csrf_token):
        return _form(request, lanjut, "Formulir masuk kedaluwarsa. Silakan isi sekali lagi.", 403)
    response = RedirectResponse(_landing(lanjut), status_code=303)
    try:
        await api_sign_in(state, request, response, email, password)
    except Problem as refused:
        return _form(request, lanjut, _REFUSED.get(refused.status, refused.detail), refused.status)
    response.delete_cookie(FORM_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.post("/keluar")
async def sign_out(
    state: StateDep,
    officer: Annotated[Officer, signed_in("sign_out")],
    session: Annotated[str | None, Cookie(alias=sessions.COOKIE)] = None,
) -> Response:
    if session is not None:
        await state.sessions.revoke(session)
    response = RedirectResponse(SIGN_IN, status_code=303)
    sessions.clear_cookie(response)
    return response
