"""The partner-agency API: submit reports, read reports, cases and their notifications."""

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from fastapi import APIRouter, Header, Response
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pantau_shared.bus import RpcError
from pantau_shared.contract import (
    CaseHistoryEntry,
    CaseState,
    CaseView,
    Category,
    Channel,
    NotificationView,
    Reporter,
    ReportSubmitted,
    ReportView,
    Resolution,
    new_id,
    stable_id,
)

from .deps import CallerDep, StateDep
from .problems import Problem

router = APIRouter(prefix="/v1")
REGION = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


class ReportIn(BaseModel):
    """A report of content that may break election law. Give the text, the link, or both."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str | None = Field(
        default=None, max_length=20_000, examples=["Besok serangan fajar, tiap rumah dapat amplop 100 ribu"]
    )
    url: str | None = Field(
        default=None, max_length=4_096, examples=["https://www.facebook.com/groups/123/posts/456"]
    )
    region_code: str | None = Field(
        default=None, examples=["33.75"], description="Kemendagri code of the place concerned"
    )
    author_handle: str | None = Field(
        default=None, max_length=200, description="Who posted it, e.g. @akun on the platform"
    )
    reach: int | None = Field(default=None, ge=0, description="Followers or views, if known")
    channel: Literal["api", "web", "patrol"] = "api"
    reporter: Reporter | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url and not re.match(r"^(https?://)?[^\s/$.?#][^\s]*\.[^\s]+$", url, re.IGNORECASE):
            raise ValueError("must be a web address (http or https)")
        return url

    @field_validator("region_code")
    @classmethod
    def _region(cls, code: str | None) -> str | None:
        if code and not REGION.match(code):
            raise ValueError("must be a Kemendagri code such as 33 or 33.75")
        return code

    @model_validator(mode="after")
    def _something_to_check(self) -> Self:
        if not self.text and not self.url:
            raise ValueError("a report needs text, a url, or both")
        return self


class Accepted(BaseModel):
    report_id: UUID
    status: Literal["accepted"] = "accepted"
    links: dict[str, str]


@router.post(
    "/reports",
    status_code=202,
    response_model=Accepted,
    responses={401: {}, 413: {}, 422: {}, 429: {}, 503: {}},
)
async def submit_report(
    report: ReportIn,
    response: Response,
    state: StateDep,
    caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Accepted:
    """Accept a report for processing; it is stored once intake has normalised it."""
    # A retried request with the same Idempotency-Key gets the same id, and the bus and intake
    # both drop the duplicate.
    report_id = stable_id(caller.agency_id, idempotency_key) if idempotency_key else new_id()
    event = ReportSubmitted(
        report_id=report_id,
        agency_id=caller.agency_id,
        channel=Channel(report.channel),
        submitted_at=datetime.now(UTC),
        text=report.text,
        url=report.url,
        region_code=report.region_code,
        author_handle=report.author_handle,
        reporter=report.reporter,
        reach=report.reach,
    )
    try:
        await state.publisher.publish(
            state.publisher.envelope(event, event_id=stable_id("report.submitted", str(report_id)))
        )
    except (NatsError, TimeoutError) as error:
        raise Problem(
            503, f"the report could not be queued, try again: {error}", headers={"Retry-After": "1"}
        ) from error
    location = f"/v1/reports/{report_id}"
    response.headers["Location"] = location
    return Accepted(report_id=report_id, links={"self": location})


@router.get("/reports/{report_id}", response_model=ReportView, responses={404: {}})
async def get_report(report_id: UUID, state: StateDep, caller: CallerDep) -> dict[str, Any]:
    report, case = await asyncio.gather(
        state.rpc.call(caller.agency_id, "report.get", report_id=str(report_id)),
        state.rpc.call(caller.agency_id, "case.for_report", report_id=str(report_id)),
        return_exceptions=True,
    )
    if isinstance(report, BaseException):
        raise report
    report["case_id"] = None if isinstance(case, RpcError) else case["case_id"]
    return report


@router.get("/cases/{case_id}", response_model=CaseView, responses={404: {}})
async def get_case(case_id: UUID, state: StateDep, caller: CallerDep) -> dict[str, Any]:
    return await state.rpc.call(caller.agency_id, "case.get", case_id=str(case_id))


@router.get("/cases/{case_id}/notifications", response_model=list[NotificationView])
async def list_notifications(case_id: UUID, state: StateDep, caller: CallerDep) -> list[Any]:
    # Answered by notify; confirm the case is the caller's first so ids cannot be probed.
    await state.rpc.call(caller.agency_id, "case.get", case_id=str(case_id))
    return await state.rpc.call(caller.agency_id, "notification.list", case_id=str(case_id))


class TransitionIn(BaseModel):
    """Move a case through the workflow: new, verifying, follow_up, referred,
    takedown_requested, closed (closing needs a resolution)."""

    model_config = ConfigDict(extra="forbid")

    to: CaseState
    actor: str = Field(min_length=1, max_length=200, description="Officer making the change")
    resolution: Resolution | None = None
    note: str | None = Field(default=None, max_length=2_000)


class CategoriesIn(BaseModel):
    """A reviewer's correction of the case's categories; kept as labelled data for retraining."""

    model_config = ConfigDict(extra="forbid")

    categories: list[Category] = Field(min_length=1)
    actor: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2_000)


class ClaimIn(BaseModel):
    """A claim a fact-checker already examined (Komdigi, Turn Back Hoax, Cek Fakta)."""

    model_config = ConfigDict(extra="forbid")

    claim_id: str = Field(min_length=1, max_length=200, examples=["turnbackhoax-2024-0211"])
    text: str = Field(min_length=10, max_length=5_000)
    verdict: str = Field(min_length=1, max_length=100, examples=["hoaks"])
    source_url: str = Field(min_length=8, max_length=2_000)
    checked_on: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class ClaimsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: list[ClaimIn] = Field(min_length=1, max_length=1_000)


@router.post("/cases/{case_id}/transitions", response_model=CaseView, responses={404: {}, 409: {}, 422: {}})
async def transition_case(
    case_id: UUID, change: TransitionIn, state: StateDep, caller: CallerDep
) -> dict[str, Any]:
    """Change a case's state; an invalid transition is refused with 409 and the allowed ones."""
    return await state.rpc.call(
        caller.agency_id, "case.transition", case_id=str(case_id), **change.model_dump(mode="json")
    )


@router.put("/cases/{case_id}/categories", response_model=CaseView, responses={404: {}})
async def correct_categories(
    case_id: UUID, correction: CategoriesIn, state: StateDep, caller: CallerDep
) -> dict[str, Any]:
    return await state.rpc.call(
        caller.agency_id, "case.reclassify", case_id=str(case_id), **correction.model_dump(mode="json")
    )


@router.get("/cases/{case_id}/history", response_model=list[CaseHistoryEntry], responses={404: {}})
async def case_history(case_id: UUID, state: StateDep, caller: CallerDep) -> list[Any]:
    return await state.rpc.call(caller.agency_id, "case.history", case_id=str(case_id))


@router.post("/claims", status_code=201, responses={422: {}})
async def add_claims(body: ClaimsIn, state: StateDep, caller: CallerDep) -> dict[str, int]:
    """Add or update fact-checked claims (up to 1,000 a request); new reports are matched
    against them and a match attaches the claim and its verdict to the case."""
    return await state.rpc.call(
        caller.agency_id, "claims.import", claims=[c.model_dump() for c in body.claims]
    )
