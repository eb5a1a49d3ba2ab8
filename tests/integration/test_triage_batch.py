"""Triage handling a fetched batch in one transaction, on real PostgreSQL and NATS: the same cases
as one report at a time, redeliveries counted once, a poison report dead-lettered alone."""

import asyncio
import json
from dataclasses import replace

from pantau_shared.bus import EventHandlerRunner, PullLoop, provision
from pantau_shared.contract import CaseState, Channel, ReportReceived, SenderAuth
from pantau_shared.contract.rpc import ReportQuery
from pantau_shared.infrastructure import Infrastructure
from pantau_triage.handlers import TriageHandlers
from pantau_triage.priority import UNVERIFIED_SENDER_PENALTY
from tests.integration.test_bus import dead_letters, publish, read_subject
from tests.integration.test_case_workflow import HOAX, received
from tests.integration.test_case_workflow import triage as triage  # the fixture
from tests.integration.test_services import wrap
from tests.waiting import eventually

FORWARDED = "Diteruskan\n*PENTING* " + HOAX.upper() + " 😡😡 sebarkan!!"
MONEY = "Serangan fajar besok pagi, amplop 50 ribu untuk warga yang mau coblos nomor 2"
OTHER = "Kotak suara di TPS 12 Kelurahan Medono tiba terlambat dua jam karena banjir, warga menunggu"


async def case_of(handlers: TriageHandlers, agency: str, report: ReportReceived) -> str | None:
    found = await handlers.casework.case_for_report(agency, ReportQuery(report_id=report.report_id))
    return None if found.case_id is None else str(found.case_id)


async def case_events(infra: Infrastructure, agency: str) -> list[tuple[str, dict]]:
    rows = await infra.pool.fetch(
        "SELECT subject, body FROM outbox WHERE subject LIKE '%.' || $1 || '.case.%' ORDER BY id", agency
    )
    return [(row["subject"].rsplit(".", 1)[-1], json.loads(row["body"])) for row in rows]


async def test_reports_of_one_batch_join_cases_as_they_would_one_after_the_other(triage, agency: str) -> None:
    infra, handlers = triage
    link = f"https://facebook.com/groups/{agency}/posts/1"
    original, forwarded, other = received(agency, HOAX), received(agency, FORWARDED), received(agency, OTHER)
    by_link = [
        received(agency, "Amplop di RT 3", canonical_url=link, reporter_id="rep_a"),
        received(agency, "Amplop lagi", canonical_url=link, reporter_id="rep_a"),  # the same person
        received(agency, "Amplop juga", canonical_url=link, reporter_id="rep_b"),
    ]
    same_text = [received(agency, "Baliho di jembatan", content_sha256="c" * 64) for _ in range(2)]
    batch = [original, *by_link, forwarded, other, *same_text, by_link[0]]  # the last one twice
    outcomes = await handlers.reports_received([wrap(r) for r in batch])
    assert outcomes == [None] * len(batch)

    # Near-duplicates without a link, both new, join one case; an unrelated text gets its own.
    assert await case_of(handlers, agency, original) == await case_of(handlers, agency, forwarded)
    assert await case_of(handlers, agency, other) not in (None, await case_of(handlers, agency, original))
    cases = await infra.pool.fetch(
        "SELECT case_id, report_count, reporter_count, state FROM cases WHERE agency_id = $1", agency
    )
    counts = {str(c["case_id"]): (c["report_count"], c["reporter_count"]) for c in cases}
    assert counts[await case_of(handlers, agency, original)] == (2, 2)  # two reports without a reporter
    assert counts[await case_of(handlers, agency, by_link[0])] == (3, 2)  # rep_a once
    assert counts[await case_of(handlers, agency, same_text[0])] == (2, 2)
    assert len(cases) == 4 and {c["state"] for c in cases} == {CaseState.NEW}

    # The events tell the same story in order: each case opened once, then each report attached.
    events = await case_events(infra, agency)
    assert [kind for kind, _ in events].count("opened") == 4
    link_case = await case_of(handlers, agency, by_link[0])
    assert [(kind, e.get("report_count")) for kind, e in events if e["case_id"] == link_case] == [
        ("opened", 1),
        ("updated", 2),
        ("updated", 3),
    ]
    assert [e["reporter_count"] for kind, e in events if e["case_id"] == link_case] == [1, 1, 2]
    history = await infra.pool.fetchval(
        "SELECT count(*) FROM case_history h JOIN cases c USING (case_id) WHERE c.agency_id = $1", agency
    )
    assert history == 4

    # The whole batch redelivered (acks lost in a crash): nothing counted twice, no new event.
    assert await handlers.reports_received([wrap(r) for r in batch]) == [None] * len(batch)
    again = await infra.pool.fetch(
        "SELECT case_id, report_count, reporter_count FROM cases WHERE agency_id = $1", agency
    )
    assert {str(c["case_id"]): (c["report_count"], c["reporter_count"]) for c in again} == counts
    assert len(await case_events(infra, agency)) == len(events)


async def test_a_later_batch_joins_the_stored_cases_and_counts_known_reporters_once(
    triage, agency: str
) -> None:
    infra, handlers = triage
    link = f"https://x.com/{agency}/status/9"
    first = [
        received(agency, HOAX, reporter_id="rep_a"),
        received(agency, "Amplop", canonical_url=link, reporter_id="rep_a"),
    ]
    assert await handlers.reports_received([wrap(r) for r in first]) == [None, None]
    later = [
        received(agency, FORWARDED, reporter_id="rep_a"),  # near-duplicate of a stored case, same person
        received(agency, "Amplop lagi", canonical_url=link, reporter_id="rep_c"),
        received(agency, "Amplop juga", canonical_url=link, reporter_id="rep_c"),
    ]
    assert await handlers.reports_received([wrap(r) for r in later]) == [None] * 3
    assert await case_of(handlers, agency, later[0]) == await case_of(handlers, agency, first[0])
    assert await case_of(handlers, agency, later[1]) == await case_of(handlers, agency, first[1])
    rows = await infra.pool.fetch(
        "SELECT report_count, reporter_count, priority FROM cases WHERE agency_id = $1 ORDER BY report_count",
        agency,
    )
    assert [(r["report_count"], r["reporter_count"]) for r in rows] == [(2, 1), (3, 2)]
    # The stored row carries the priority of the last event about it.
    updated = [e for kind, e in await case_events(infra, agency) if kind == "updated"]
    assert updated[-1]["priority"] == rows[-1]["priority"] and updated[-1]["report_count"] == 3


async def test_agencies_in_one_batch_get_their_own_cases_and_routes(triage, agency: str) -> None:
    infra, handlers = triage
    other_agency = agency + "-b"
    link = f"https://facebook.com/groups/{agency}/posts/7"
    batch = [
        received(agency, MONEY, canonical_url=link),
        received(other_agency, MONEY, canonical_url=link),
        received(agency, FORWARDED),
        received(other_agency, FORWARDED),
    ]
    assert await handlers.reports_received([wrap(r) for r in batch]) == [None] * 4
    mine, theirs = await case_of(handlers, agency, batch[0]), await case_of(handlers, other_agency, batch[1])
    assert mine and theirs and mine != theirs
    assert await case_of(handlers, agency, batch[1]) is None  # another agency's case is not visible
    # A near-duplicate never crosses agencies either: each forward joins its own agency's case.
    forwarded = {await case_of(handlers, agency, batch[2]), await case_of(handlers, other_agency, batch[3])}
    assert len(forwarded) == 2 and None not in forwarded
    routed = await infra.pool.fetch(
        "SELECT agency_id, routed_to FROM cases WHERE canonical_url = $1 ORDER BY agency_id", link
    )
    assert [r["agency_id"] for r in routed] == [agency, other_agency]
    # Each case routed by its own agency and region: the regency's Bawaslu for vote buying.
    assert [r["routed_to"] for r in routed] == [["bawaslu-3375"], ["bawaslu-3375"]]


async def test_a_poison_report_in_a_batch_is_dead_lettered_alone_and_the_rest_commit(
    triage, agency: str
) -> None:
    infra, handlers = triage
    good = [received(agency, f"Amplop di RT {i}", content_sha256=f"{i:064x}") for i in range(5)]
    poison = received(agency, "Teks dengan karakter \x00 yang tidak dapat disimpan")
    for data in (*good[:2], poison, *good[2:]):
        await publish(infra, data)
    (subscription,) = [s for s in handlers.subscriptions() if s.durable == "triage-reports"]
    subscription = replace(subscription, durable=f"triage-{agency}", agency=agency)
    await provision(infra.js, infra.subjects, [subscription])
    loop = PullLoop(
        infra.js,
        infra.subjects.stream("REPORTS"),
        subscription.durable,
        EventHandlerRunner(infra.js, infra.subjects, subscription),
        capacity=16,
        fetch_timeout=0.5,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(loop.run(stopping))
    try:
        letters = await eventually(
            lambda: _some(dead_letters(infra, subscription.durable)), what="a dead letter"
        )
        stored = await eventually(
            lambda: _all_cased(handlers, agency, good), what="the good reports in cases"
        )
    finally:
        stopping.set()
        await task
        await infra.js.delete_consumer(infra.subjects.stream("REPORTS"), subscription.durable)
    assert len(stored) == 5
    assert [json.loads(m.data)["report_id"] for m in letters] == [str(poison.report_id)]
    assert letters[0].headers["Pantau-Dead-Reason"].startswith("rejected: ")
    assert await case_of(handlers, agency, poison) is None
    await infra.outbox.publish_pending(infra.pool, infra.js)
    opened = await read_subject(infra, "CASES", infra.subjects.event(agency, "case.opened"))
    assert sorted(json.loads(m.data)["first_report_id"] for m in opened) == sorted(
        str(r.report_id) for r in good
    )


async def _some(pending):
    found = await pending
    return found or None


async def _all_cased(handlers: TriageHandlers, agency: str, reports: list[ReportReceived]):
    found = [await case_of(handlers, agency, r) for r in reports]
    return found if all(found) else None


async def test_an_unverified_senders_penalty_holds_until_a_verified_report_joins(triage, agency: str) -> None:
    """The penalty of a mail whose sender failed SPF/DKIM/DMARC is kept with the case's factors:
    another unverified mail joining keeps it (it once vanished at any recompute); a report from
    a verified sender or another channel vouches for the case and lifts it."""
    infra, handlers = triage
    link = f"https://www.facebook.com/{agency}/posts/77"
    failed = SenderAuth(verdict="fail", spf="fail")

    def mail(
        reporter: str, auth: SenderAuth | None = failed, channel: Channel = Channel.EMAIL
    ) -> ReportReceived:
        return received(
            agency, MONEY, canonical_url=link, reporter_id=reporter, channel=channel, sender_auth=auth
        )

    async def stored() -> tuple[int, list[str]]:
        row = await infra.pool.fetchrow(
            "SELECT priority, priority_reasons FROM cases WHERE agency_id = $1", agency
        )
        return row["priority"], json.loads(row["priority_reasons"])

    assert await handlers.reports_received([wrap(mail("rep_a"))]) == [None]
    _, reasons = await stored()
    assert any("tidak terverifikasi" in r for r in reasons)
    assert await handlers.reports_received([wrap(mail("rep_b"))]) == [None]
    second, reasons = await stored()
    assert any("tidak terverifikasi" in r for r in reasons), "a second unverified mail keeps the penalty"
    assert await handlers.reports_received([wrap(mail("rep_c", None, Channel.WHATSAPP))]) == [None]
    third, reasons = await stored()
    assert not any("tidak terverifikasi" in r for r in reasons)
    assert third >= second + UNVERIFIED_SENDER_PENALTY
    # Lifted for good: a later unverified mail does not bring it back.
    assert await handlers.reports_received([wrap(mail("rep_d"))]) == [None]
    assert not any("tidak terverifikasi" in r for r in (await stored())[1])
