"""An officer's morning in the console, in a real browser: sign in, filter the queue, open a
case, acknowledge its alert and close it, and see the dashboard's chart change."""

import base64
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import REGION, Console
from tests.waiting import eventually

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
MONEY = "Besok pagi serangan fajar di Kelurahan Tandang, tiap rumah dapat amplop 100 ribu asal coblos nomor 3"
THREAT = "Ayo kita bakar kantor KPU kalau paslon kita kalah, kumpul jam 9 di alun-alun bawa bensin"
# Generous: a shared two-core machine runs several test suites at once.
DEADLINE = 30


async def case_of(api: httpx.AsyncClient, text: str, url: str) -> UUID:
    accepted = await api.post("/v1/reports", json={"text": text, "url": url, "region_code": REGION})
    assert accepted.status_code == 202, accepted.text
    report = f"/v1/reports/{accepted.json()['report_id']}"

    async def case_id() -> str | None:
        found = await api.get(report)
        return found.json().get("case_id") if found.status_code == 200 else None

    return UUID(await eventually(case_id, timeout=DEADLINE, what="the report's case"))


async def alert_of(api: httpx.AsyncClient, case: UUID) -> dict[str, object]:
    async def sent() -> dict[str, object] | None:
        listed = (await api.get(f"/v1/cases/{case}/notifications")).json()
        return next((n for n in listed if n["template"] == "case_alert" and n["state"] == "sent"), None)

    return await eventually(sent, timeout=DEADLINE, what="the patrol alert")


def wait(browser: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(browser, DEADLINE)


def photograph(browser: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the window (Chromium's DevTools capture beyond the viewport)."""
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))


def open_cases(browser: webdriver.Chrome, console: Console, category: str) -> int:
    """What the dashboard's chart shows for `category` among the cases not closed."""
    browser.get(f"{console.url}/konsol/dasbor?status=terbuka")
    entry = wait(browser).until(seen.presence_of_element_located((By.ID, "chart")))
    legend = entry.find_elements(By.CSS_SELECTOR, f"[data-category='{category}']")
    return int(legend[0].get_attribute("data-cases") or 0) if legend else 0


async def test_sign_in_filter_open_acknowledge_close_and_see_the_chart_change(
    console: Console, browser: webdriver.Chrome, screenshots: Path
) -> None:
    async with httpx.AsyncClient(base_url=console.url, headers={"X-API-Key": console.key}, timeout=10) as api:
        money = await case_of(api, MONEY, "https://www.facebook.com/groups/778/posts/1001")
        threat = await case_of(api, THREAT, "https://x.com/akun_panas/status/1780000000000000001")
        alert = await alert_of(api, money)

        # Signed out, the console sends the officer to sign in, and back to the page asked for.
        browser.get(f"{console.url}/konsol/dasbor?status=terbuka")
        wait(browser).until(seen.presence_of_element_located((By.ID, "email")))
        assert "/konsol/masuk" in browser.current_url
        photograph(browser, screenshots / "console-sign-in.png")
        browser.find_element(By.ID, "email").send_keys(console.email)
        browser.find_element(By.ID, "password").send_keys("salah-sekali-kata-sandinya")
        browser.find_element(By.ID, "sign-in").click()
        assert (
            "salah"
            in wait(browser).until(seen.presence_of_element_located((By.CSS_SELECTOR, ".flash.bad"))).text
        )
        browser.find_element(By.ID, "email").clear()
        browser.find_element(By.ID, "email").send_keys(console.email)
        browser.find_element(By.ID, "password").send_keys(console.password)
        browser.find_element(By.ID, "sign-in").click()
        wait(browser).until(seen.presence_of_element_located((By.ID, "chart")))
        assert "/konsol/dasbor" in browser.current_url
        assert console.name in browser.find_element(By.CSS_SELECTOR, "header .who").text
        before = open_cases(browser, console, "politik_uang")
        assert before >= 1

        # The queue, filtered to money politics: the threat's case is not in it.
        browser.get(f"{console.url}/konsol/")
        Select(browser.find_element(By.ID, "filter-category")).select_by_value("politik_uang")
        browser.find_element(By.ID, "apply-filters").click()
        wait(browser).until(seen.url_contains("category=politik_uang"))
        listed = {
            link.get_attribute("href").rsplit("/", 1)[-1]
            for link in browser.find_elements(By.CSS_SELECTOR, "#queue a[href^='/konsol/kasus/']")
        }
        assert str(money) in listed and str(threat) not in listed
        photograph(browser, screenshots / "console-queue.png")

        # The case: its categories with reasons, the alert, then acknowledged and closed.
        browser.find_element(By.CSS_SELECTOR, f"#queue a[href='/konsol/kasus/{money}']").click()
        wait(browser).until(seen.presence_of_element_located((By.ID, "alerts")))
        page = browser.find_element(By.TAG_NAME, "main").text
        assert "Politik uang" in page and "Alasan prioritas" in page
        # What intake kept of the link is listed (an unreachable link: being fetched, or failed).
        assert "Bukti tersimpan" in page and "penyimpanan bukti sedang tidak dapat dihubungi" not in page
        assert "tautan sedang diambil" in page or "gagal diambil" in page
        browser.find_element(By.CSS_SELECTOR, f"form input[value='{alert['delivery_id']}']").find_element(
            By.XPATH, "./.."
        ).submit()
        flash = wait(browser).until(seen.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
        assert "dikonfirmasi" in flash.text
        assert console.name in browser.find_element(By.ID, "alerts").text
        acknowledged = (await api.get(f"/v1/cases/{money}/notifications")).json()
        assert any(n["acknowledged_by"] == console.name for n in acknowledged)

        Select(browser.find_element(By.ID, "to")).select_by_value("closed")
        Select(browser.find_element(By.ID, "resolution")).select_by_value("violation_handled")
        browser.find_element(By.ID, "transition").click()
        wait(browser).until(seen.text_to_be_present_in_element((By.ID, "case-state"), "selesai"))
        assert (await api.get(f"/v1/cases/{money}")).json()["state"] == "closed"
        history = browser.find_element(By.ID, "history").text
        assert console.name in history
        photograph(browser, screenshots / "console-case.png")

        # The chart of open cases has one money-politics case fewer.
        assert open_cases(browser, console, "politik_uang") == before - 1
        browser.get(f"{console.url}/konsol/dasbor")
        regions = wait(browser).until(seen.presence_of_element_located((By.ID, "regions")))
        assert REGION in regions.text
        photograph(browser, screenshots / "console-dashboard.png")

        # Each of the officer's changes is in the agency's audit log, and the chain holds.
        admin = {"X-API-Key": console.auditor}
        entries = (await api.get("/v1/audit", params={"limit": 1000}, headers=admin)).json()["entries"]
        done = {(e["action"], e["outcome"]) for e in entries if e["principal"].startswith("user:")}
        assert ("POST /konsol/masuk", 303) in done
        assert ("POST /konsol/kasus/{case_id}/akui", 303) in done
        assert ("POST /konsol/kasus/{case_id}/status", 303) in done
        assert (await api.get("/v1/audit/verification", headers=admin)).json()["intact"] is True

        # Signing out ends the session: the console asks to sign in again.
        browser.find_element(By.CSS_SELECTOR, "header form button").click()
        wait(browser).until(seen.presence_of_element_located((By.ID, "email")))
        browser.get(f"{console.url}/konsol/")
        wait(browser).until(seen.presence_of_element_located((By.ID, "email")))
