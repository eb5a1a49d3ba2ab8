"""Complete Pantau instances side by side on one machine, each with its own NATS server (from
`FederatedNats`), database and Redis database, linked through the exchange: for
`pantau-dev up --federation` and the federation tests."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .federation import FederatedNats
from .processes import WORKERS, Platform, ServiceProcesses
from .servers import free_port
from .stack import ensure_database


@dataclass(frozen=True)
class Agency:
    agency_id: str
    name: str
    kind: str
    region: str | None
    patrol_email: str


# The demo's three instances: a regency's Bawaslu, the ministry, the province's Bawaslu.
DEMO_AGENCIES = {
    "pekalongan": Agency(
        "bawaslu-3375", "Bawaslu Kota Pekalongan", "bawaslu", "33.75", "patroli@bawaslu-pekalongan.example"
    ),
    "komdigi": Agency(
        "komdigi", "Kementerian Komunikasi dan Digital", "komdigi", None, "patroli-siber@komdigi.example"
    ),
    "jateng": Agency(
        "bawaslu-33", "Bawaslu Provinsi Jawa Tengah", "bawaslu", "33", "patroli@bawaslu-jateng.example"
    ),
}


@dataclass
class FederatedInstance:
    name: str
    agency: Agency
    platform: Platform
    services: ServiceProcesses
    key: str = ""

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.platform.gateway_port}"

    def seed(self, key_file: Path) -> str:
        """The instance's agency, an API key (kept in `key_file` across starts), and its patrol
        mailbox subscribed to every case."""
        agency = self.agency
        region = ["--region", agency.region] if agency.region else []
        self.platform.command(
            "gateway",
            "create-agency",
            "--id",
            agency.agency_id,
            "--name",
            agency.name,
            "--kind",
            agency.kind,
            *region,
        )
        if key_file.exists():
            self.key = key_file.read_text().strip()
            self.platform.command("gateway", "add-key", "--agency", agency.agency_id, "--key", self.key)
        else:
            self.key = self.platform.command(
                "gateway", "add-key", "--agency", agency.agency_id, "--label", "demo"
            )
            key_file.write_text(self.key + "\n")
            key_file.chmod(0o600)
        self.platform.command(
            "notify", "add-subscription", "--agency", agency.agency_id, "--name", "Patroli siber",
            "--email", agency.patrol_email,
        )  # fmt: skip
        return self.key


@dataclass
class Federation:
    """Instances of one federation table, started with the services each needs."""

    home: Path
    nats: FederatedNats
    table_file: Path
    admin_database_url: str
    redis_url: str
    smtp_port: int
    subject_root: str = "pantau"
    agencies: dict[str, Agency] = field(default_factory=lambda: dict(DEMO_AGENCIES))
    instances: dict[str, FederatedInstance] = field(default_factory=dict)
    database_prefix: str = "pantau"

    def prepare(
        self, gateway_ports: dict[str, int] | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        """Databases and the demo agencies (each admin command migrates its service's schema);
        the services are not started. The instances are prepared side by side."""
        base, _, _ = self.redis_url.rstrip("/").rpartition("/")
        for index, instance in enumerate(self.nats.table.instances, start=1):
            database = asyncio.run(
                ensure_database(self.admin_database_url, f"{self.database_prefix}_{instance.name}")
            )
            gateway_port = free_port((gateway_ports or {}).get(instance.name))
            platform = Platform(
                nats_url=self.nats.url(instance.name),
                database_url=database,
                # Its own Redis database: rate limits and flood counters are the instance's own.
                redis_url=f"{base}/{index}",
                smtp_port=self.smtp_port,
                subject_root=self.subject_root,
                gateway_port=gateway_port,
                health_ports={name: free_port() for name in WORKERS},
                extra_env={
                    "PANTAU_LOG_FORMAT": "text",
                    "PANTAU_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
                    "PANTAU_TRIAGE_FEDERATION_FILE": str(self.table_file),
                    "PANTAU_TRIAGE_FEDERATION_INSTANCE": instance.name,
                    **(extra_env or {}),
                },
            )
            self.instances[instance.name] = FederatedInstance(
                instance.name, self.agencies[instance.name], platform, ServiceProcesses(platform)
            )
        with ThreadPoolExecutor(len(self.instances)) as pool:
            seeded = [pool.submit(m.seed, self.home / f"{m.name}-api-key") for m in self.instances.values()]
            for future in seeded:
                future.result()

    def start(self, services: dict[str, tuple[str, ...]] | None = None) -> None:
        for name, member in self.instances.items():
            member.services.start((services or {}).get(name, (*WORKERS, "gateway")))
        for member in self.instances.values():
            member.services.wait_ready(deadline_s=120)

    def stop(self) -> dict[str, dict[str, int]]:
        return {name: member.services.stop() for name, member in self.instances.items()}
