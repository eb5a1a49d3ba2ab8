"""The same fact-check imported by several agencies: each agency's report matches its own copy."""

from pantau_shared.contract.rpc import CaseQuery, ClaimIn, ImportClaims, ReportQuery
from tests.integration.test_case_workflow import received, triage  # noqa: F401
from tests.integration.test_services import wrap

CHECKED = "Kotak suara kardus mudah dibobol dan surat suara bisa ditukar saat malam hari sebelum penghitungan"


async def test_each_agency_matches_its_own_copy_of_a_claim_others_imported_too(
    triage,  # noqa: F811
    agency: str,
) -> None:
    _, handlers = triage
    agencies = [f"{agency}-{n}" for n in range(4)]
    # The later agencies' copies tie with the first one's: the first must not hide them.
    for who in agencies:
        claim = ClaimIn(
            claim_id=f"tbh-kardus-{who}",
            text=CHECKED,
            verdict="hoaks",
            source_url="https://turnbackhoax.id/2024/02/10/kotak-suara-kardus",
        )
        await handlers.casework.add_claims(who, ImportClaims(claims=[claim]))
    for who in reversed(agencies):
        report = received(who, "Katanya " + CHECKED.lower() + ", hati-hati!")
        await handlers.report_received(wrap(report))
        case = await handlers.casework.case_for_report(who, ReportQuery(report_id=report.report_id))
        assert case.case_id is not None
        view = await handlers.casework.get_case(who, CaseQuery(case_id=case.case_id))
        assert [c.claim_id for c in view.claims] == [f"tbh-kardus-{who}"], who
