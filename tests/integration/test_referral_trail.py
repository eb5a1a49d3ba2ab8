"""A referral leaves the same trail on the owner's case whether the agency it goes to is on this
instance or another: one `case.updated.v1` (`partner_status`) per step of that agency."""

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from uuid import UUID

from pantau_shared.bus import RpcClient
from pantau_shared.contract import (
    CaseReferred,
    CaseState,
    Envelope,
    EventData,
    PartnerCaseStatus,
    ReferralAccepted,
    ReferralReason,
    ReferralState,
    Resolution,
    new_id,
)
from pantau_shared.contract.rpc import CaseQuery, ClaimIn, ImportClaims, UpdateReferral
from pantau_triage.federation import FederationHandlers
from pantau_triage.federation import repository as federation
from tests.integration.test_case_workflow import HOAX, case_of, received, triage  # noqa: F401
from tests.integration.test_services import wrap

ROUTED, REMOTE = "komdigi", "komdigi-jauh"


async def partner_status_events(pool: Any, agency: str, case_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.case.updated' ORDER BY id", agency
    )
    events = [json.loads(r["body"]) for r in rows]
    return [e for e in events if e["case_id"] == case_id and e["change"] == "partner_status"]


def trail(events: list[dict[str, Any]], agency: str) -> list[tuple[Any, ...]]:
    """What a subscriber of the owner's case learns at each step."""
    assert all(e["partner_agency"] == agency for e in events)
    return [(e["change"], e["state"], e["partner_referral_state"], e["note"]) for e in events]


def referral_of(case_id: UUID, owner: str) -> CaseReferred:
    example = json.loads(
        resources.files("pantau_shared.contract").joinpath("examples/case.referred.v1.json").read_text()
    )
    return CaseReferred.model_validate(example["data"]).model_copy(
        update={
            "referral_id": new_id(),
            "agency_id": owner,
            "to_agency": REMOTE,
            "origin_case_id": case_id,
            "referred_at": datetime.now(UTC),
            "reason": ReferralReason.ROUTING,
        }
    )


async def test_a_referral_on_this_instance_leaves_the_trail_of_one_to_another_instance(
    triage,  # noqa: F811
    agency: str,
) -> None:
    infra, handlers = triage
    # A fact-checked hoax: a report of it is the owner's and, by the routing rules, Komdigi's.
    claim = ClaimIn(
        claim_id=f"tbh-{agency}",
        text="Surat suara di Pekalongan Utara sudah dicoblos untuk paslon 1 sebelum hari pemungutan suara",
        verdict="hoaks",
        source_url="https://turnbackhoax.id/2024/02/12/surat-suara-tercoblos",
    )
    await handlers.casework.add_claims(agency, ImportClaims(claims=[claim]))
    here, there = (
        received(agency, HOAX),
        received(agency, "Video lama diedit seolah kerusuhan di KPU hari ini"),
    )
    for report in (here, there):
        await handlers.report_received(wrap(report))
    local_case, remote_case = await case_of(handlers, agency, here), await case_of(handlers, agency, there)
    assert local_case != remote_case
    view = await handlers.casework.get_case(agency, CaseQuery(case_id=UUID(local_case)))
    assert ROUTED in view.routed_to, view.routed_to

    # On this instance: the routed agency records its own referral, step by step.
    steps = [
        (ReferralState.ACKNOWLEDGED, "Diterima tim AIS"),
        (ReferralState.IN_PROGRESS, "Diajukan ke platform"),
        (ReferralState.DONE, "Konten diturunkan"),
    ]
    for state, note in steps:
        command = UpdateReferral(case_id=UUID(local_case), state=state, actor="Tim AIS", note=note)
        await handlers.casework.update_referral(ROUTED, command)
        await handlers.casework.update_referral(ROUTED, command)  # a retried command: once
    # On another instance: the referral went out, the partner accepts and moves its own case.
    async with infra.pool.acquire() as conn:
        sent = referral_of(UUID(remote_case), agency)
        assert await federation.record_sent(conn, sent, UUID(remote_case))
    fed = FederationHandlers(infra.pool, infra.outbox, None, RpcClient(infra.nc, infra.subjects), "http://x")
    common = {"referral_id": sent.referral_id, "agency_id": REMOTE, "to_agency": agency, "actor": "Rina"}
    partner_case = new_id()
    news: list[EventData] = [
        ReferralAccepted(
            **common, partner_case_id=partner_case, sequence=1, at=datetime.now(UTC), note=steps[0][1]
        ),
        PartnerCaseStatus(
            **common,
            partner_case_id=partner_case,
            sequence=2,
            at=datetime.now(UTC),
            note=steps[1][1],
            state=CaseState.TAKEDOWN_REQUESTED,
        ),
        PartnerCaseStatus(
            **common,
            partner_case_id=partner_case,
            sequence=3,
            at=datetime.now(UTC),
            note=steps[2][1],
            state=CaseState.CLOSED,
            resolution=Resolution.TAKEN_DOWN,
        ),
    ]
    for event in news:
        envelope: Envelope[EventData] = Envelope(data=event, source="/test", agency_id=REMOTE)
        await fed.received(envelope)
        await fed.received(envelope)  # redelivered: once

    local = await partner_status_events(infra.pool, agency, local_case)
    remote = await partner_status_events(infra.pool, agency, remote_case)
    expected = [("partner_status", "new", s.value, note) for s, note in steps]
    assert trail(local, ROUTED) == trail(remote, REMOTE) == expected
    # The last step closes the agency's handling either way, so the owner's reporters hear of it.
    assert local[-1]["partner_state"] == remote[-1]["partner_state"] == "closed"
    # What only an agency with a case of its own has: its case's state and resolution.
    assert [e["partner_state"] for e in remote] == [None, "takedown_requested", "closed"]
    assert remote[-1]["partner_resolution"] == "taken_down" and local[-1]["partner_resolution"] is None
    # And each case's history shows the steps beside its own, as before.
    for case_id, change in ((local_case, "referral_updated"), (remote_case, "partner_")):
        history = await infra.pool.fetch(
            "SELECT change FROM case_history WHERE case_id = $1 ORDER BY id", UUID(case_id)
        )
        assert sum(1 for h in history if h["change"].startswith(change)) == 3, history
