"""Preservation against real servers: PostgreSQL, the local posts site, a local RFC 3161 TSA,
headless Chromium and the filesystem object store. Each report's links become a WARC, a
screenshot and media, stamped and logged; refused links are recorded with their reason."""

import asyncio
import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from warcio.archiveiterator import ArchiveIterator

from pantau_devstack.posts_site import PostsSite
from pantau_devstack.tsa import LocalTsa
from pantau_devstack.whatsapp_cloud import WhatsAppCloudPeer
from pantau_intake.email import parse_mail
from pantau_intake.evidence import Evidence, custody_log, jobs
from pantau_intake.media import MediaEvidence
from pantau_intake.settings import IntakeSettings
from pantau_shared.bundles import verify_bundle
from pantau_shared.contract import (
    Attachment,
    Channel,
    Envelope,
    EventData,
    Platform,
    PostObserved,
    ReportReceived,
    stable_id,
)
from pantau_shared.contract.evidence import BuildBundle, DeleteEvidence, EvidenceList, ReadEvidence
from pantau_shared.contract.rpc import CaseQuery, ReportQuery
from pantau_shared.custody import CustodyAction, verify_chain
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.objectstore import Missing, ObjectStoreSettings
from pantau_shared.settings import PlatformSettings
from pantau_shared.timestamping import verify
from pantau_shared.whatsapp import WhatsAppClient
from tests.conftest import connect

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
async def intake(platform: PlatformSettings) -> AsyncIterator[Infrastructure]:
    infra = await connect(platform, "intake")
    yield infra
    await infra.close()


@pytest.fixture
async def site() -> AsyncIterator[PostsSite]:
    async with PostsSite() as running:
        yield running


@pytest.fixture
async def tsa() -> AsyncIterator[LocalTsa]:
    async with LocalTsa(port=0) as running:
        yield running


def settings(tmp_path: Path, tsa: LocalTsa | None, allow_local: bool = True) -> IntakeSettings:
    return IntakeSettings(
        object_store=ObjectStoreSettings(url=f"file://{tmp_path}/evidence"),
        fetch_test_allowlist=["127.0.0.1/32"] if allow_local else [],
        fetch_timeout_s=5.0,
        evidence_tsa_url=tsa.url if tsa else None,
        evidence_tsa_roots=[tsa.root_pem.decode()] if tsa else [],
    )


@pytest.fixture
async def evidence(intake: Infrastructure, tmp_path: Path, tsa: LocalTsa) -> AsyncIterator[Evidence]:
    built = Evidence.build(intake.pool, intake.outbox, settings(tmp_path, tsa))
    yield built
    await built.aclose()


def received(agency: str, url: str | None, text: str | None = None) -> Envelope[EventData]:
    report = ReportReceived(
        report_id=uuid4(),
        agency_id=agency,
        channel=Channel.API,
        submitted_at=datetime.now(UTC),
        received_at=datetime.now(UTC),
        text=text,
        url=url,
        platform=Platform.UNKNOWN,
        raw_sha256="0" * 64,
    )
    return Envelope(data=report, source="/test", agency_id=agency)


def report_of(envelope: Envelope[EventData]) -> UUID:
    assert isinstance(envelope.data, ReportReceived)
    return envelope.data.report_id


async def stored(evidence: Evidence, infra: Infrastructure, envelope: Envelope[EventData]) -> None:
    """What intake writes with the report as it stores it: its links' jobs and the files it kept."""
    report = envelope.data
    assert isinstance(report, ReportReceived) and evidence.on_store is not None
    kept = await evidence.on_store.kept(report.attachments)
    async with infra.pool.acquire() as conn, conn.transaction():
        await evidence.on_store.report_stored(conn, report, kept)
    evidence.on_store.wake()


async def preserved(evidence: Evidence, infra: Infrastructure, envelope: Envelope[EventData]) -> EvidenceList:
    await stored(evidence, infra, envelope)
    while await evidence.preserver.run_once():
        pass
    report = envelope.data
    assert isinstance(report, ReportReceived)
    return await evidence.answers_.of_report(report.agency_id, ReportQuery(report_id=report.report_id))


async def test_a_reported_page_is_kept_as_warc_screenshot_and_media_each_stamped(
    evidence: Evidence, intake: Infrastructure, site: PostsSite, tsa: LocalTsa, agency: str
) -> None:
    url = site.add("p1", "Ayo coblos nomor 3 besok pagi")
    envelope = received(agency, url)
    listing = await preserved(evidence, intake, envelope)
    kinds = {item.kind: item for item in listing.items}
    assert set(kinds) == {"warc", "screenshot", "media"}, listing
    assert listing.pending == 0
    for item in listing.items:
        assert item.status == "preserved" and item.sha256 is not None
        data = await evidence.store.get(item.sha256)
        assert hashlib.sha256(data).hexdigest() == item.sha256 and len(data) == item.size
        assert item.timestamp == "stamped" and item.timestamp_verified is True
    warc = await evidence.store.get(kinds["warc"].sha256 or "")
    # (type, target, IP, payload digest, content) of every record, read as it is iterated.
    records = [
        (
            r.rec_type,
            r.rec_headers.get_header("WARC-Target-URI"),
            r.rec_headers.get_header("WARC-IP-Address"),
            r.rec_headers.get_header("WARC-Payload-Digest") or "",
            r.content_stream().read(),
        )
        for r in ArchiveIterator(io.BytesIO(warc))
    ]
    page = next(r for r in records if r[0] == "response" and r[1] == url)
    assert page[2] == "127.0.0.1" and page[3].startswith("sha1:")
    assert b"Ayo coblos nomor 3" in page[4]
    assert any(r[0] == "request" and r[1] == url for r in records)
    shot = await evidence.store.get(kinds["screenshot"].sha256 or "")
    assert shot.startswith(b"\x89PNG") and kinds["screenshot"].media_type == "image/png"
    assert kinds["media"].url == f"{site.base_url}/media/p1.png"
    # The browser reached the site only through the safe fetcher: the page once, the photo once.
    assert site.requests.count("/posts/p1") == 1
    async with intake.pool.acquire() as conn:
        token = await conn.fetchval(
            "SELECT timestamp_token FROM evidence_items WHERE sha256 = $1", kinds["warc"].sha256
        )
        chain = await custody_log.entries(conn, agency, report_of(envelope))
    assert verify(token, kinds["warc"].sha256 or "", [tsa.root_pem]) is not None
    verify_chain(chain)
    actions = [e.action for e in chain]
    assert actions.count(CustodyAction.PRESERVED) == 3 and actions.count(CustodyAction.TIMESTAMPED) == 3


async def test_refused_links_are_recorded_with_their_reason_and_the_report_kept(
    intake: Infrastructure, tmp_path: Path, site: PostsSite, agency: str
) -> None:
    strict = Evidence.build(intake.pool, intake.outbox, settings(tmp_path, None, allow_local=False))
    try:
        text = (
            "lihat file:///etc/passwd dan http://169.254.169.254/latest/meta-data/ juga "
            f"http://10.1.2.3/admin serta {site.base_url}/posts/p2 dan "
            f"http://localhost:{site.base_url.rsplit(':', 1)[1]}/posts/p2"
        )
        listing = await preserved(strict, intake, received(agency, None, text))
    finally:
        await strict.aclose()
    reasons = {item.url: item.reason or "" for item in listing.items}
    assert all(item.status == "refused" and item.kind == "warc" for item in listing.items), listing
    assert "scheme 'file'" in reasons["file:///etc/passwd"]
    assert "metadata" in reasons["http://169.254.169.254/latest/meta-data/"]
    assert "private" in reasons["http://10.1.2.3/admin"]
    assert "loopback" in reasons[f"{site.base_url}/posts/p2"]
    assert any("localhost" in (u or "") and "loopback" in r for u, r in reasons.items())
    assert all(item.timestamp == "not_timestamped" for item in listing.items)
    assert site.requests == []


async def test_an_unreachable_link_is_retried_then_given_up(
    intake: Infrastructure, tmp_path: Path, agency: str
) -> None:
    closed = Evidence.build(intake.pool, intake.outbox, settings(tmp_path, None))
    try:
        envelope = received(agency, None, "http://127.0.0.1:9/gone")
        await stored(closed, intake, envelope)
        assert await closed.preserver.run_once() == 1
        report_id = report_of(envelope)
        async with intake.pool.acquire() as conn:
            job = await conn.fetchrow("SELECT * FROM evidence_jobs WHERE report_id = $1", report_id)
            assert job is not None
            assert job["state"] == "pending" and job["attempts"] == 1 and job["due_at"] > datetime.now(UTC)
            # Due again now, on its last attempt: recorded as failed, with the reason.
            await conn.execute(
                "UPDATE evidence_jobs SET due_at = now(), attempts = 5 WHERE report_id = $1", report_id
            )
        assert await closed.preserver.run_once() == 1
        listing = await closed.answers_.of_report(agency, ReportQuery(report_id=report_id))
    finally:
        await closed.aclose()
    assert [(i.status, i.kind) for i in listing.items] == [("failed", "warc")]
    assert listing.items[0].reason and "127.0.0.1" in listing.items[0].reason


async def test_a_job_run_twice_stores_each_item_once(
    evidence: Evidence, intake: Infrastructure, site: PostsSite, agency: str
) -> None:
    url = site.add("p3", "Dua kali")
    envelope = received(agency, url)
    await stored(evidence, intake, envelope)
    await stored(evidence, intake, envelope)  # stored twice (a redelivery's race): still one job
    async with intake.pool.acquire() as conn:
        leased = await jobs.lease(
            conn, now=datetime.now(UTC), hold=__import__("datetime").timedelta(0), limit=10
        )
        mine = [j for j in leased if j.agency_id == agency]
        assert len(mine) == 1
        # The lease ran out while fetching, and another worker took the job over.
        again = await jobs.lease(
            conn, now=datetime.now(UTC), hold=__import__("datetime").timedelta(minutes=1), limit=10
        )
    await asyncio.gather(
        evidence.preserver.preserve(mine[0]), *(evidence.preserver.preserve(j) for j in again)
    )
    listing = await evidence.answers_.of_report(agency, ReportQuery(report_id=report_of(envelope)))
    assert sorted(i.kind for i in listing.items) == ["media", "screenshot", "warc"]


async def test_custody_appends_in_parallel_make_one_chain(intake: Infrastructure, agency: str) -> None:
    report_id = uuid4()

    async def one(n: int) -> None:
        async with intake.pool.acquire() as conn, conn.transaction():
            await custody_log.append(
                conn,
                agency,
                ("report", report_id),
                [(CustodyAction.ACCESSED, "a" * 64, f"read {n}")],
                at=datetime.now(UTC),
                actor=f"officer {n}",
            )

    await asyncio.gather(*(one(n) for n in range(12)))
    async with intake.pool.acquire() as conn:
        chain = await custody_log.entries(conn, agency, report_id)
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("UPDATE evidence_custody SET actor = 'x' WHERE chain_id = $1", report_id)
    assert len(chain) == 12
    verify_chain(chain)


async def test_reading_bundling_and_deleting_are_logged_and_the_bundle_verifies(
    evidence: Evidence, intake: Infrastructure, site: PostsSite, agency: str
) -> None:
    url = site.add("p4", "Bagi-bagi sembako")
    envelope = received(agency, url)
    report_id: UUID = report_of(envelope)
    listing = await preserved(evidence, intake, envelope)
    case_id = uuid4()
    async with intake.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO evidence_case_reports (case_id, agency_id, report_id) VALUES ($1, $2, $3)",
            case_id,
            agency,
            report_id,
        )
    warc = next(i for i in listing.items if i.kind == "warc")
    assert warc.sha256 is not None
    read = ReadEvidence(sha256=warc.sha256, actor="Siti", principal="key:k1")
    chunk = await evidence.answers_.read(agency, read)
    assert chunk.last and hashlib.sha256(chunk.data).hexdigest() == warc.sha256
    # The RPC client asks again with the same command id after a timeout: one read, logged once.
    assert (await evidence.answers_.read(agency, read)).data == chunk.data
    with pytest.raises(Exception, match="tidak ditemukan"):
        await evidence.answers_.read("agency-other", ReadEvidence(sha256=warc.sha256, actor="Budi"))
    assert (await evidence.answers_.of_case(agency, CaseQuery(case_id=case_id))).items == listing.items
    built = await evidence.answers_.bundle(agency, BuildBundle(case_id=case_id, actor="Siti"))
    data = b""
    while len(data) < built.size:
        part = await evidence.answers_.read(
            agency, ReadEvidence(sha256=built.sha256, offset=len(data), actor="Siti")
        )
        data += part.data
    assert verify_bundle(data).ok
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert f"custody/{report_id}.jsonl" in names and any(n.endswith(".warc") for n in names)
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    assert not verify_bundle(bytes(flipped)).ok
    deleted = await evidence.answers_.delete(
        agency, DeleteEvidence(report_id=report_id, actor="Siti", reason="retensi")
    )
    assert deleted.deleted == 3
    with pytest.raises(Missing):
        await evidence.store.get(warc.sha256 or "")
    async with intake.pool.acquire() as conn:
        chain = await custody_log.entries(conn, agency, report_id)
        case_chain = await custody_log.entries(conn, agency, case_id)
    verify_chain(chain)
    verify_chain(case_chain)
    actions = [e.action for e in chain]
    assert actions.count(CustodyAction.ACCESSED) == 1 and CustodyAction.EXPORTED in actions
    assert actions[-3:] == [CustodyAction.DELETED] * 3
    assert chain[0].actor == "pantau-intake" and any(e.actor == "Siti (key:k1)" for e in chain)
    assert [e.action for e in case_chain] == [CustodyAction.VERIFIED, CustodyAction.EXPORTED]


async def test_mail_attachments_kept_by_intake_become_stamped_items(
    evidence: Evidence, intake: Infrastructure, agency: str
) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "warga@example.id", "lapor@example.id", "Foto amplop"
    mail["Message-ID"] = f"<{uuid4()}@example.id>"
    mail.set_content("Foto pembagian amplop terlampir")
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20
    mail.add_attachment(photo, maintype="image", subtype="jpeg", filename="amplop.jpg")
    parsed = parse_mail(mail.as_bytes(), agency_id=agency)
    assert photo in parsed.files
    for data in parsed.files:
        await evidence.store.put(data)
    submitted = parsed.to_report()
    report = ReportReceived(
        report_id=submitted.report_id,
        agency_id=agency,
        channel=Channel.EMAIL,
        submitted_at=submitted.submitted_at,
        received_at=datetime.now(UTC),
        text=submitted.text,
        platform=Platform.UNKNOWN,
        raw_sha256="0" * 64,
        attachments=submitted.attachments,
    )
    listing = await preserved(evidence, intake, Envelope(data=report, source="/test", agency_id=agency))
    kept = {i.sha256: i for i in listing.items if i.kind == "attachment"}
    assert hashlib.sha256(photo).hexdigest() in kept
    assert all(i.status == "preserved" and i.timestamp_verified for i in kept.values())


async def test_a_refusing_or_lying_tsa_leaves_items_pending_until_a_valid_stamp(
    evidence: Evidence, intake: Infrastructure, site: PostsSite, tsa: LocalTsa, agency: str
) -> None:
    envelope = received(agency, site.add("p5", "Cap waktu ditolak dulu"))
    await stored(evidence, intake, envelope)
    tsa.refuse_next(1)
    tsa.misbehave_next("other_hash")
    tsa.misbehave_next("other_nonce")
    assert await evidence.preserver.run_once() == 1
    first = await evidence.answers_.of_report(agency, ReportQuery(report_id=report_of(envelope)))
    states = sorted(i.timestamp for i in first.items)
    # Three items, three bad answers: none kept as stamped.
    assert states == ["pending"] * 3, first
    await evidence.preserver.stamp_pending()
    second = await evidence.answers_.of_report(agency, ReportQuery(report_id=report_of(envelope)))
    assert all(i.timestamp == "stamped" and i.timestamp_verified for i in second.items), second
    async with intake.pool.acquire() as conn:
        attempts = await conn.fetch(
            "SELECT timestamp_attempts FROM evidence_items WHERE report_id = $1", report_of(envelope)
        )
    assert sorted(r["timestamp_attempts"] for r in attempts) == [1, 1, 1]


async def test_whatsapp_media_bytes_are_kept_in_the_object_store(evidence: Evidence, agency: str) -> None:
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 30
    async with WhatsAppCloudPeer() as peer:
        client = WhatsAppClient(
            peer.base_url, peer.phone_number_id, peer.access_token, api_version=peer.api_version
        )
        media = MediaEvidence(client, evidence.store)
        try:
            [hashed] = await media.hashed((Attachment(media_id=peer.add_media(photo, "image/jpeg")),))
        finally:
            await media.aclose()
    assert hashed.sha256 == hashlib.sha256(photo).hexdigest() and hashed.mime_type == "image/jpeg"
    assert await evidence.store.get(hashed.sha256) == photo


async def test_an_observed_posts_links_are_preserved_under_the_report_triage_makes_of_it(
    evidence: Evidence, intake: Infrastructure, site: PostsSite, agency: str
) -> None:
    url = site.add("o1", "Unggahan akun peserta")
    post = PostObserved(
        observation_id=uuid4(),
        agency_id=agency,
        platform=Platform.UNKNOWN,
        account_id="peserta-1",
        post_id="o1",
        text=f"Lihat {url}",
        posted_at=datetime.now(UTC),
        observed_at=datetime.now(UTC),
        evidence_sha256="0" * 64,
    )
    assert evidence.on_store is not None
    async with intake.pool.acquire() as conn, conn.transaction():
        await evidence.on_store.posts_stored(conn, [post])
    while await evidence.preserver.run_once():
        pass
    report_id = stable_id("monitoring.report", str(post.observation_id))
    listing = await evidence.answers_.of_report(agency, ReportQuery(report_id=report_id))
    assert {i.kind for i in listing.items} == {"warc", "screenshot", "media"}
    assert all(i.observation_id == post.observation_id for i in listing.items)
