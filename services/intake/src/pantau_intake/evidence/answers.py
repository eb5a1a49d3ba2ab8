"""The evidence methods intake answers: listing, reading (chunked), bundling, deleting.

Every lookup is by the calling agency (the agency in the request subject), so an agency reads
only its own reports' evidence. Reading an item's first chunk, building a bundle and deleting
append to the custody log in the same transaction as what they record."""

import asyncio
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pantau_shared.bundles import BundleItem, build_bundle
from pantau_shared.bus import NotFound
from pantau_shared.contract.evidence import (
    CHUNK_BYTES,
    BuildBundle,
    BundleBuilt,
    DeleteEvidence,
    EvidenceChunk,
    EvidenceDeleted,
    EvidenceList,
    ReadEvidence,
)
from pantau_shared.contract.rpc import CaseQuery, ReportQuery
from pantau_shared.custody import CustodyAction, CustodyEntry
from pantau_shared.objectstore import Missing, ObjectStore
from pantau_shared.postgres import Connection

from . import custody_log, jobs, repository
from .repository import Stored
from .trust import Trust

BUNDLE_TYPE = "application/zip"
_EXTENSIONS = {"application/warc": "warc", "image/png": "png", "image/jpeg": "jpg", "video/mp4": "mp4"}


def who(actor: str, principal: str | None) -> str:
    return f"{actor} ({principal})" if principal else actor


@dataclass(frozen=True)
class Signing:
    key: Ed25519PrivateKey
    key_id: str


class EvidenceAnswers:
    def __init__(self, pool: asyncpg.Pool, store: ObjectStore, trust: Trust, signing: Signing) -> None:
        self._pool = pool
        self._store = store
        self._trust = trust
        self._signing = signing

    def _listed(self, stored: list[Stored], pending: int) -> EvidenceList:
        items = []
        for row in stored:
            verified, _ = self._trust.verified(row.token, row.item.sha256)
            items.append(row.item.model_copy(update={"timestamp_verified": verified}))
        return EvidenceList(items=items, pending=pending)

    async def of_report(self, agency_id: str, request: ReportQuery) -> EvidenceList:
        async with self._pool.acquire() as conn:
            stored = await repository.items_of(conn, agency_id, [request.report_id])
            pending = await jobs.pending(conn, agency_id, [request.report_id])
        return self._listed(stored, pending)

    async def of_case(self, agency_id: str, request: CaseQuery) -> EvidenceList:
        async with self._pool.acquire() as conn:
            reports = await repository.reports_of_case(conn, agency_id, request.case_id)
            stored = await repository.items_of(conn, agency_id, reports)
            pending = await jobs.pending(conn, agency_id, reports)
        return self._listed(stored, pending)

    async def read(self, agency_id: str, request: ReadEvidence) -> EvidenceChunk:
        async with self._pool.acquire() as conn:
            holders = await repository.items_with_hash(conn, agency_id, request.sha256)
            bundle = None if holders else await repository.bundle_size(conn, agency_id, request.sha256)
        if not holders and bundle is None:
            raise NotFound(f"bukti {request.sha256} tidak ditemukan")
        try:
            data = await self._store.get(request.sha256)
        except Missing as error:
            raise NotFound(f"isi bukti {request.sha256} tidak tersimpan lagi") from error
        if request.offset == 0 and holders:
            async with self._pool.acquire() as conn, conn.transaction():
                for report_id in dict.fromkeys(h.item.report_id for h in holders):
                    await custody_log.append(
                        conn,
                        agency_id,
                        ("report", report_id),
                        [(CustodyAction.ACCESSED, request.sha256, f"read, request {request.command_id}")],
                        at=datetime.now(UTC),
                        actor=who(request.actor, request.principal),
                        once=True,
                    )
        chunk = data[request.offset : request.offset + CHUNK_BYTES]
        media_type = (holders[0].item.media_type if holders else BUNDLE_TYPE) or "application/octet-stream"
        return EvidenceChunk(
            sha256=request.sha256,
            media_type=media_type,
            size=len(data),
            offset=request.offset,
            data=chunk,
            last=request.offset + len(chunk) >= len(data),
        )

    async def bundle(self, agency_id: str, request: BuildBundle) -> BundleBuilt:
        now = datetime.now(UTC)
        actor = who(request.actor, request.principal)
        async with self._pool.acquire() as conn:
            reports = await repository.reports_of_case(conn, agency_id, request.case_id)
            kept = [
                s for s in await repository.items_of(conn, agency_id, reports) if s.item.status == "preserved"
            ]
        if not reports:
            raise NotFound(f"kasus {request.case_id} tidak punya laporan dengan bukti")
        items = await asyncio.gather(*(self._bundle_item(stored) for stored in kept))
        # Built inside the transaction that logs the export (in a thread: it is CPU work), so a
        # bundle that cannot be built leaves no `exported` entry behind.
        async with self._pool.acquire() as conn, conn.transaction():
            chains = await self._export_chains(conn, agency_id, request.case_id, reports, now, actor)
            custody = await custody_log.entries(conn, agency_id, request.case_id)
            data = await asyncio.to_thread(
                functools.partial(
                    build_bundle,
                    case_id=str(request.case_id),
                    case_number=str(request.case_id),
                    items=items,
                    custody=custody,
                    chains=chains,
                    tsa_roots_pem=self._trust.roots_pem,
                    signing_key=self._signing.key,
                    key_id=self._signing.key_id,
                    created_at=now,
                )
            )
        stored_bundle = await self._store.put(data, BUNDLE_TYPE)
        async with self._pool.acquire() as conn:
            built_at = await repository.record_bundle(
                conn, agency_id, request.case_id, stored_bundle.sha256, len(data), len(items), actor
            )
        return BundleBuilt(
            case_id=request.case_id,
            sha256=stored_bundle.sha256,
            size=len(data),
            items=len(items),
            built_at=built_at,
        )

    async def _bundle_item(self, stored: Stored) -> BundleItem:
        item = stored.item
        assert item.sha256 is not None
        extension = _EXTENSIONS.get(item.media_type or "", "bin")
        return BundleItem(
            name=f"{item.report_id}/{item.kind}-{item.sha256[:16]}.{extension}",
            data=await self._store.get(item.sha256),
            media_type=item.media_type or "application/octet-stream",
            source_url=item.url,
            fetched_at=item.fetched_at or datetime.now(UTC),
            sha256=item.sha256,
            timestamp=stored.token,
        )

    async def _export_chains(
        self, conn: Connection, agency_id: str, case_id: UUID, reports: list[UUID], now: datetime, actor: str
    ) -> dict[str, list[CustodyEntry]]:
        """`exported` on each report's chain, then on the case's chain an entry pinning each
        report chain's head; the report chains go into the bundle beside the case's."""
        chains, pins = {}, []
        for report_id in reports:
            await custody_log.append(
                conn,
                agency_id,
                ("report", report_id),
                [(CustodyAction.EXPORTED, str(case_id), f"evidence bundle of case {case_id}")],
                at=now,
                actor=actor,
            )
            chain = await custody_log.entries(conn, agency_id, report_id)
            chains[str(report_id)] = chain
            head = chain[-1].hash
            pins.append(
                (CustodyAction.VERIFIED, head, f"custody chain of report {report_id}: {len(chain)} entries")
            )
        pins.append((CustodyAction.EXPORTED, str(case_id), f"evidence bundle of {len(reports)} report(s)"))
        await custody_log.append(conn, agency_id, ("case", case_id), pins, at=now, actor=actor)
        return chains

    async def delete(self, agency_id: str, request: DeleteEvidence) -> EvidenceDeleted:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            held = await repository.items_of(conn, agency_id, [request.report_id])
            if not held:
                raise NotFound(f"laporan {request.report_id} tidak punya bukti")
            removable = await repository.delete_report_items(conn, agency_id, request.report_id, now)
            deleted = sorted({h.item.sha256 for h in held if h.item.status == "preserved" and h.item.sha256})
            await custody_log.append(
                conn,
                agency_id,
                ("report", request.report_id),
                [(CustodyAction.DELETED, sha256, f"retention: {request.reason}") for sha256 in deleted],
                at=now,
                actor=who(request.actor, request.principal),
            )
        # Bytes go after the commit: a crash in between leaves bytes nobody lists, never a
        # listed item without its bytes.
        for sha256 in removable:
            await self._store.delete(sha256)
        return EvidenceDeleted(report_id=request.report_id, deleted=len(deleted))
