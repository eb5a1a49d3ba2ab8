"""The running API against its own OpenAPI document, and the promise of a 202.

Schemathesis (every check, bounded examples) drives the gateway with the three services behind
it; a property-based run then submits generated reports and requires every accepted id to be
readable within a deadline: a 202 means the report is stored.
"""

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pantau_devstack.mailsink import MailSink
from pantau_devstack.processes import Platform, ServiceProcesses
from pantau_devstack.servers import free_port
from pantau_shared.contract.fields import REGION_PATTERN, TEXT_PATTERN, URL_PATTERN
from pantau_shared.settings import PlatformSettings
from tests.waiting import eventually

# The schemathesis run alone may take five minutes on a loaded two-core machine (see below):
# about 8 s an operation there, 26 operations.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
AGENCY = "bawaslu-3376"
# Per operation; the run stays well under two minutes on a shared two-core machine.
MAX_EXAMPLES = 25


@dataclass
class Api:
    url: str
    key: str
    log: Path


@pytest.fixture(scope="module")
def api(platform: PlatformSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("api-contract")
    sink = MailSink(home / "mail", free_port())
    sink.start()
    stack = Platform(
        nats_url=platform.nats_url,
        database_url=platform.database_url,
        redis_url=platform.redis_url,
        smtp_port=sink.port,
        subject_root=platform.subject_root,
        gateway_port=free_port(),
        health_ports={name: free_port() for name in ("intake", "triage", "notify")},
        extra_env={"PANTAU_LOG_FORMAT": "text", "PANTAU_DRAIN_TIMEOUT_S": "5"},
    )
    # Each service migrates and declares its streams when it starts; the gateway's admin
    # commands do so for the gateway.
    stack.command(
        "gateway", "create-agency", "--id", AGENCY, "--name", "Bawaslu Kab. Pekalongan", "--kind", "bawaslu"
    )
    key = stack.command("gateway", "add-key", "--agency", AGENCY, "--rate-limit", "1000000")
    log = home / "services.log"
    with open(log, "wb") as output:
        processes = ServiceProcesses(stack, stdout=output)
        processes.start()
        try:
            processes.wait_ready(180)
            yield Api(f"http://127.0.0.1:{stack.gateway_port}", key, log)
        finally:
            processes.stop(timeout_s=20)
            sink.stop()


@pytest.fixture
async def client(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, headers={"X-API-Key": api.key}, timeout=10) as client:
        yield client


async def test_schemathesis_finds_no_server_error_and_nothing_undocumented(
    api: Api, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    har = tmp_path / "run.har"
    run = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{api.url}/openapi.json",
        "--checks",
        "all",
        # A 202 promises the report later, not at once: that promise is checked below, with a
        # deadline, for every report schemathesis got accepted.
        "--exclude-checks",
        "ensure_resource_availability",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--seed",
        "7",
        "--no-shrink",
        "--generation-database",
        "none",
        "--header",
        f"X-API-Key: {api.key}",
        # Generous: the suite shares two cores with other runs, and a slow answer is not a wrong one.
        "--request-timeout",
        "30",
        "--report",
        "har",
        "--report-har-path",
        str(har),
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await asyncio.wait_for(run.communicate(), timeout=900)
    # Generated bodies can be megabytes: keep each line of the report short.
    assert run.returncode == 0, "\n".join(line[:400] for line in output.decode().splitlines()[-400:])
    # Every report schemathesis got a 202 for is stored.
    accepted = [
        json.loads(entry["response"]["content"]["text"])["report_id"]
        for entry in json.loads(har.read_text())["log"]["entries"]
        if entry["response"]["status"] == 202
    ]
    assert accepted, "schemathesis never had a report accepted"
    await eventually(lambda: stored(client, accepted), timeout=20, what="every 202 readable")


async def stored(client: httpx.AsyncClient, report_ids: list[str]) -> bool:
    for report_id in report_ids:
        if (await client.get(f"/v1/reports/{report_id}")).status_code != 200:
            return False
    return True


# What a careless or hostile client sends: random text, then strings close to the rules.
_text = st.one_of(st.text(max_size=200), st.from_regex(TEXT_PATTERN, fullmatch=True), st.just("a\x00b"))
_url = st.one_of(st.text(max_size=60), st.from_regex(URL_PATTERN, fullmatch=True), st.just("javascript:x"))
_region = st.one_of(st.just(""), st.text(max_size=8), st.from_regex(REGION_PATTERN, fullmatch=True))
_bodies = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(st.none(), _text),
        "url": st.one_of(st.none(), _url),
        "region_code": st.one_of(st.none(), _region),
        "author_handle": st.text(max_size=40),
        "reach": st.integers(min_value=-5, max_value=2**64),
        "reporter": st.fixed_dictionaries(
            {},
            optional={
                "name": st.text(max_size=30),
                "email": st.text(max_size=30),
                "phone": st.text(max_size=20),
            },
        ),
    },
)


async def test_every_accepted_report_is_readable_within_a_deadline(client: httpx.AsyncClient) -> None:
    outcomes: list[tuple[int, str]] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=_bodies)
    def submit(body: dict) -> None:
        outcomes.append((0, json.dumps(body)))

    submit()
    accepted = []
    for _, raw in outcomes:
        response = await client.post("/v1/reports", content=raw, headers={"content-type": "application/json"})
        assert response.status_code in (202, 422), (raw, response.status_code, response.text)
        assert response.headers["content-type"].startswith(
            "application/json" if response.status_code == 202 else "application/problem+json"
        )
        if response.status_code == 202:
            accepted.append(response.json()["report_id"])
    assert accepted, "no generated report was accepted"
    await eventually(lambda: stored(client, accepted), timeout=20, what="every 202 readable")
