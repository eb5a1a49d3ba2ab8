"""The console: Pantau's pages for patrol teams, analysts and supervisors, in Bahasa Indonesia.

Server-rendered HTML (Jinja2) with plain forms and an SVG chart: no script and nothing fetched
from elsewhere. Every read and change goes through the same request/reply methods as the API,
under the same role declarations; see docs/console.md.
"""

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from ..roles import public
from . import case_page, dashboard, queue_page, signin
from .errors import console_router

STYLESHEET = files(__package__).joinpath("static/console.css").read_bytes()
assets = console_router()


@assets.get("/console.css", dependencies=[public("the console's stylesheet")])
async def stylesheet() -> Response:
    return Response(STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


router = APIRouter()
router.include_router(assets)
for page in (signin, queue_page, case_page, dashboard):
    router.include_router(page.router)

__all__ = ["router"]
