"""`/healthz` (the process is alive), `/readyz` (its servers answer) and `/metrics` for every
process.

The health server starts before any connection is made, so a liveness probe passes while the
process is still connecting; `/readyz` says, per dependency, what it is waiting for.
"""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from .metrics import metrics_router

Check = Callable[[], Awaitable[object]]


class Readiness:
    """What `/readyz` reports: each dependency's check once it is connected, its connection
    state until then, and not ready at all while the process drains."""

    def __init__(self, dependencies: tuple[str, ...] = ("nats", "postgres", "redis")) -> None:
        self._waiting: dict[str, str] = dict.fromkeys(dependencies, "connecting")
        self._checks: dict[str, Check] = {}
        self.draining = False

    def waiting(self, dependency: str, state: str) -> None:
        self._waiting[dependency] = state

    def connected(self, checks: dict[str, Check]) -> None:
        self._checks.update(checks)
        for name in checks:
            self._waiting.pop(name, None)

    async def report(self, timeout: float) -> dict[str, str]:
        async def run(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), timeout)
                return "ok"
            except Exception as error:
                return f"failed: {type(error).__name__}: {error}"

        results = dict(zip(self._checks, await asyncio.gather(*map(run, self._checks.values())), strict=True))
        results.update(self._waiting)
        if self.draining:
            results["process"] = "draining"
        return results


def health_router(readiness: Readiness, timeout: float = 2.0) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results = await readiness.report(timeout)
        ready = all(result == "ok" for result in results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    return router


def health_app(readiness: Readiness) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(health_router(readiness))
    app.include_router(metrics_router())
    return app
