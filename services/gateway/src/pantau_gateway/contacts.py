"""Reporter contacts of a case: personal data (UU 27/2022). Only staff granted the right to see
them may, each read is in the audit log, and intake hands out the contacts of a reporter who
asked to hear back only (`reporter.contact`)."""

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pantau_shared.bus import RpcError
from pantau_shared.contract.rpc import (
    CASE_REPORTERS,
    REPORTER_CONTACT,
    CaseQuery,
    ErrorCode,
    ReporterContact,
    ReporterQuery,
)

from .deps import StateDep
from .roles import STAFF, Principal, Scope, require

router = APIRouter(prefix="/v1")


class CaseReporter(BaseModel):
    reporter_id: str
    contact: ReporterContact | None


class CaseReporters(BaseModel):
    reporters: list[CaseReporter]
    total: int


@router.get("/cases/{case_id}/reporters", response_model=CaseReporters, responses={403: {}, 404: {}})
async def case_reporters(
    case_id: UUID,
    state: StateDep,
    caller: Annotated[Principal, require(*STAFF, scope=Scope.CONTACTS_READ, contacts=True)],
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CaseReporters:
    """The case's reporters (pseudonyms) and, for those who asked to hear back, their contacts."""
    ids = (await state.rpc.call(caller.agency_id, CASE_REPORTERS, CaseQuery(case_id=case_id))).reporter_ids
    page = ids[offset : offset + limit]
    answers = await asyncio.gather(
        *(state.rpc.call(caller.agency_id, REPORTER_CONTACT, ReporterQuery(reporter_id=r)) for r in page),
        return_exceptions=True,
    )
    reporters = []
    for reporter_id, answer in zip(page, answers, strict=True):
        if isinstance(answer, ReporterContact):
            reporters.append(CaseReporter(reporter_id=reporter_id, contact=answer))
        elif isinstance(answer, RpcError) and answer.code is ErrorCode.NOT_FOUND:
            reporters.append(CaseReporter(reporter_id=reporter_id, contact=None))
        else:
            raise answer
    return CaseReporters(reporters=reporters, total=len(ids))
