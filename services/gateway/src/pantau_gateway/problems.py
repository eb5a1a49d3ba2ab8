"""RFC 9457 problem details for every error the API returns, in Bahasa Indonesia."""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from pantau_shared.bus import RpcError
from pantau_shared.contract.rpc import ErrorCode, problem_type

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Permintaan tidak valid",
    401: "Tidak terautentikasi",
    403: "Tidak diizinkan",
    404: "Tidak ditemukan",
    405: "Metode tidak diizinkan",
    409: "Konflik dengan keadaan saat ini",
    413: "Isi permintaan terlalu besar",
    415: "Jenis konten tidak didukung",
    422: "Data tidak valid",
    429: "Terlalu banyak permintaan",
    500: "Kesalahan internal",
    503: "Layanan tidak tersedia",
    504: "Layanan tidak menjawab",
}
# What Starlette's own errors (unknown path, wrong method) say, in the API's language.
DETAILS = {
    400: "permintaan tidak dapat dibaca",
    404: "alamat ini tidak ada di API",
    405: "metode HTTP ini tidak didukung untuk alamat ini",
    415: "jenis konten ini tidak didukung",
    500: "terjadi kesalahan di server; coba lagi nanti",
    503: "layanan yang menjawab permintaan ini sedang tidak tersedia; coba lagi sebentar lagi",
    504: "layanan yang menjawab permintaan ini tidak menjawab tepat waktu; coba lagi",
}
# The statuses every operation may answer with a problem (besides its own success status).
PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429, 503, 504)


class FieldError(BaseModel):
    location: list[str]
    message: str
    type: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem; `errors` lists each invalid field of a 422."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


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


def problem_body(status: int, title: str, detail: str, instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    return body


def problem_response(
    request: Request | None,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, title, detail, request.url.path if request is not None else None)
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


# pydantic's messages are English; these say the same for the error types the API can meet.
_MESSAGES = {
    "missing": "wajib diisi",
    "extra_forbidden": "kolom ini tidak dikenal",
    "string_type": "harus berupa teks",
    "string_unicode": "harus berupa teks Unicode yang sah",
    "string_too_short": "paling sedikit {min_length} karakter",
    "string_too_long": "paling banyak {max_length} karakter",
    "string_pattern_mismatch": "tidak sesuai format yang diminta",
    "too_short": "paling sedikit {min_length} butir",
    "too_long": "paling banyak {max_length} butir",
    "int_type": "harus berupa bilangan bulat",
    "int_parsing": "harus berupa bilangan bulat",
    "int_from_float": "harus berupa bilangan bulat, tanpa pecahan",
    "int_parsing_size": "bilangan terlalu besar",
    "float_type": "harus berupa angka",
    "float_parsing": "harus berupa angka",
    "bool_type": "harus berupa true atau false",
    "bool_parsing": "harus berupa true atau false",
    "greater_than": "harus lebih besar dari {gt}",
    "greater_than_equal": "paling kecil {ge}",
    "less_than": "harus lebih kecil dari {lt}",
    "less_than_equal": "paling besar {le}",
    "literal_error": "harus salah satu dari {expected}",
    "enum": "harus salah satu dari {expected}",
    "uuid_type": "harus berupa UUID",
    "uuid_parsing": "harus berupa UUID, misalnya 018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91",
    "json_invalid": "isi permintaan bukan JSON yang sah",
    "json_type": "harus berupa JSON",
    "model_type": "harus berupa objek JSON",
    "model_attributes_type": "harus berupa objek JSON",
    "dict_type": "harus berupa objek JSON",
    "list_type": "harus berupa larik (array) JSON",
    "tuple_type": "harus berupa larik (array) JSON",
    "date_type": "harus berupa tanggal (TTTT-BB-HH)",
    "date_parsing": "harus berupa tanggal (TTTT-BB-HH)",
    "date_from_datetime_parsing": "harus berupa tanggal (TTTT-BB-HH)",
}
# Where in the request a field is: the first item of pydantic's location.
_PLACES = {"body": "isi", "query": "parameter", "path": "alamat", "header": "header", "cookie": "cookie"}


def _message(error: Any) -> str:
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        # Our validators raise ValueError with an Indonesian message; pydantic prefixes it.
        return str(context.get("error", error.get("msg", ""))).removeprefix("Assertion failed, ")
    template = _MESSAGES.get(kind)
    if template is None:
        return "tidak valid"
    try:
        return template.format(**{k: _readable(v) for k, v in context.items()})
    except (KeyError, IndexError):
        return template.split(" {")[0]


def _readable(value: Any) -> str:
    # pydantic quotes choices in English ("'a' or 'b'"); keep the values, say "atau".
    return str(value).replace(" or ", " atau ")


def field_errors(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """The problem's detail and its `errors` list, from pydantic's errors."""
    listed = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        listed.append({"location": location, "message": _message(error), "type": error.get("type", "")})
    parts = []
    for item in listed:
        path = item["location"]
        where = ".".join(path[1:]) if path and path[0] in _PLACES else ".".join(path)
        if not where:
            where = _PLACES.get(path[0], "permintaan") if path else "permintaan"
        parts.append(f"{where}: {item['message']}")
    return "; ".join(parts) or "data tidak valid", listed


def invalid(errors: Sequence[Any], request: Request | None = None) -> JSONResponse:
    detail, listed = field_errors(errors)
    return problem_response(request, 422, TITLES[422], detail, errors=listed)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            request, error.status, error.title, error.detail, error.headers, **error.extra
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return invalid(error.errors(), request)

    @app.exception_handler(ValidationError)
    async def on_contract(request: Request, error: ValidationError) -> JSONResponse:
        # A contract model refused what the HTTP model let through: still the caller's data.
        return invalid([{**e, "loc": ("body", *e["loc"])} for e in error.errors()], request)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        status = error.status_code
        headers = dict(getattr(error, "headers", None) or {})
        if status == 405:
            # Starlette names only the first route of the path; a path can have several.
            headers["Allow"] = ", ".join(_allowed(app, request))
        return problem_response(
            request,
            status,
            TITLES.get(status, "Kesalahan"),
            DETAILS.get(status, TITLES.get(status, "Kesalahan").lower()),
            headers,
        )

    @app.exception_handler(RpcError)
    async def on_rpc(request: Request, error: RpcError) -> JSONResponse:
        extra: dict[str, Any] = {"type": problem_type(error.code)}
        if error.code is ErrorCode.CONFLICT:
            extra["allowed_states"] = error.allowed
        if error.status >= 500:
            # Failures of the bus itself are the gateway's to explain, in the API's language.
            retry = {"Retry-After": "1"} if error.status in (503, 504) else None
            return problem_response(request, error.status, error.title, DETAILS[error.status], retry, **extra)
        return problem_response(request, error.status, error.title, error.detail, **extra)


def _allowed(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and isinstance(route, Route):
            methods |= route.methods or set()
    return sorted(methods)


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI document so every operation lists the problems it may answer with,
    as `application/problem+json` with the one schema the server really sends."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Problem"].pop("$defs", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in PROBLEM_STATUSES:
                responses[str(status)] = {"description": TITLES[status], "content": content}
    return spec
