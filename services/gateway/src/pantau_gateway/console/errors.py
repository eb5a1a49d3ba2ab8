"""Errors on console pages are pages too: a person with a browser never meets JSON.

The console's routes use their own route class, so these answers stay within the console and
the API's problem+json handlers stay as they are for everything else.
"""

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from pantau_shared.bus import RpcError

from ..problems import Problem
from .identity import PREFIX, SIGN_IN
from .rendering import render

UNAVAILABLE = {
    404: ("Tidak ditemukan", "Kasus ini tidak ada, atau tidak terlihat oleh instansi Anda."),
    503: ("Layanan tidak berjalan", "Layanan yang menjawab halaman ini sedang tidak berjalan. Coba lagi."),
    504: ("Layanan tidak menjawab", "Layanan yang menjawab halaman ini tidak menjawab. Coba lagi."),
}


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", status, title=title, message=message)


def sign_in_first(request: Request) -> RedirectResponse:
    """To the sign-in page, and back here afterwards (a form post goes back to its page)."""
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = urlsplit(request.headers.get("referer", "")).path or "/konsol/"
    return RedirectResponse(f"{SIGN_IN}?lanjut={quote(target, safe='')}", status_code=303)


def console_router() -> APIRouter:
    """A router of console pages. Each has the prefix itself, not its includer, so a route's
    own path is the whole path (the audit log names the action by it)."""
    return APIRouter(prefix=PREFIX, include_in_schema=False, route_class=ConsoleRoute)


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as problem:
                if problem.status == 401:
                    return sign_in_first(request)
                return error_page(request, problem.status, problem.title, problem.detail)
            except RequestValidationError:
                return error_page(request, 422, "Data tidak valid", "Isian tidak lengkap atau tidak sah.")
            except RpcError as error:
                title, message = UNAVAILABLE.get(error.status, (error.title, error.detail))
                return error_page(request, error.status, title, message)

        return answer
