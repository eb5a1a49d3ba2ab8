"""Triage applying the calendar and the registries to real reports on real PostgreSQL."""

from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from pantau_shared.contract import Channel, Platform, ReportReceived, new_id
from pantau_shared.contract.rpc import CaseQuery, ReportQuery
from pantau_shared.settings import PlatformSettings
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.classify import TriageClassifier
from pantau_triage.election_rules import ElectionRules
from pantau_triage.elections import Calendar
from pantau_triage.handlers import TriageHandlers
from pantau_triage.registries import parse_accounts, parse_officials
from pantau_triage.registry_store import import_accounts, import_officials
from pantau_triage.routing import Router
from tests.conftest import connect
from tests.integration.test_services import wrap

WITA = timezone(timedelta(hours=8))
QUIET = datetime(2024, 2, 12, 10, 0, tzinfo=WITA)  # masa tenang Pemilu 2024
CAMPAIGN = datetime(2024, 1, 20, 10, 0, tzinfo=WITA)


@pytest.fixture
async def triage(platform: PlatformSettings, agency: str):
    infra = await connect(platform, "triage")
    suffix = agency.split("-")[1]
    await import_accounts(
        infra.pool,
        parse_accounts(
            [
                "participant,party,election_id,region_code,platform,handle,url",
                f"Lalu Budi Santoso,PKB,pemilu-2024,52.01,instagram,@budisantoso{suffix},",
            ]
        ).rows,
    )
    await import_officials(
        infra.pool,
        parse_officials(
            [
                "name,role,institution,region_code,platform,handle,url",
                f"Ahmad Kades,kepala_desa,Desa Gerung Utara,52.01.05,facebook,kades.gerung{suffix},",
            ]
        ).rows,
    )
    handlers = TriageHandlers(
        infra.pool,
        infra.outbox,
        TriageClassifier.packaged(),
        Router.load(),
        ClaimRegistry(),
        ElectionRules(Calendar.load()),
    )
    yield infra, handlers, suffix
    await infra.close()


def post(agency: str, text: str, url: str, at: datetime) -> ReportReceived:
    return ReportReceived(
        report_id=new_id(),
        agency_id=agency,
        channel=Channel.PATROL,
        submitted_at=at,
        received_at=at,
        text=text,
        url=url,
        canonical_url=url,
        platform=Platform.INSTAGRAM,
        region_code="52.01",
        raw_sha256="0" * 64,
    )


async def case_for(handlers: TriageHandlers, agency: str, report: ReportReceived):
    await handlers.report_received(wrap(report))
    found = await handlers.casework.case_for_report(agency, ReportQuery(report_id=report.report_id))
    assert found.case_id is not None
    return await handlers.casework.get_case(agency, CaseQuery(case_id=found.case_id))


CAMPAIGN_POST = "Ayo coblos nomor 3, pilih Lalu Budi Santoso untuk DPRD Lombok Barat!"


async def test_a_participants_campaign_post_in_the_quiet_period_is_flagged(triage, agency: str) -> None:
    _, handlers, suffix = triage
    url = f"https://instagram.com/budisantoso{suffix}"
    quiet = await case_for(handlers, agency, post(agency, CAMPAIGN_POST, url, QUIET))
    flagged = {c.category: c for c in quiet.categories}
    assert "kampanye_luar_jadwal" in flagged
    assert "masa tenang Pemilu 2024" in flagged["kampanye_luar_jadwal"].reason
    assert any("Akun resmi peserta: Lalu Budi Santoso (PKB)" in r for r in quiet.priority_reasons)
    assert any("Masa tenang Pemilu 2024" in r for r in quiet.priority_reasons)

    during = await case_for(
        handlers,
        agency,
        post(agency, CAMPAIGN_POST, f"https://instagram.com/budisantoso{suffix}/?campaign", CAMPAIGN),
    )
    assert "kampanye_luar_jadwal" not in {c.category for c in during.categories}
    assert during.priority < quiet.priority


async def test_a_watched_village_head_campaigning_is_a_neutrality_case(triage, agency: str) -> None:
    _, handlers, suffix = triage
    report = post(agency, CAMPAIGN_POST, f"https://www.facebook.com/kades.gerung{suffix}", CAMPAIGN)
    case = await case_for(handlers, agency, report.model_copy(update={"platform": Platform.FACEBOOK}))
    neutrality = next(c for c in case.categories if c.category == "netralitas_asn")
    assert "Ahmad Kades (Desa Gerung Utara)" in neutrality.reason


async def test_an_unregistered_look_alike_account_is_marked_for_review(triage, agency: str) -> None:
    _, handlers, suffix = triage
    report = post(
        agency,
        "Info resmi dari caleg kita, simak ya",
        f"https://instagram.com/budisantoso{suffix}_official",
        CAMPAIGN,
    )
    case = await case_for(handlers, agency, report)
    assert any("perlu ditinjau" in r and f"budisantoso{suffix}" in r for r in case.priority_reasons)


async def test_a_batchs_authors_are_asked_in_a_few_statements_with_each_reports_answer(
    triage, agency: str
) -> None:
    """The registries' answers for a batch, asked at once, are each report's own answer; and
    the batch costs the same few statements whatever its size."""
    infra, _, suffix = triage
    rules = ElectionRules(Calendar.load())
    urls = [
        f"https://instagram.com/budisantoso{suffix}",  # a participant's account
        f"https://www.facebook.com/kades.gerung{suffix}",  # a watched official
        f"https://instagram.com/budisantoso{suffix}_official",  # imitates the participant
        f"https://instagram.com/budisantoso{suffix}.fans",  # imitates the participant
        "https://instagram.com/seseorang_lain_sekali",  # no registry knows it
        "https://www.facebook.com/groups/123/posts/456",  # names no account
    ]
    batch = [post(agency, "teks", url, CAMPAIGN) for url in urls * 5]
    statements: list[str] = []
    async with infra.pool.acquire() as conn:
        one_by_one = [(await rules.authors(conn, [report]))[0] for report in batch]

        def logged(record: asyncpg.connection.LoggedQuery) -> None:
            statements.append(record.query)

        conn.add_query_logger(logged)
        together = await rules.authors(conn, batch)
        conn.remove_query_logger(logged)
    assert together == one_by_one
    kinds = [
        type(a.account).__name__ if a.account else ("lookalike" if a.similar else None) for a in together
    ]
    assert kinds[:6] == ["RegisteredAccount", "WatchedOfficial", "lookalike", "lookalike", None, None]
    assert len(statements) <= 4, statements
