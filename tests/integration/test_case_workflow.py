"""Triage's workflow, near-duplicate merging, claim matching and routing on real PostgreSQL."""

import json
from datetime import UTC, datetime

import pytest

from pantau_shared.bus import RpcError
from pantau_shared.contract import Channel, Platform, ReportReceived, new_id
from pantau_shared.contract.rpc import CaseQuery, ImportClaims, ReclassifyCase, ReportQuery, TransitionCase
from pantau_shared.settings import PlatformSettings
from pantau_triage.claims_registry import ClaimRegistry
from pantau_triage.classify import TriageClassifier
from pantau_triage.election_rules import ElectionRules
from pantau_triage.elections import Calendar
from pantau_triage.handlers import TriageHandlers
from pantau_triage.routing import Router
from tests.conftest import connect
from tests.integration.test_services import wrap

RULES = ElectionRules(Calendar.load())

HOAX = (
    "Beredar kabar surat suara di Kecamatan Pekalongan Utara sudah dicoblos untuk paslon "
    "nomor 1 sebelum hari pemungutan suara, petugas KPPS diam saja"
)


@pytest.fixture
async def triage(platform: PlatformSettings):
    infra = await connect(platform, "triage")
    handlers = TriageHandlers(
        infra.pool,
        infra.outbox,
        TriageClassifier.packaged(),
        Router.load(),
        ClaimRegistry(refresh_s=0),
        RULES,
    )
    yield infra, handlers
    await infra.close()


def received(agency: str, text: str, **fields) -> ReportReceived:
    now = datetime.now(UTC)
    return ReportReceived(
        **(
            {
                "report_id": new_id(),
                "agency_id": agency,
                "channel": Channel.WHATSAPP,
                "submitted_at": now,
                "received_at": now,
                "platform": Platform.WHATSAPP,
                "raw_sha256": "0" * 64,
                "text": text,
                "content_sha256": None,
                "region_code": "33.75",
            }
            | fields
        )
    )


async def case_of(handlers: TriageHandlers, agency: str, report: ReportReceived) -> str:
    found = await handlers.casework.case_for_report(agency, ReportQuery(report_id=report.report_id))
    return str(found.case_id)


async def test_whatsapp_forwards_with_small_edits_join_one_case(triage, agency: str) -> None:
    _, handlers = triage
    original = received(agency, HOAX)
    forwarded = received(agency, "Diteruskan\n*PENTING* " + HOAX.upper() + " 😡😡 sebarkan!!")
    different = received(
        agency,
        "Kotak suara di TPS 12 Kelurahan Medono tiba terlambat dua jam "
        "karena banjir, petugas meminta warga bersabar menunggu",
    )
    for report in (original, forwarded, different):
        await handlers.report_received(wrap(report))
    assert await case_of(handlers, agency, original) == await case_of(handlers, agency, forwarded)
    assert await case_of(handlers, agency, different) != await case_of(handlers, agency, original)


async def test_a_matched_claim_attaches_its_verdict_and_flags_a_hoax(triage, agency: str) -> None:
    _, handlers = triage
    claim_id = f"tbh-{agency}"
    await handlers.casework.add_claims(
        agency,
        ImportClaims.model_validate(
            {
                "claims": [
                    {
                        "claim_id": claim_id,
                        "verdict": "hoaks",
                        "checked_on": "2024-02-12",
                        "source_url": "https://turnbackhoax.id/2024/02/12/surat-suara-tercoblos",
                        "text": "Surat suara di Pekalongan Utara sudah dicoblos untuk paslon 1 sebelum hari "
                        "pemungutan suara",
                    }
                ]
            }
        ),
    )
    report = received(agency, HOAX, region_code="33.75")
    await handlers.report_received(wrap(report))
    case = await handlers.casework.get_case(
        agency, CaseQuery(case_id=await case_of(handlers, agency, report))
    )
    assert [c.claim_id for c in case.claims] == [claim_id]
    hoax = next(c for c in case.categories if c.category == "hoaks")
    assert "hoaks" in hoax.reason and "turnbackhoax.id" in hoax.reason
    assert case.routed_to == ["bawaslu-3375", "komdigi"]
    # The agency it was routed to can read it; an unrelated one cannot.
    assert (await handlers.casework.get_case("komdigi", CaseQuery(case_id=case.case_id))).case_id
    with pytest.raises(RpcError):
        await handlers.casework.get_case("bawaslu-1771", CaseQuery(case_id=case.case_id))


async def test_transitions_are_recorded_with_who_and_invalid_ones_refused(triage, agency: str) -> None:
    infra, handlers = triage
    report = received(agency, "Camat Sukamaju pose dua jari bersama caleg di acara dinas")
    await handlers.report_received(wrap(report))
    case_id = await case_of(handlers, agency, report)
    moved = await handlers.casework.transition(
        agency,
        TransitionCase.model_validate({"case_id": case_id, "to": "verifying", "actor": "Siti (patroli)"}),
    )
    assert moved.state == "verifying"
    with pytest.raises(RpcError, match="memerlukan alasan") as refused:
        await handlers.casework.transition(
            agency, TransitionCase.model_validate({"case_id": case_id, "to": "closed", "actor": "Siti"})
        )
    assert refused.value.status == 409
    closed = await handlers.casework.transition(
        agency,
        TransitionCase.model_validate(
            {
                "case_id": case_id,
                "to": "closed",
                "actor": "Budi (koordinator)",
                "resolution": "violation_handled",
                "note": "Diteruskan ke KASN",
            }
        ),
    )
    assert (closed.state, closed.resolution) == ("closed", "violation_handled")
    history = (await handlers.casework.get_history(agency, CaseQuery(case_id=case_id))).entries
    assert [(h.change, h.actor, h.to_state) for h in history] == [
        ("opened", None, "new"),
        ("state_changed", "Siti (patroli)", "verifying"),
        ("state_changed", "Budi (koordinator)", "closed"),
    ]
    events = [
        json.loads(r["body"])
        for r in await infra.pool.fetch(
            "SELECT body FROM outbox WHERE subject LIKE '%.' || $1 || '.case.updated'", agency
        )
    ]
    closing = [e for e in events if e["change"] == "state_changed" and e["state"] == "closed"]
    assert len(closing) == 1
    assert (closing[0]["previous_state"], closing[0]["resolution"], closing[0]["actor"]) == (
        "verifying",
        "violation_handled",
        "Budi (koordinator)",
    )
    # A closed case no longer collects new reports of the same text: a new case opens.
    again = received(agency, "Camat Sukamaju pose dua jari bersama caleg di acara dinas")
    await handlers.report_received(wrap(again))
    assert await case_of(handlers, agency, again) != case_id


async def test_a_reviewers_correction_is_kept_as_labelled_data(triage, agency: str) -> None:
    infra, handlers = triage
    text = "Lurah Medono membagikan kaos bergambar caleg saat posyandu"
    report = received(agency, text)
    await handlers.report_received(wrap(report))
    case_id = await case_of(handlers, agency, report)
    corrected = await handlers.casework.reclassify(
        agency,
        ReclassifyCase.model_validate(
            {
                "case_id": case_id,
                "categories": ["netralitas_asn", "politik_uang"],
                "actor": "Rina (verifikator)",
            }
        ),
    )
    assert [c.category for c in corrected.categories] == ["netralitas_asn", "politik_uang"]
    row = await infra.pool.fetchrow(
        "SELECT text, corrected, actor FROM category_corrections WHERE case_id = $1", case_id
    )
    assert (row["text"], row["corrected"], row["actor"]) == (
        text,
        ["netralitas_asn", "politik_uang"],
        "Rina (verifikator)",
    )
