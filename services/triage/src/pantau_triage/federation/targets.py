"""Which agencies on other instances a new case goes to, and why."""

from dataclasses import dataclass

from pantau_shared.contract import CaseOpened, ReferralReason
from pantau_shared.federation import FederationLink


@dataclass(frozen=True)
class Target:
    agency: str
    reason: ReferralReason


def targets(case: CaseOpened, link: FederationLink) -> list[Target]:
    """The routing rules' agencies that live elsewhere (a Bawaslu of another regency is the
    locus's), then the escalation rules' (up the Bawaslu hierarchy)."""
    found: dict[str, ReferralReason] = {}
    for agency in case.routed_to:
        if link.is_remote(agency):
            found[agency] = ReferralReason.LOCUS if agency.startswith("bawaslu-") else ReferralReason.ROUTING
    region = case.region_code or ""
    codes = {"province": region[:2], "regency": region.replace(".", "")[:4]}
    categories = {c.category.value for c in case.categories}
    for rule in link.table.escalations:
        if not categories & rule.categories or case.priority < rule.min_priority:
            continue
        needed = [k for k in codes if "{" + k + "}" in rule.to]
        if any(len(codes[k]) < (2 if k == "province" else 4) for k in needed):
            continue
        agency = rule.to.format(**codes)
        if agency != case.agency_id and link.is_remote(agency):
            found.setdefault(agency, ReferralReason.ESCALATION)
    return [Target(agency, reason) for agency, reason in found.items() if agency != case.agency_id]
