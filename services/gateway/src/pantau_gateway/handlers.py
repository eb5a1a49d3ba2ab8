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
    CaseView,
    Channel,
    NotificationView,
    Reporter,
    ReportSubmitted,
    ReportView,
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

    text: str | None = Field(default=None, max_length=20_000,
                             examples=["Besok serangan fajar, tiap rumah dapat amplop 100 ribu"])
    url: str | None = Field(default=None, max_length=4_096,
                            examples=["https://www.facebook.com/groups/123/posts/456"])
    region_code: str | None = Field(default=None, examples=["33.75"],
                                    description="Kemendagri code of the place concerned")
    author_handle: str | None = Field(default=None, max_length=200)
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


@router.post("/reports", status_code=202, response_model=Accepted,
             responses={401: {}, 413: {}, 422: {}, 429: {}, 503: {}})
async def submit_report(
    report: ReportIn, response: Response, state: StateDep, caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Accepted:
    """Accept a report for processing; it is stored once intake has normalised it."""
    # A retried request with the same Idempotency-Key gets the same id, and the bus and intake
    # both drop the duplicate.
    report_id = stable_id(caller.agency_id, idempotency_key) if idempotency_key else new_id()
    event = ReportSubmitted(
        report_id=report_id, agency_id=caller.agency_id, channel=Channel(report.channel),
        submitted_at=datetime.now(UTC), text=report.text, url=report.url,
        region_code=report.region_code, author_handle=report.author_handle,
        reporter=report.reporter)
    try:
        await state.publisher.publish(state.publisher.envelope(
            event, event_id=stable_id("report.submitted", str(report_id))))
    except (NatsError, TimeoutError) as error:
        raise Problem(503, f"the report could not be queued, try again: {error}",
                      headers={"Retry-After": "1"}) from error
    location = f"/v1/reports/{report_id}"
    response.headers["Location"] = location
    return Accepted(report_id=report_id, links={"self": location})


@router.get("/reports/{report_id}", response_model=ReportView, responses={404: {}})
async def get_report(report_id: UUID, state: StateDep, caller: CallerDep) -> dict[str, Any]:
    report, case = await asyncio.gather(
        state.rpc.call(caller.agency_id, "report.get", report_id=str(report_id)),
        state.rpc.call(caller.agency_id, "case.for_report", report_id=str(report_id)),
        return_exceptions=True)
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
