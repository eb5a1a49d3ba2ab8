"""An admin reads the agency's audit log, page by page, and has its chain verified."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from . import audit
from .deps import StateDep
from .roles import Principal, Role, Scope, require

router = APIRouter(prefix="/v1")


class AuditEntry(BaseModel):
    seq: int
    at: str = Field(description="RFC 3339, UTC, microseconds: exactly as hashed")
    agency_id: str
    principal: str = Field(description="user:<id>, key:<id>, link, cli:<os user>")
    action: str
    outcome: int = Field(description="The HTTP status answered; 0 for a command line")
    address: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str = Field(description="SHA-256 of the entry's RFC 8785 canonical JSON (docs/roles-and-audit.md)")


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the end")


class AuditVerification(BaseModel):
    intact: bool
    entries: int
    head_seq: int
    head_hash: str
    problem: str


Auditor = Annotated[Principal, require(Role.ADMIN, scope=Scope.AUDIT_READ)]


@router.get("/audit", response_model=AuditPage)
async def read_audit(
    state: StateDep,
    caller: Auditor,
    after: Annotated[int, Query(ge=0, description="Entries after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> AuditPage:
    """The agency's audit log, oldest first; each page can be checked against the hashes."""
    entries = await audit.page(state.infra.pool, caller.agency_id, after, limit)
    return AuditPage(
        entries=[
            AuditEntry(
                seq=e.seq,
                at=audit.timestamp(e.at),
                agency_id=e.event.agency_id,
                principal=e.event.principal,
                action=e.event.action,
                outcome=e.event.outcome,
                address=e.event.address,
                detail=dict(e.event.detail),
                prev_hash=e.prev_hash.hex(),
                hash=e.hash.hex(),
            )
            for e in entries
        ],
        next_after=entries[-1].seq if len(entries) == limit else None,
    )


@router.get("/audit/verification", response_model=AuditVerification)
async def verify_audit(state: StateDep, caller: Auditor) -> AuditVerification:
    """Walk the agency's whole chain now, as `pantau-gateway verify-audit` does."""
    verdict = await audit.verify(state.infra.pool, caller.agency_id)
    return AuditVerification(
        intact=verdict.intact,
        entries=verdict.entries,
        head_seq=verdict.head_seq,
        head_hash=verdict.head_hash.hex(),
        problem=verdict.problem,
    )
