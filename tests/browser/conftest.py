"""The browser tier: Debian's Chromium driven by Selenium through Debian's chromedriver, against
the four services running as processes on real servers.

Selenium Manager never runs (the driver's path is given), and Chromium is started with every
background service off, so nothing is fetched from outside this machine.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from pantau_devstack.mailsink import MailSink
from pantau_devstack.processes import Platform, ServiceProcesses
from pantau_devstack.servers import free_port
from pantau_shared.settings import PlatformSettings

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    "--lang=id-ID",
)
AGENCY, REGION = "bawaslu-3374", "33.74"
OFFICER = ("siti@bawaslu-semarang.example", "Siti Rahmawati", "kata-sandi-uji-konsol")
PATROL = "patroli@bawaslu-semarang.example"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        driver = item.funcargs.get("browser") if isinstance(item, pytest.Function) else None
        if isinstance(driver, webdriver.Chrome):
            # What the browser showed when it failed, for whoever reads the failure.
            text = driver.find_element("tag name", "body").text
            report.sections.append(("browser", f"{driver.current_url}\n{text[:4000]}"))
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


@dataclass
class Console:
    url: str
    key: str
    # An admin's key, to read the audit log.
    auditor: str
    email: str
    name: str
    password: str
    log: Path


@pytest.fixture(scope="module")
def console(platform: PlatformSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console")
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
    stack.command(
        "gateway",
        "create-agency",
        "--id",
        AGENCY,
        "--name",
        "Bawaslu Kota Semarang",
        "--kind",
        "bawaslu",
        "--region",
        REGION,
    )
    key = stack.command("gateway", "add-key", "--agency", AGENCY, "--rate-limit", "100000")
    auditor = stack.command("gateway", "add-key", "--agency", AGENCY, "--role", "admin")
    email, name, password = OFFICER
    stack.command(
        "gateway",
        "add-user",
        "--agency",
        AGENCY,
        "--email",
        email,
        "--name",
        name,
        "--role",
        "supervisor",
        "--password-stdin",
        stdin=password + "\n",
    )
    team = stack.command(
        "notify",
        "add-team",
        "--agency",
        AGENCY,
        "--name",
        "Tim Patroli Siber Kota Semarang",
        "--region",
        REGION,
        "--ack-minutes",
        "30",
    )
    stack.command(
        "notify",
        "add-member",
        "--team-id",
        team,
        "--name",
        "Petugas jaga",
        "--email",
        PATROL,
        "--shift",
        "* 00:00-00:00",
    )
    log = home / "services.log"
    with open(log, "wb") as output:
        processes = ServiceProcesses(stack, stdout=output)
        processes.start()
        try:
            processes.wait_ready(180)
            yield Console(f"http://127.0.0.1:{stack.gateway_port}", key, auditor, email, name, password, log)
        finally:
            processes.stop(timeout_s=20)
            sink.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("chromium or chromedriver is not installed; run deploy/local/install-test-servers.sh")
    profile = tempfile.mkdtemp(prefix="pantau-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pages are photographed: `docs/` with PANTAU_CONSOLE_SCREENSHOTS=docs (to refresh
    the committed ones), else this run's temporary directory."""
    if os.environ.get("PANTAU_CONSOLE_SCREENSHOTS") == "docs":
        return Path(__file__).resolve().parents[2] / "docs"
    return tmp_path_factory.mktemp("screenshots")
