"""The monitoring part of `pantau-dev up`: local YouTube, X and RSS servers whose accounts are
the sample registry's (`data/registry-3375.csv`, `data/officials-3375.csv`), posting new items
over time; a demo election calendar in which Kota Pekalongan is in its quiet period today; and
the intake settings that point the collectors at those servers.

Nothing here talks to a real platform: the collectors reach these servers only through their
base-URL settings, exactly as they would reach googleapis.com or api.x.com.
"""

import asyncio
import csv
import itertools
import json
import random
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from .platforms import Account, PlatformsPeer, PlatformWorld

REGISTRY = "registry-3375.csv"
OFFICIALS = "officials-3375.csv"
YOUTUBE_KEY = "youtube-local-key"
X_TOKEN = "x-local-bearer"
FEED = "berita-pekalongan"
WIB = timezone(timedelta(hours=7))

# What the demo accounts post, in turn: most of it ordinary, some of it what Bawaslu looks for.
POSTS = {
    "participant": [
        "Terima kasih warga Podosugih atas sambutan hangatnya hari ini",
        "Ayo datang ke TPS, coblos nomor 2 untuk Pekalongan yang lebih baik!",
        "Besok pagi ada serangan fajar, tiap rumah dapat amplop 100 ribu dari tim kami",
        "Selamat hari Jumat, semoga Kota Pekalongan selalu diberkahi",
    ],
    "official": [
        "Kerja bakti membersihkan saluran air di Kelurahan Podosugih",
        "Mari kita menangkan calon nomor 2, pilih dia di TPS!",
    ],
    "feed": [
        "Jadwal pemadaman listrik bergilir di Pekalongan Barat pekan ini",
        "KPU Kota Pekalongan membagikan undangan memilih ke warga",
    ],
}


def data_file(name: str) -> Path:
    return Path(str(resources.files("pantau_devstack").joinpath("data", name)))


def registry_accounts() -> list[tuple[str, str, str]]:
    """(platform, handle, kind) of the sample registry's YouTube and X accounts."""
    found = []
    for name, kind in ((REGISTRY, "participant"), (OFFICIALS, "official")):
        with data_file(name).open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                if row["platform"] in ("youtube", "x"):
                    found.append((row["platform"], row["handle"].lstrip("@").lower(), kind))
    return found


def demo_calendar(path: Path, today: date) -> Path:
    """An election of Kota Pekalongan whose quiet period is today (and tomorrow), so the demo
    shows the calendar's rules at work whatever day it runs."""
    path.write_text(
        "# Written by pantau-dev up: a demo election around today, not a real one.\n"
        '[[election]]\nid = "demo-pilkada-3375"\nname = "Pilkada contoh Kota Pekalongan (demo)"\n'
        'kind = "pilkada"\n\n[[election.schedule]]\nregion = "33.75"\n'
        f"campaign_start = {today - timedelta(days=60)}\ncampaign_end = {today - timedelta(days=1)}\n"
        f"quiet_start = {today}\nquiet_end = {today + timedelta(days=1)}\n"
        f"voting_day = {today + timedelta(days=2)}\n",
        encoding="utf-8",
    )
    return path


class LocalPlatforms:
    """The platform servers in their own thread, so `pantau-dev up` can stay synchronous."""

    def __init__(self, port: int, *, every_s: float = 20.0) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self._port = port
        self._every_s = every_s
        self.world = PlatformWorld()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="platforms", daemon=True
        )
        self._accounts: list[tuple[Account, str]] = []
        now = datetime.now(UTC)
        for platform, handle, kind in registry_accounts():
            account = self.world.add(platform, handle, followers=random.randint(500, 50_000))
            self.world.post(account, f"Perkenalan {handle}: siap melayani warga", at=now - timedelta(days=2))
            self._accounts.append((account, kind))
        feed = self.world.add("web", FEED)
        self.world.post(feed, "Pekalongan bersiap menyambut pilkada", at=now - timedelta(days=1))
        self._accounts.append((feed, "feed"))

    @property
    def feed_url(self) -> str:
        return f"{self.base_url}/feeds/{FEED}.xml"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(20):
            raise TimeoutError("the local platform servers did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def intake_env(self, agency_id: str, region: str) -> dict[str, str]:
        agencies = {
            agency_id: {
                "regions": [region],
                "youtube_api_key": YOUTUBE_KEY,
                "x_bearer_token": X_TOKEN,
                "feeds": [self.feed_url],
            }
        }
        # Short intervals, so the demo's posts are collected within a minute or two.
        monitoring = {
            "youtube_base_url": self.base_url,
            "x_base_url": self.base_url,
            "sync_interval_s": 30,
            "idle_s": 2,
            "interval_s": {"campaign": 300, "quiet": 90, "voting_day": 90, "none": 600},
        }
        return {
            "PANTAU_INTAKE_MONITORING_AGENCIES": json.dumps(agencies),
            "PANTAU_INTAKE_MONITORING": json.dumps(monitoring),
        }

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with PlatformsPeer(self.world, port=self._port):
            self._ready.set()
            poster = asyncio.create_task(self._post_over_time(self._stop))
            await self._stop.wait()
            poster.cancel()

    async def _post_over_time(self, stop: asyncio.Event) -> None:
        turns = {kind: itertools.cycle(texts) for kind, texts in POSTS.items()}
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._every_s)
            except TimeoutError:
                account, kind = random.choice(self._accounts)
                text = next(turns[kind])
                self.world.post(account, text, views=random.randint(50, 5_000))
                print(f"[{account.platform}] @{account.handle} memposting: {text}", flush=True)


def demo_env(platforms: LocalPlatforms, home: Path, agency_id: str, region: str) -> dict[str, str]:
    """Intake's monitoring settings and triage's demo calendar, as environment variables."""
    today = datetime.now(UTC).astimezone(WIB).date()
    calendar = demo_calendar(home / "demo-calendar.toml", today)
    return {
        **platforms.intake_env(agency_id, region),
        "PANTAU_TRIAGE_CALENDAR_FILES": json.dumps([str(calendar)]),
    }


def import_sample_registry(command: Callable[..., str]) -> str:
    """Import the sample registry with triage's own admin commands (idempotent: a restart
    imports it again and changes nothing)."""
    accounts = command("triage", "import-accounts", str(data_file(REGISTRY)))
    officials = command("triage", "import-officials", str(data_file(OFFICIALS)))
    return f"accounts {accounts}; officials {officials}"


def instructions(api: str, key: str, platforms: LocalPlatforms) -> str:
    return f"""
Monitoring: the sample registry's {len(platforms.world.accounts)} accounts live on local YouTube, X
and RSS servers ({platforms.base_url}) that post every few seconds (printed as [youtube] / [x] / [web]);
Kota Pekalongan is in a demo quiet period today. Coverage against the SLO, and one account:
  curl -sS {api}/v1/monitoring/coverage -H 'X-API-Key: {key}'
  curl -sS {api}/v1/monitoring/accounts/x/fauzi_pkl -H 'X-API-Key: {key}'
A post with a finding opens or joins a case (channel "monitoring") and alerts the patrol.
"""
