"""Bulk intake for machines (collectors, partner systems): up to 1,000 reports a request, each
validated, published and acknowledged on its own; one bad item never refuses the others."""

import asyncio
import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from nats.errors import Error as NatsError
from pydantic import BaseModel, Field, ValidationError

from pantau_shared.contract import stable_id

from .deps import State, StateDep
from .handlers import ReportIn, submission
from .problems import TITLES, field_errors
from .roles import STAFF, Principal, Scope, require

router = APIRouter(prefix="/v1")
MAX_ITEMS = 1_000
# Publishes in flight at once: acks are awaited in groups, not one round trip per report.
PUBLISH_GROUP = 200


class BulkItem(BaseModel):
    index: int
    status: Literal["accepted", "invalid", "retry"]
    report_id: str | None = None
    title: str | None = None
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class BulkResult(BaseModel):
    accepted: int
    invalid: int
    retry: int
    items: list[BulkItem]


class BulkIn(BaseModel):
    reports: list[Any] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="Each a report as for POST /v1/reports, plus an optional `key`: the sender's "
        "own id for it. The same key (or, without one, the same content) is the same report, so "
        "a batch sent again after a timeout stores nothing twice.",
    )


@router.post(
    "/reports:batch",
    status_code=200,
    response_model=BulkResult,
    responses={401: {}, 413: {}, 422: {}, 429: {}},
)
async def submit_reports(
    body: Annotated[BulkIn, Body()],
    state: StateDep,
    caller: Annotated[Principal, require(*STAFF, scope=Scope.REPORTS_SUBMIT, audited=False)],
) -> BulkResult:
    """Accept up to 1,000 reports; the answer says, item by item, accepted (with its id), invalid
    (with the reasons, as a problem's `errors`), or retry (could not be queued now)."""
    items: list[BulkItem] = []
    valid: list[tuple[int, ReportIn, str]] = []
    for index, raw in enumerate(body.reports):
        key = raw.pop("key", None) if isinstance(raw, dict) else None
        try:
            report = ReportIn.model_validate(raw)
        except ValidationError as error:
            detail, errors = field_errors(
                [{**e, "loc": ("reports", index, *e["loc"])} for e in error.errors(include_url=False)]
            )
            items.append(
                BulkItem(index=index, status="invalid", title=TITLES[422], detail=detail, errors=errors)
            )
            continue
        identity = str(key) if key is not None else "content:" + _digest(raw)
        valid.append((index, report, identity))
    for start in range(0, len(valid), PUBLISH_GROUP):
        group = valid[start : start + PUBLISH_GROUP]
        outcomes = await asyncio.gather(
            *(_publish(state, caller.agency_id, report, identity) for _, report, identity in group),
            return_exceptions=True,
        )
        for (index, _, identity), outcome in zip(group, outcomes, strict=True):
            report_id = str(stable_id(caller.agency_id, identity))
            if isinstance(outcome, NatsError | TimeoutError):
                items.append(BulkItem(index=index, status="retry", report_id=report_id, detail=TITLES[503]))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                items.append(BulkItem(index=index, status="accepted", report_id=report_id))
    items.sort(key=lambda item: item.index)
    counts = {
        status: sum(1 for i in items if i.status == status) for status in ("accepted", "invalid", "retry")
    }
    return BulkResult(**counts, items=items)


async def _publish(state: State, agency_id: str, report: ReportIn, identity: str) -> None:
    report_id = stable_id(agency_id, identity)
    event = submission(report, agency_id, report_id, state.sealer)
    await state.publisher.publish(state.publisher.envelope(event, event_id=event.event_id()))


def _digest(raw: Any) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
