"""The partner-agency API: submit reports, read reports, cases and their notifications."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from fastapi import APIRouter, Header, Path, Response
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pantau_shared.bus.rpc import RpcError
from pantau_shared.contract import (
    MONITORING_REPORT_GET,
    CaseHistoryEntry,
    CaseView,
    Channel,
    NotificationView,
    Reporter,
    ReportSubmitted,
    ReportView,
    new_id,
    stable_id,
)
from pantau_shared.contract.events import AGENCY_ID_PATTERN
from pantau_shared.contract.fields import Count, Name, RegionCode, ReportText, WebUrl
from pantau_shared.contract.rpc import (
    CASE_FOR_REPORT,
    CASE_GET,
    CASE_HISTORY,
    CASE_RECLASSIFY,
    CASE_REFERRAL,
    CASE_TRANSITION,
    CLAIMS_IMPORT,
    CLAIMS_SUBSCRIBE,
    NOTIFICATION_LIST,
    REPORT_GET,
    CaseOfReport,
    CaseQuery,
    CategoryChange,
    ClaimBatch,
    ClaimsImported,
    ClaimSubscriptions,
    ErrorCode,
    ImportClaims,
    ReclassifyCase,
    ReferralChange,
    ReportQuery,
    StateChange,
    SubscribeClaims,
    TransitionCase,
    UpdateReferral,
)
from pantau_shared.sealing import Sealer, seal_report

from .deps import OriginDep, State, StateDep
from .problems import Problem
from .roles import ALL_ROLES, STAFF, Principal, Role, Scope, require

router = APIRouter(prefix="/v1")
Publisher = Annotated[str, Path(pattern=AGENCY_ID_PATTERN, description="Agency whose claims to use")]


class ReportIn(BaseModel):
    """A report of content that may break election law. Give the text, the link, or both.

    The fields are the contract's own types (`pantau_shared.contract.fields`), so the gateway
    refuses exactly what intake would refuse, and a 202 means the report will be stored."""

    model_config = ConfigDict(
        extra="forbid",
        # The text-or-link rule, for clients that read the schema.
        json_schema_extra={
            "anyOf": [
                {"required": [field], "properties": {field: {"type": "string"}}} for field in ("text", "url")
            ]
        },
    )

    text: ReportText | None = Field(
        default=None, examples=["Besok serangan fajar, tiap rumah dapat amplop 100 ribu"]
    )
    url: WebUrl | None = Field(default=None, examples=["https://www.facebook.com/groups/123/posts/456"])
    region_code: RegionCode | None = Field(
        default=None, examples=["33.75"], description="Kemendagri code of the place concerned"
    )
    author_handle: Name = Field(default=None, description="Who posted it, e.g. @akun on the platform")
    reach: Count | None = Field(default=None, description="Followers or views, if known")
    channel: Literal["api", "web", "patrol"] = "api"
    reporter: Reporter | None = None

    @model_validator(mode="after")
    def _something_to_check(self) -> Self:
        if self.text is None and self.url is None:
            raise ValueError("laporan harus berisi teks, tautan, atau keduanya")
        return self


def submission(report: ReportIn, agency_id: str, report_id: UUID, sealer: Sealer) -> ReportSubmitted:
    """The event to publish, the reporter's contacts sealed for intake alone."""
    event = ReportSubmitted(
        report_id=report_id,
        agency_id=agency_id,
        channel=Channel(report.channel),
        submitted_at=datetime.now(UTC),
        text=report.text,
        url=report.url,
        region_code=report.region_code,
        author_handle=report.author_handle,
        reporter=report.reporter,
        reach=report.reach,
    )
    return seal_report(event, sealer)


class Accepted(BaseModel):
    report_id: UUID
    status: Literal["accepted"] = "accepted"
    links: dict[str, str]


# Who may submit: also what `direct.DirectReports` authorizes with, so both ask the same.
SUBMITTER = require(*STAFF, scope=Scope.REPORTS_SUBMIT, audited=False)


@router.post(
    "/reports",
    status_code=202,
    response_model=Accepted,
    responses={401: {}, 413: {}, 422: {}, 429: {}, 503: {}},
)
async def submit_report(
    report: ReportIn,
    state: StateDep,
    caller: Annotated[Principal, SUBMITTER],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Accept a report for processing; it is stored once intake has normalised it."""
    # Most submissions never get here: `direct.DirectReports` answers a plainly well-formed
    # one with an API key through `accept` as well. This route answers the rest (sessions,
    # refusals), with FastAPI's own checks and errors.
    return await accept(state, caller.agency_id, report, idempotency_key)


async def accept(state: State, agency_id: str, report: ReportIn, idempotency_key: str | None) -> Response:
    """Publish the report and answer 202 with its id; 503 when the stream did not take it."""
    # A retried request with the same Idempotency-Key gets the same id, and the bus and intake
    # both drop the duplicate.
    report_id = stable_id(agency_id, idempotency_key) if idempotency_key else new_id()
    event = submission(report, agency_id, report_id, state.sealer)
    try:
        await state.publisher.publish(state.publisher.envelope(event, event_id=event.event_id()))
    except (NatsError, TimeoutError) as error:
        raise Problem(
            503, "laporan belum dapat diantrekan; coba lagi sebentar lagi", headers={"Retry-After": "1"}
        ) from error
    location = f"/v1/reports/{report_id}"
    # Serialised here, once: what FastAPI would send for `response_model=Accepted`, without
    # validating our own model again on the way out.
    body = Accepted(report_id=report_id, links={"self": location}).model_dump_json().encode()
    response = Response(body, status_code=202, media_type="application/json")
    response.headers["Location"] = location
    return response


@router.get("/reports/{report_id}", response_model=ReportView, responses={404: {}})
async def get_report(
    report_id: UUID,
    state: StateDep,
    caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.REPORTS_READ)],
) -> ReportView:
    query = ReportQuery(report_id=report_id)
    report, case = await asyncio.gather(
        state.rpc.call(caller.agency_id, REPORT_GET, query),
        state.rpc.call(caller.agency_id, CASE_FOR_REPORT, query),
        return_exceptions=True,
    )
    if isinstance(report, RpcError) and report.code == ErrorCode.NOT_FOUND:
        # A report a monitoring finding opened was published by triage and never stored by
        # intake; triage keeps the post it came from.
        report = await state.rpc.call(caller.agency_id, MONITORING_REPORT_GET, query)
    if isinstance(report, BaseException):
        raise report
    case_id = case.case_id if isinstance(case, CaseOfReport) else None
    return ReportView.model_validate({**report.model_dump(), "case_id": case_id})


@router.get("/cases/{case_id}", response_model=CaseView, responses={404: {}})
async def get_case(
    case_id: UUID, state: StateDep, caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)]
) -> CaseView:
    return await state.rpc.call(caller.agency_id, CASE_GET, CaseQuery(case_id=case_id))


@router.get("/cases/{case_id}/notifications", response_model=list[NotificationView])
async def list_notifications(
    case_id: UUID, state: StateDep, caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)]
) -> list[NotificationView]:
    # Answered by notify; confirm the case is the caller's first so ids cannot be probed.
    query = CaseQuery(case_id=case_id)
    await state.rpc.call(caller.agency_id, CASE_GET, query)
    return (await state.rpc.call(caller.agency_id, NOTIFICATION_LIST, query)).notifications


@router.post(
    "/cases/{case_id}/transitions", response_model=CaseView, responses={403: {}, 404: {}, 409: {}, 422: {}}
)
async def transition_case(
    case_id: UUID,
    change: StateChange,
    state: StateDep,
    caller: Annotated[Principal, require(*STAFF, scope=Scope.CASES_WRITE)],
    origin: OriginDep,
) -> CaseView:
    """Change a case's state; an invalid transition is refused with 409 and the allowed ones.
    Only the agency that owns the case may change it."""
    command = TransitionCase.model_validate({**dict(change), "case_id": case_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, CASE_TRANSITION, command)


@router.put("/cases/{case_id}/categories", response_model=CaseView, responses={403: {}, 404: {}})
async def correct_categories(
    case_id: UUID,
    correction: CategoryChange,
    state: StateDep,
    caller: Annotated[Principal, require(Role.ADMIN, Role.SUPERVISOR, Role.ANALYST, scope=Scope.CASES_WRITE)],
    origin: OriginDep,
) -> CaseView:
    command = ReclassifyCase.model_validate({**dict(correction), "case_id": case_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, CASE_RECLASSIFY, command)


@router.put("/cases/{case_id}/referral", response_model=CaseView, responses={404: {}, 409: {}})
async def record_referral(
    case_id: UUID,
    change: ReferralChange,
    state: StateDep,
    caller: Annotated[Principal, require(*STAFF, scope=Scope.CASES_WRITE)],
    origin: OriginDep,
) -> CaseView:
    """For an agency the case was routed to: record where it stands with it (its own state and
    note, returned in `referrals`); the owner's state and categories are not changed."""
    command = UpdateReferral.model_validate({**dict(change), "case_id": case_id, **origin.fields()})
    return await state.rpc.call(caller.agency_id, CASE_REFERRAL, command)


@router.get("/cases/{case_id}/history", response_model=list[CaseHistoryEntry], responses={404: {}})
async def case_history(
    case_id: UUID, state: StateDep, caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.CASES_READ)]
) -> list[CaseHistoryEntry]:
    return (await state.rpc.call(caller.agency_id, CASE_HISTORY, CaseQuery(case_id=case_id))).entries


@router.post("/claims", status_code=201, response_model=ClaimsImported, responses={403: {}, 422: {}})
async def add_claims(
    body: ClaimBatch,
    state: StateDep,
    caller: Annotated[
        Principal, require(Role.ADMIN, Role.SUPERVISOR, Role.ANALYST, scope=Scope.CLAIMS_WRITE)
    ],
    origin: OriginDep,
) -> ClaimsImported:
    """Add or update the agency's fact-checked claims (up to 1,000 a request); new reports are
    matched against them and a match attaches the claim and its verdict to the case."""
    command = ImportClaims.model_validate({**dict(body), **origin.fields()})
    return await state.rpc.call(caller.agency_id, CLAIMS_IMPORT, command)


@router.put("/claims/subscriptions/{publisher}", response_model=ClaimSubscriptions, responses={422: {}})
async def subscribe_claims(
    publisher: Publisher,
    state: StateDep,
    caller: Annotated[Principal, require(Role.ADMIN, Role.SUPERVISOR, scope=Scope.CLAIMS_WRITE)],
    origin: OriginDep,
) -> ClaimSubscriptions:
    """Match the agency's new reports against the claims `publisher` adds, besides its own."""
    command = SubscribeClaims(publisher=publisher, subscribed=True, **origin.fields())
    return await state.rpc.call(caller.agency_id, CLAIMS_SUBSCRIBE, command)


@router.delete("/claims/subscriptions/{publisher}", response_model=ClaimSubscriptions, responses={422: {}})
async def unsubscribe_claims(
    publisher: Publisher,
    state: StateDep,
    caller: Annotated[Principal, require(Role.ADMIN, Role.SUPERVISOR, scope=Scope.CLAIMS_WRITE)],
    origin: OriginDep,
) -> ClaimSubscriptions:
    command = SubscribeClaims(publisher=publisher, subscribed=False, **origin.fields())
    return await state.rpc.call(caller.agency_id, CLAIMS_SUBSCRIBE, command)
