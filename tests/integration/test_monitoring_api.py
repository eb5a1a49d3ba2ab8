"""`GET /v1/monitoring/coverage` and the account detail through the gateway, answered over NATS
by intake's schedule and triage's observed posts (real servers, each service's answers only)."""

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pantau_gateway.app import create_app
from pantau_intake.flood import FloodGuard
from pantau_intake.handlers import IntakeHandlers
from pantau_intake.monitoring import schedule
from pantau_intake.monitoring.coverage import CoverageReader
from pantau_intake.monitoring.schedule import Listed
from pantau_intake.settings import MonitoredAgency, MonitoringSettings
from pantau_shared.bus import Answer
from pantau_shared.bus.rpc import serve as serve_rpc
from pantau_shared.contract import Platform, ReportReceived
from pantau_shared.contract.monitoring import MONITORING_ACCOUNT, MONITORING_COVERAGE
from pantau_shared.settings import PlatformSettings
from pantau_triage.casework import CaseWork
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.classify import TriageClassifier
from pantau_triage.election_rules import ElectionRules
from pantau_triage.elections import Calendar
from pantau_triage.handlers import TriageHandlers
from pantau_triage.routing import Router
from tests.conftest import connect
from tests.integration.test_gateway import SETTINGS, create_key, is_problem
from tests.integration.test_monitoring_triage import _post, _triage
from tests.integration.test_services import wrap

NOW = datetime.now(UTC)


def _opening(triage) -> TriageHandlers:
    return TriageHandlers(
        triage.pool,
        triage.outbox,
        TriageClassifier.packaged(),
        Router.load(),
        ClaimRegistry(),
        ElectionRules(Calendar.load()),
    )


@pytest.fixture
async def answering(platform: PlatformSettings):
    intake, triage = await connect(platform, "intake"), await connect(platform, "triage")
    served = []

    async def serve(agencies: dict[str, MonitoredAgency]) -> None:
        periods = dict.fromkeys(agencies, "quiet")
        reader = CoverageReader(intake.pool, MonitoringSettings(), agencies, periods)
        answers = [Answer(MONITORING_COVERAGE, reader.coverage), Answer(MONITORING_ACCOUNT, reader.account)]
        flood = FloodGuard(intake.redis, platform.subject_root, daily_limit=50)
        answers += IntakeHandlers(intake.pool, intake.outbox, b"test-pepper-0123456789", flood).answers()
        served.extend(await serve_rpc(intake.nc, intake.subjects, "intake", answers))
        casework = CaseWork(triage.pool, triage.outbox, ClaimRegistry()).answers()
        served.extend(
            await serve_rpc(triage.nc, triage.subjects, "triage", _triage(triage).answers() + casework)
        )
        # Subscribed at the server before the gateway's connection asks.
        await intake.nc.flush()
        await triage.nc.flush()

    yield intake, triage, serve
    for subscription in served:
        await subscription.unsubscribe()
    await triage.close()
    await intake.close()


async def _checked(intake, agency: str, account: str, at: datetime, state: str = "active") -> None:
    await intake.pool.execute(
        "UPDATE watched_accounts SET last_success_at = $3, last_checked_at = $3, state = $4, handle = $5"
        " WHERE agency_id = $1 AND account_id = $2",
        agency,
        account,
        at,
        state,
        account + ("_baru" if account.startswith("ganti") else ""),
    )


async def test_coverage_lists_the_accounts_missing_the_slo_first_and_stays_within_the_agency(
    answering, platform: PlatformSettings, agency: str
) -> None:
    intake, triage, serve = answering
    other = "agency-" + secrets.token_hex(4)
    accounts = ["fresh", "stale", "never", "hilang", "gantinama"]
    async with intake.pool.acquire() as conn:
        await schedule.sync(
            conn, agency, [Listed(Platform.X, a, "participant", "33.75") for a in accounts], NOW
        )
        await schedule.sync(conn, other, [Listed(Platform.X, "fresh", "participant", "33.75")], NOW)
    await _checked(intake, agency, "fresh", NOW - timedelta(minutes=10))
    await _checked(intake, agency, "stale", NOW - timedelta(hours=3))
    await _checked(intake, agency, "hilang", NOW - timedelta(minutes=5), "gone")
    await _checked(intake, agency, "gantinama", NOW - timedelta(minutes=30))
    agencies = {a: MonitoredAgency(regions=["33.75"], x_bearer_token=SecretStr("t")) for a in (agency, other)}
    await serve(agencies)
    finding = _post(
        agency,
        "33.75",
        "fresh",
        "Besok pagi serangan fajar, tiap rumah dapat amplop 100 ribu",
        NOW - timedelta(minutes=40),
    )
    assert await _triage(triage, clock=lambda: NOW).posts_observed([finding]) == [None]
    [staged] = await triage.pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.report.received'", agency
    )
    report = ReportReceived.model_validate_json(bytes(staged["body"]))
    await _opening(triage).report_received(wrap(report))

    with TestClient(create_app(platform, SETTINGS), raise_server_exceptions=False) as client:
        # Keys once the app has migrated its schema.
        key = {"X-API-Key": await create_key(platform, agency)}
        other_key = {"X-API-Key": await create_key(platform, other)}
        response = await asyncio.to_thread(client.get, "/v1/monitoring/coverage", headers=key)
        assert response.status_code == 200, response.text
        coverage = response.json()
        assert (coverage["period"], coverage["slo_s"]) == ("quiet", 3600.0)
        assert (coverage["accounts"], coverage["active"], coverage["within_slo"]) == (5, 4, 2)
        assert coverage["share_within_slo"] == 0.5
        listed = [a["account_id"] for a in coverage["listed"]]
        # Never checked (overdue since added), then the stale one; gone accounts are not in the SLO.
        assert listed[:2] == ["never", "stale"] and set(listed[2:]) == {"fresh", "gantinama", "hilang"}
        [x] = coverage["platforms"]
        assert (x["gone"], x["renamed"]) == (1, 1)
        [quota] = coverage["forecasts"]
        assert quota["enough"] and quota["accounts"] == 4

        theirs = (await asyncio.to_thread(client.get, "/v1/monitoring/coverage", headers=other_key)).json()
        assert (theirs["accounts"], [a["account_id"] for a in theirs["listed"]]) == (1, ["fresh"])

        detail = await asyncio.to_thread(client.get, "/v1/monitoring/accounts/x/fresh", headers=key)
        assert detail.status_code == 200, detail.text
        body = detail.json()
        assert body["account"]["within_slo"] and [p["finding"] for p in body["posts"]] == [True]
        assert body["posts"][0]["posted_at"].startswith(
            (NOW - timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M")
        )
        # The other agency's account of the same name has no posts of this agency's.
        assert (
            await asyncio.to_thread(client.get, "/v1/monitoring/accounts/x/fresh", headers=other_key)
        ).json()["posts"] == []
        # The report the finding became reads like any other, though intake never stored it.
        read = await asyncio.to_thread(client.get, f"/v1/reports/{report.report_id}", headers=key)
        assert read.status_code == 200, read.text
        assert (read.json()["channel"], read.json()["author_handle"]) == ("monitoring", "fresh")
        assert read.json()["case_id"] is not None
        is_problem(
            await asyncio.to_thread(client.get, f"/v1/reports/{report.report_id}", headers=other_key), 404
        )
        unfed = await asyncio.to_thread(
            client.get, "/v1/monitoring/cases/018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91", headers=key
        )
        assert unfed.status_code == 200 and unfed.json() == {"posts": []}
        missing = await asyncio.to_thread(client.get, "/v1/monitoring/accounts/x/tidakada", headers=key)
        is_problem(missing, 404)
        is_problem(await asyncio.to_thread(client.get, "/v1/monitoring/coverage"), 401)
        is_problem(
            await asyncio.to_thread(client.get, "/v1/monitoring/coverage?platform=myspace", headers=key), 422
        )
