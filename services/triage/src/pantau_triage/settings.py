from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pantau_shared.fetching import FetchLimits
from pantau_shared.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_TRIAGE_", extra="ignore")

    health_port: int = 8082
    # Routing rules (TOML); the packaged rules route by category to Bawaslu and Komdigi.
    routing_file: Path | None = None
    # Election calendars (TOML); the packaged Pemilu 2024 and Pilkada 2024 ones when empty.
    calendar_files: tuple[Path, ...] = ()
    # Federation (TOML: which agency runs on which instance) and which instance this is; without
    # them this instance exchanges nothing with others.
    federation_file: Path | None = None
    federation_instance: str | None = None
    # Observed posts of watched accounts are kept this long (whole days dropped after it).
    observed_retention_days: int = Field(default=400, ge=1)
    # Takedown re-checks (docs/takedowns.md): each open takedown's URL is fetched every
    # `takedown_recheck_s`, and every `takedown_near_deadline_recheck_s` within
    # `takedown_near_deadline_window_s` of its deadline, so a removal near the deadline is dated
    # closely. Every `takedown_sweep_s` a replica claims up to `takedown_batch` due re-checks
    # (leased for `takedown_lease_s`) and marks passed deadlines.
    takedown_recheck_s: float = Field(default=900.0, gt=0)
    takedown_near_deadline_recheck_s: float = Field(default=120.0, gt=0)
    takedown_near_deadline_window_s: float = Field(default=1800.0, ge=0)
    takedown_sweep_s: float = Field(default=5.0, gt=0)
    takedown_batch: int = Field(default=50, ge=1)
    takedown_concurrency: int = Field(default=10, ge=1)
    takedown_lease_s: float = Field(default=120.0, gt=0)
    takedown_fetch_timeout_s: float = Field(default=15.0, gt=0)
    takedown_fetch_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    takedown_fetch_max_redirects: int = Field(default=5, ge=0)
    # Networks the re-check may reach despite the SSRF rules: the local test servers only;
    # production refuses a non-empty list.
    takedown_fetch_test_allowlist: tuple[str, ...] = ()
    # Names the re-check resolves to a given address instead of asking DNS (a test site's
    # public-looking name); production refuses them too.
    takedown_fetch_test_hosts: dict[str, str] = Field(default_factory=dict)

    def takedown_fetch_limits(self) -> FetchLimits:
        return FetchLimits.with_allowlist(
            self.takedown_fetch_test_allowlist,
            max_bytes=self.takedown_fetch_max_bytes,
            timeout_s=self.takedown_fetch_timeout_s,
            max_redirects=self.takedown_fetch_max_redirects,
        )
