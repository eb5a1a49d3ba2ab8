"""RFC 9457 problem details for every error the API returns."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pantau_shared.bus import RpcError
from pantau_shared.contract.rpc import ErrorCode, problem_type

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Permintaan tidak valid",
    401: "Tidak terautentikasi",
    403: "Tidak diizinkan",
    404: "Tidak ditemukan",
    405: "Metode tidak diizinkan",
    413: "Isi permintaan terlalu besar",
    415: "Jenis konten tidak didukung",
    422: "Data tidak valid",
    429: "Terlalu banyak permintaan",
    500: "Kesalahan internal",
    503: "Layanan tidak tersedia",
    504: "Layanan tidak menjawab",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title or TITLES.get(status, "Kesalahan")
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request | None,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            request, error.status, error.title, error.detail, error.headers, **error.extra
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": list(map(str, e["loc"])), "message": e["msg"], "type": e["type"]}
            for e in error.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['location'])}: {e['message']}" for e in errors)
        return problem_response(request, 422, TITLES[422], detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            request,
            error.status_code,
            TITLES.get(error.status_code, "Kesalahan"),
            str(error.detail),
            getattr(error, "headers", None),
        )

    @app.exception_handler(RpcError)
    async def on_rpc(request: Request, error: RpcError) -> JSONResponse:
        extra: dict[str, Any] = {"type": problem_type(error.code)}
        if error.code is ErrorCode.CONFLICT:
            extra["allowed_states"] = error.allowed
        return problem_response(request, error.status, error.title, error.detail, **extra)
