"""Evidence of reports and cases: what intake preserved of each link (WARC, screenshot, media,
attachments), each item's bytes, and a case's signed evidence bundle (docs/evidence.md).

Intake answers every read for the caller's agency only, and records each read of an item's
bytes, each bundle and each deletion in the report's custody log with the caller as actor. The
bytes cross NATS in chunks (`CHUNK_BYTES`), reassembled here."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from pantau_shared.bus import RpcClient
from pantau_shared.contract.evidence import (
    EVIDENCE_BUNDLE,
    EVIDENCE_CASE,
    EVIDENCE_DELETE,
    EVIDENCE_READ,
    EVIDENCE_REPORT,
    BuildBundle,
    DeleteEvidence,
    EvidenceDeleted,
    EvidenceList,
    ReadEvidence,
)
from pantau_shared.contract.fields import Text
from pantau_shared.contract.rpc import CASE_GET, CaseQuery, ReportQuery

from .deps import OriginDep, StateDep
from .roles import STAFF, Principal, Role, Scope, require

router = APIRouter(prefix="/v1", tags=["evidence"])
ReportReader = Annotated[Principal, require(*STAFF, scope=Scope.REPORTS_READ)]
CaseReader = Annotated[Principal, require(*STAFF, scope=Scope.CASES_READ)]
Exporter = Annotated[Principal, require(*STAFF, scope=Scope.EXPORTS_READ)]
Retention = Annotated[Principal, require(Role.ADMIN, scope=Scope.CASES_WRITE)]
Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The item's SHA-256, lower-case hex")]

_BINARY = {"schema": {"type": "string", "format": "binary"}}


async def _bytes(rpc: RpcClient, holder: str, actor: str, origin_id: UUID, sha256: str) -> tuple[bytes, str]:
    """An item's (or a bundle's) bytes as `holder` keeps them, chunk after chunk; the first read
    is the one logged, with `actor`."""
    data, media_type = bytearray(), "application/octet-stream"
    while True:
        chunk = await rpc.call(
            holder,
            EVIDENCE_READ,
            ReadEvidence(
                sha256=sha256,
                offset=len(data),
                actor=actor,
                principal=actor,
                command_id=origin_id,
            ),
        )
        data.extend(chunk.data)
        media_type = chunk.media_type
        if chunk.last or not chunk.data:
            return bytes(data), media_type


@router.get("/reports/{report_id}/evidence", response_model=EvidenceList, responses={404: {}})
async def report_evidence(report_id: UUID, state: StateDep, caller: ReportReader) -> EvidenceList:
    """What was preserved of the report's links and attachments: each item's kind, hash, size,
    fetch time, its RFC 3161 timestamp (verified as listed), or why a link was refused."""
    return await state.rpc.call(caller.agency_id, EVIDENCE_REPORT, ReportQuery(report_id=report_id))


@router.get("/cases/{case_id}/evidence", response_model=EvidenceList, responses={404: {}})
async def case_evidence(case_id: UUID, state: StateDep, caller: CaseReader) -> EvidenceList:
    """The evidence of every report of the case, for the agency that owns it and for those it
    was routed to (Komdigi asking a platform to take a post down needs what was kept)."""
    holder, _ = await _case_holder(state.rpc, caller, case_id)
    return await state.rpc.call(holder, EVIDENCE_CASE, CaseQuery(case_id=case_id))


async def _case_holder(rpc: RpcClient, caller: Principal, case_id: UUID) -> tuple[str, str]:
    """(the agency whose intake keeps the case's evidence, the actor its custody log records).

    Triage answers the case only to its owner and the agencies it was routed to (404 to anyone
    else); the evidence is the owner's, so a routed agency reads it as itself, named in the log."""
    case = await rpc.call(caller.agency_id, CASE_GET, CaseQuery(case_id=case_id))
    if case.agency_id == caller.agency_id:
        return case.agency_id, caller.name
    return case.agency_id, f"{caller.agency_id}:{caller.name}"


@router.get(
    "/evidence/{sha256}",
    response_class=Response,
    responses={
        200: {"description": "The item's bytes, as kept", "content": {"application/octet-stream": _BINARY}},
        404: {},
    },
)
async def evidence_bytes(
    sha256: Sha256, state: StateDep, caller: ReportReader, origin: OriginDep
) -> Response:
    """An item's bytes with its media type (a WARC, a PNG, a photo). The read is recorded in the
    custody log of each of the agency's reports that hold the item."""
    data, media_type = await _bytes(state.rpc, caller.agency_id, caller.name, origin.command_id, sha256)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/cases/{case_id}/evidence-bundle",
    response_class=Response,
    responses={
        200: {"description": "The signed evidence bundle (zip)", "content": {"application/zip": _BINARY}},
        404: {},
    },
)
async def evidence_bundle(case_id: UUID, state: StateDep, caller: Exporter, origin: OriginDep) -> Response:
    """The case's evidence bundle (for its owner and the agencies it was routed to): a zip with
    a signed manifest of hashes and timestamps, the WARC files, screenshots and media, the TSA
    roots and the custody logs, which `pantau-evidence verify` checks offline. The export is
    recorded in the custody log."""
    holder, actor = await _case_holder(state.rpc, caller, case_id)
    built = await state.rpc.call(
        holder, EVIDENCE_BUNDLE, BuildBundle(case_id=case_id, actor=actor, **origin.fields())
    )
    data, _ = await _bytes(state.rpc, holder, actor, origin.command_id, built.sha256)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="bukti-kasus-{case_id}.zip"'},
    )


@router.delete("/reports/{report_id}/evidence", response_model=EvidenceDeleted, responses={404: {}})
async def delete_evidence(
    report_id: UUID,
    state: StateDep,
    caller: Retention,
    origin: OriginDep,
    reason: Annotated[Text, Query(min_length=1, max_length=500)] = "retensi",
) -> EvidenceDeleted:
    """Delete the report's evidence bytes when its retention ends (admins only); the items stay
    listed as deleted and the deletion is recorded in the custody log."""
    return await state.rpc.call(
        caller.agency_id,
        EVIDENCE_DELETE,
        DeleteEvidence(report_id=report_id, actor=caller.name, reason=reason, **origin.fields()),
    )
