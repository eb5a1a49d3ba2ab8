"""Conditional GET (RFC 9110 section 13): an ETag on every list page and a 304 when it is unchanged.

The tag is the SHA-256 of the page as sent, so two instances of the gateway give the same page
the same tag without sharing anything; a client polling the queue downloads nothing new.
"""

import hashlib
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import BaseModel

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Unchanged since the page whose ETag the client sent in If-None-Match"}
}
IfNoneMatch = Annotated[
    str | None,
    Header(description="The ETag of a page already read: 304 if it is unchanged"),
]


def matches(if_none_match: str | None, tag: str) -> bool:
    if if_none_match is None:
        return False
    offered = [candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")]
    return "*" in offered or tag in offered


def conditional(page: BaseModel, if_none_match: str | None) -> Response:
    body = page.model_dump_json().encode()
    tag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    # `no-cache`: a cache may keep the page but must ask again (with the tag) before showing it.
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
