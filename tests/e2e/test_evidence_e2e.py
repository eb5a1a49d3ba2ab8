"""Preservation on the stack as processes: a report with a link yields a stored WARC,
screenshot and timestamp within seconds, and the case's evidence bundle verifies offline with
`pantau-evidence verify` and fails once any byte of it is changed."""

import asyncio
import hashlib
import io
import subprocess
import sys
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pantau_devstack.local_evidence import evidence_env
from pantau_devstack.posts_site import PostsSite
from pantau_devstack.processes import Platform, ServiceProcesses
from pantau_devstack.servers import free_port
from pantau_devstack.tsa import LocalTsa
from pantau_shared.settings import PlatformSettings
from tests.waiting import eventually

# A module-scoped platform starts inside the first test's time: ten CLI processes and four
# services, each importing for seconds on a slow shared machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

AGENCY, OTHER = "bawaslu-3375", "bawaslu-1771"
# Routing sends incitement and SARA cases to Komdigi (triage's routing.toml), on the same instance.
ROUTED = "komdigi"
# The command a lawyer runs, as installed beside this interpreter.
PANTAU_EVIDENCE = str(Path(sys.executable).parent / "pantau-evidence")


def verify(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PANTAU_EVIDENCE, "verify", *arguments], capture_output=True, text=True, check=False
    )


@dataclass
class Stack:
    api: str
    key: str
    other_key: str
    routed_key: str
    site: PostsSite
    home: Path


@pytest.fixture(scope="module")
async def stack(platform: PlatformSettings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("evidence-e2e")
    async with LocalTsa(port=0) as tsa, PostsSite() as site:
        services = Platform(
            nats_url=platform.nats_url,
            database_url=platform.database_url,
            redis_url=platform.redis_url,
            smtp_port=free_port(),
            # Its own root: this module's streams and consumers are apart from test_platform's.
            subject_root=platform.subject_root + "ev",
            gateway_port=free_port(),
            health_ports={name: free_port() for name in ("intake", "triage", "notify")},
            extra_env={
                "PANTAU_LOG_FORMAT": "text",
                "PANTAU_DRAIN_TIMEOUT_S": "5",
                **evidence_env(home, tsa.url, tsa.root_pem),
            },
        )
        for service in ("intake", "triage", "notify", "gateway"):
            services.command(service, "setup")
        for agency, region in ((AGENCY, "33.75"), (OTHER, "17.71")):
            services.command(
                "gateway",
                "create-agency",
                "--id",
                agency,
                "--name",
                agency,
                "--kind",
                "bawaslu",
                "--region",
                region,
            )
        services.command("gateway", "create-agency", "--id", ROUTED, "--name", "Komdigi", "--kind", "komdigi")
        key = services.command("gateway", "add-key", "--agency", AGENCY)
        other_key = services.command("gateway", "add-key", "--agency", OTHER)
        routed_key = services.command("gateway", "add-key", "--agency", ROUTED)
        log = home / "services.log"
        with open(log, "wb") as output:  # noqa: ASYNC230 - set-up, before any test runs
            processes = ServiceProcesses(services, stdout=output)
            processes.start()
            try:
                await asyncio.to_thread(processes.wait_ready, 180)
                yield Stack(
                    f"http://127.0.0.1:{services.gateway_port}", key, other_key, routed_key, site, home
                )
            finally:
                codes = await asyncio.to_thread(processes.stop, 20)
        assert codes == {"intake": 0, "triage": 0, "notify": 0, "gateway": 0}, log.read_text()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api, headers={"X-API-Key": stack.key}, timeout=30) as client:
        yield client


async def evidence_of(api: httpx.AsyncClient, report_id: str, kinds: int) -> dict | None:
    answer = await api.get(f"/v1/reports/{report_id}/evidence")
    if answer.status_code != 200:
        return None
    listing = answer.json()
    done = [i for i in listing["items"] if i["timestamp"] in ("stamped", "not_timestamped")]
    return listing if listing["pending"] == 0 and len(done) >= kinds else None


async def test_a_reported_link_is_preserved_and_its_bundle_verifies_offline(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    link = stack.site.add("e2e-1", "Serangan fajar: amplop 100 ribu untuk yang coblos nomor 3")
    started = time.monotonic()
    accepted = await api.post(
        "/v1/reports", json={"text": f"Lihat unggahan ini {link} sebelum dihapus", "region_code": "33.75"}
    )
    assert accepted.status_code == 202, accepted.text
    report_id = accepted.json()["report_id"]

    listing = await eventually(lambda: evidence_of(api, report_id, 3), timeout=30, what="link preserved")
    elapsed = time.monotonic() - started
    items = {item["kind"]: item for item in listing["items"]}
    assert {"warc", "screenshot", "media"} <= set(items), listing
    for item in items.values():
        assert item["status"] == "preserved" and item["url"].startswith(stack.site.base_url)
        assert item["timestamp"] == "stamped" and item["timestamp_verified"] is True
    assert elapsed < 20, f"preserved in {elapsed:.1f}s"

    shot = await api.get(f"/v1/evidence/{items['screenshot']['sha256']}")
    assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
    assert hashlib.sha256(shot.content).hexdigest() == items["screenshot"]["sha256"]
    warc = await api.get(f"/v1/evidence/{items['warc']['sha256']}")
    assert warc.headers["content-type"] == "application/warc" and link.encode() in warc.content

    async def case_of() -> str | None:
        report = (await api.get(f"/v1/reports/{report_id}")).json()
        case_id = report.get("case_id")
        if not case_id:
            return None
        listed = (await api.get(f"/v1/cases/{case_id}/evidence")).json()
        return case_id if len(listed.get("items", [])) >= 3 else None

    case_id = await eventually(case_of, timeout=30, what="case with its evidence")
    bundle = await api.get(f"/v1/cases/{case_id}/evidence-bundle")
    assert bundle.status_code == 200, bundle.text
    assert bundle.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert "manifest.json" in names and "custody.jsonl" in names
    assert any(name.endswith(".png") for name in names) and any(name.endswith(".warc") for name in names)

    path = stack.home / "bundle.zip"
    path.write_bytes(bundle.content)
    public_key = stack.home / "bundle-signing-key.pub"
    good = await asyncio.to_thread(verify, str(path), "--public-key", str(public_key))
    assert good.returncode == 0, good.stdout + good.stderr
    for position in (len(bundle.content) // 3, len(bundle.content) - 10):
        flipped = bytearray(bundle.content)
        flipped[position] ^= 0x01
        changed = stack.home / f"changed-{position}.zip"
        changed.write_bytes(bytes(flipped))
        bad = await asyncio.to_thread(verify, str(changed))
        assert bad.returncode != 0, bad.stdout

    # Another agency sees none of it.
    async with httpx.AsyncClient(base_url=stack.api, headers={"X-API-Key": stack.other_key}) as other:
        assert (await other.get(f"/v1/reports/{report_id}/evidence")).json()["items"] == []
        assert (await other.get(f"/v1/evidence/{items['warc']['sha256']}")).status_code == 404
        assert (await other.get(f"/v1/cases/{case_id}/evidence-bundle")).status_code == 404


async def test_a_report_with_inward_links_is_kept_and_each_refusal_recorded(api: httpx.AsyncClient) -> None:
    text = "Tautan aneh: file:///etc/passwd dan http://169.254.169.254/latest/meta-data/ dan http://10.0.0.8/"
    accepted = await api.post("/v1/reports", json={"text": text, "region_code": "33.75"})
    assert accepted.status_code == 202
    report_id = accepted.json()["report_id"]
    listing = await eventually(lambda: evidence_of(api, report_id, 3), timeout=30, what="refusals recorded")
    reasons = {item["url"]: (item["status"], item["reason"]) for item in listing["items"]}
    assert reasons["file:///etc/passwd"][0] == "refused" and "file" in reasons["file:///etc/passwd"][1]
    assert "metadata" in reasons["http://169.254.169.254/latest/meta-data/"][1]
    assert "private" in reasons["http://10.0.0.8/"][1]
    # The report itself was stored and reads as usual.
    assert (await api.get(f"/v1/reports/{report_id}")).status_code == 200


async def test_the_agency_a_case_was_routed_to_reads_its_evidence_and_is_named_in_custody(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """Komdigi, asked to take a post down, needs what was kept of it: the owner's evidence,
    read as Komdigi, which the custody log names."""
    link = stack.site.add("e2e-routed", "Usir mereka dari kampung kita")
    text = f"Dasar kafir dan cina, usir mereka dari kampung kita, bakar rumah ibadah mereka {link}"
    accepted = await api.post("/v1/reports", json={"text": text, "region_code": "33.75"})
    assert accepted.status_code == 202, accepted.text
    report_id = accepted.json()["report_id"]
    await eventually(lambda: evidence_of(api, report_id, 3), timeout=30, what="link preserved")

    async def routed_case() -> str | None:
        case_id = (await api.get(f"/v1/reports/{report_id}")).json().get("case_id")
        if not case_id:
            return None
        case = (await api.get(f"/v1/cases/{case_id}")).json()
        return case_id if ROUTED in case.get("routed_to", []) else None

    case_id = await eventually(routed_case, timeout=30, what="case routed to Komdigi")
    async with httpx.AsyncClient(base_url=stack.api, headers={"X-API-Key": stack.routed_key}) as komdigi:
        # Intake links the case to its reports when it reads the case's event: asynchronously.
        async def listed() -> set[str] | None:
            answer = await komdigi.get(f"/v1/cases/{case_id}/evidence")
            assert answer.status_code == 200, answer.text
            kinds = {item["kind"] for item in answer.json()["items"]}
            return kinds if {"warc", "screenshot"} <= kinds else None

        await eventually(listed, timeout=30, what="the case's evidence, read by Komdigi")
        bundle = await komdigi.get(f"/v1/cases/{case_id}/evidence-bundle")
        assert bundle.status_code == 200, bundle.text
    custody = zipfile.ZipFile(io.BytesIO(bundle.content)).read("custody.jsonl").decode()
    assert f"{ROUTED}:" in custody  # the export is Komdigi's, by name
    path = stack.home / "routed-bundle.zip"
    path.write_bytes(bundle.content)
    checked = await asyncio.to_thread(
        verify, str(path), "--public-key", str(stack.home / "bundle-signing-key.pub")
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
