"""A reporter's late edit or deletion of a WhatsApp message: from the webhook through intake to
the case history in triage, against real NATS and PostgreSQL."""

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from pantau_devstack import whatsapp_cloud as meta
from pantau_gateway.app import create_app
from pantau_gateway.whatsapp import report_id
from pantau_intake.flood import FloodGuard
from pantau_intake.handlers import IntakeHandlers
from pantau_shared.contract import (
    Channel,
    Envelope,
    MessageRevoked,
    Reporter,
    ReportReceived,
    ReportRevised,
    ReportSubmitted,
    Subjects,
    decode,
)
from pantau_shared.contract.rpc import CaseQuery, ReportQuery
from pantau_shared.settings import PlatformSettings
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.classify import TriageClassifier
from pantau_triage.handlers import TriageHandlers
from pantau_triage.routing import Router
from tests.conftest import connect
from tests.integration.test_channels import APP_SECRET, SENDER, SETTINGS
from tests.integration.test_gateway import issue_key
from tests.integration.test_services import RULES, wrap


async def staged(infra: Any, agency: str, suffix: str) -> list[Envelope[Any]]:
    rows = await infra.pool.fetch(
        "SELECT headers, body FROM outbox WHERE subject LIKE '%.' || $1 || '.' || $2 ORDER BY id",
        agency,
        suffix,
    )
    return [decode(json.loads(r["headers"]), bytes(r["body"])) for r in rows]


def original(agency: str) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=report_id(agency, "wamid.ASLI"),
        agency_id=agency,
        channel=Channel.WHATSAPP,
        submitted_at=datetime.now(UTC),
        text="Kades Podosugih bagi amplop 100 ribu di RT 03, serangan fajar",
        reporter=Reporter(phone=SENDER, wants_updates=True),
        external_id="wamid.ASLI",
        message_kind="text",
    )


@pytest.fixture
async def services(platform: PlatformSettings):
    intake_infra = await connect(platform, "intake")
    triage_infra = await connect(platform, "triage")
    flood = FloodGuard(intake_infra.redis, platform.subject_root, daily_limit=50)
    intake = IntakeHandlers(intake_infra.pool, intake_infra.outbox, b"test-pepper-0123456789", flood)
    triage = TriageHandlers(
        triage_infra.pool,
        triage_infra.outbox,
        TriageClassifier.packaged(),
        Router.load(),
        ClaimRegistry(),
        RULES,
    )
    yield intake_infra, intake, triage_infra, triage
    await intake_infra.close()
    await triage_infra.close()


async def test_a_late_edit_and_a_deletion_reach_the_case_history(
    services: Any, agency: str, caplog: pytest.LogCaptureFixture
) -> None:
    intake_infra, intake, triage_infra, triage = services
    report = original(agency)
    await intake.report_submitted(wrap(report))
    [received] = await staged(intake_infra, agency, "report.received")
    assert isinstance(received.data, ReportReceived)
    await triage.report_received(received)  # the report went to triage and opened a case
    case_id = await triage_infra.pool.fetchval(
        "SELECT case_id FROM case_reports WHERE report_id = $1", report.report_id
    )
    assert case_id is not None

    edit = report.model_copy(
        update={
            "report_id": report_id(agency, "wamid.EDIT"),
            "external_id": "wamid.EDIT",
            "text": "Koreksi: di RT 04, bukan RT 03",
            "message_kind": "edit",
            "revises": "wamid.ASLI",
        }
    )
    revoke = MessageRevoked(
        agency_id=agency,
        channel=Channel.WHATSAPP,
        external_id="wamid.HAPUS",
        revises="wamid.ASLI",
        revoked_at=datetime.now(UTC),
    )
    with caplog.at_level(logging.INFO):
        for _ in range(2):  # each delivered twice: still one revision each
            await intake.report_submitted(wrap(edit))
            await intake._revisions.revoked(wrap(revoke))
    revisions = await staged(intake_infra, agency, "report.revised")
    assert [(e.data.change, e.data.text) for e in revisions] == [
        ("edited", "Koreksi: di RT 04, bukan RT 03"),
        ("withdrawn", None),
    ]
    assert all(isinstance(e.data, ReportRevised) and e.data.report_id == report.report_id for e in revisions)
    row = await intake_infra.pool.fetchrow(
        "SELECT text, withdrawn_at FROM reports WHERE report_id = $1", report.report_id
    )
    assert row["text"] == report.text and row["withdrawn_at"] is not None  # evidence kept
    # What `GET /v1/reports/{id}` shows: the report as received, and when its sender withdrew it.
    stored = await intake.get_report(agency, ReportQuery(report_id=report.report_id))
    assert stored.text == report.text and stored.withdrawn_at == revoke.revoked_at
    assert any("revoke wamid.HAPUS applied" in r.getMessage() for r in caplog.records)

    for envelope in [*revisions, *revisions]:
        await triage.revisions.report_revised(envelope)
    history = await triage.casework.get_history(agency, CaseQuery(case_id=case_id))
    changes = [(h.change, h.actor, h.note) for h in history.entries if h.change.startswith("report_")]
    assert changes == [
        ("report_edited", "pelapor", "Pelapor mengubah pesannya menjadi: Koreksi: di RT 04, bukan RT 03"),
        ("report_withdrawn", "pelapor", "Pelapor menghapus pesannya; laporan dan buktinya tetap disimpan."),
    ]


async def withdrawn_before_its_case(
    services: Any, agency: str, external_id: str
) -> tuple[ReportSubmitted, Envelope[Any]]:
    """A report stored by intake and withdrawn by its reporter, the change read by triage before
    the report (two consumers, no order between them): the report and its report.received."""
    intake_infra, intake, _, triage = services
    report = original(agency)
    await intake.report_submitted(wrap(report))
    [received] = await staged(intake_infra, agency, "report.received")
    withdrawn = ReportRevised(
        report_id=report.report_id,
        agency_id=agency,
        change="withdrawn",
        revised_at=datetime.now(UTC),
        external_id=external_id,
        revises="wamid.ASLI",
    )
    await triage.revisions.report_revised(wrap(withdrawn))
    return report, received


async def test_a_change_read_before_its_report_is_shown_when_the_report_joins_a_case(
    services: Any, agency: str
) -> None:
    _, _, triage_infra, triage = services
    report, received = await withdrawn_before_its_case(services, agency, "wamid.HAPUS-DULU")
    await triage.report_received(received)
    await triage.report_received(received)  # a redelivery writes no second line
    case_id = await triage_infra.pool.fetchval(
        "SELECT case_id FROM case_reports WHERE report_id = $1", report.report_id
    )
    history = await triage.casework.get_history(agency, CaseQuery(case_id=case_id))
    assert [h.change for h in history.entries] == ["opened", "report_withdrawn"]


async def test_a_change_left_out_of_the_history_by_a_crash_is_written_at_the_redelivery(
    services: Any, agency: str
) -> None:
    _, _, triage_infra, triage = services
    report, received = await withdrawn_before_its_case(services, agency, "wamid.HAPUS-SEBELUM-KASUS")
    await triage.report_received(received)
    # As if the process died after the batch's write committed and before the history's
    # transaction: the report is in its case, its change in no history line.
    async with triage_infra.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM case_history WHERE change = 'report_withdrawn'"
            " AND case_id = (SELECT case_id FROM case_reports WHERE report_id = $1)",
            report.report_id,
        )
        await conn.execute(
            "UPDATE report_revisions SET in_history = false WHERE report_id = $1", report.report_id
        )
    await triage.report_received(received)  # the redelivery
    await triage.report_received(received)  # and another writes no second line
    case_id = await triage_infra.pool.fetchval(
        "SELECT case_id FROM case_reports WHERE report_id = $1", report.report_id
    )
    history = await triage.casework.get_history(agency, CaseQuery(case_id=case_id))
    assert [h.change for h in history.entries] == ["opened", "report_withdrawn"]


async def test_a_revoke_of_a_message_pantau_never_kept_is_ignored_with_a_log_line(
    services: Any, agency: str, caplog: pytest.LogCaptureFixture
) -> None:
    intake_infra, intake, _, _ = services
    revoke = MessageRevoked(
        agency_id=agency,
        channel=Channel.WHATSAPP,
        external_id="wamid.HAPUS2",
        revises="wamid.TIDAK-ADA",
        revoked_at=datetime.now(UTC),
    )
    with caplog.at_level(logging.INFO):
        await intake._revisions.revoked(wrap(revoke))
    assert await staged(intake_infra, agency, "report.revised") == []
    assert any("wamid.HAPUS2" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)


def test_the_webhook_queues_a_revoke_for_intake(platform: PlatformSettings, agency: str) -> None:
    payload = meta.message(SENDER, "revoke", {"original_message_id": "wamid.ASLI"})
    raw = meta.encode(payload)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(APP_SECRET, raw)}
    with TestClient(create_app(platform, SETTINGS)) as client:
        issue_key(platform, agency)  # after the app's start-up has migrated its tables
        for _ in range(2):  # Meta retries: one event
            assert (
                client.post(f"/webhooks/whatsapp/{agency}", content=raw, headers=headers).status_code == 200
            )

    async def read() -> list[Any]:
        nc = await nats.connect(platform.nats_url)
        subjects = Subjects(platform.subject_root)
        sub = await nc.jetstream().pull_subscribe(
            subjects.event(agency, MessageRevoked.SUBJECT), stream=subjects.stream("REPORTS")
        )
        try:
            return [json.loads(m.data) for m in await sub.fetch(10, timeout=1)]
        except nats.errors.TimeoutError:
            return []
        finally:
            await nc.close()

    [queued] = asyncio.run(read())
    assert (queued["revises"], queued["channel"]) == ("wamid.ASLI", "whatsapp")
