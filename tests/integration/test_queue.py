"""The work queue over HTTP: three agencies' cases in one triage database, the gateway as a real
HTTP server and triage answering over real NATS. No agency sees, pages to, assigns, notes or
moves another's case; routed cases are read, not changed; cursors and ETags hold."""

import csv
import io
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from openpyxl import load_workbook

from pantau_intake.listing import ReportListing
from pantau_shared.bus.rpc import Answer, serve
from pantau_shared.contract import (
    TAXONOMY,
    CaseState,
    Category,
    CategoryScore,
    Platform,
    PriorityLevel,
    new_id,
)
from pantau_shared.contract.queue import REPORT_LIST
from pantau_shared.settings import PlatformSettings
from pantau_triage import repository
from tests.conftest import connect
from tests.integration import people
from tests.integration.test_case_workflow import triage  # noqa: F401 - fixture
from tests.integration.test_gateway import create_key
from tests.integration.test_ownership import _gateway

CATEGORIES = ("hoaks", "politik_uang", "sara", "netralitas_asn")
REGIONS = ("33.75", "33.26", "17.71")
WORDS = ("amplop serangan fajar", "surat suara tercoblos", "kepala desa kampanye", "hoaks kotak suara")


@dataclass
class Agencies:
    names: dict[str, str]  # role -> agency id: a, b (owners), c (routed to only)
    clients: dict[str, httpx.AsyncClient]
    # Ground truth, as inserted: case id -> (owner, routed to)
    cases: dict[str, tuple[str, tuple[str, ...]]]
    # A patrol member of agency a, and one of agency b: who cases are handed to.
    siti: str
    stranger: str

    def visible(self, role: str) -> set[str]:
        agency = self.names[role]
        return {cid for cid, (owner, routed) in self.cases.items() if owner == agency or agency in routed}


def _case(owner: str, routed: tuple[str, ...], i: int, now: datetime) -> repository.Case:
    rng = random.Random(i)
    category = CATEGORIES[(i // 2) % len(CATEGORIES)]
    return repository.Case(
        case_id=new_id(),
        agency_id=owner,
        state=CaseState.CLOSED if i % 5 == 0 else CaseState.NEW,
        opened_at=now - timedelta(hours=i),
        updated_at=now - timedelta(minutes=i),
        region_code=REGIONS[i % len(REGIONS)],
        platform=Platform.FACEBOOK,
        canonical_url=f"https://facebook.com/posts/{owner}-{i}",
        content_sha256=None,
        summary=f"Laporan {i}: {WORDS[i % len(WORDS)]}",
        categories=(CategoryScore(category=category, score=0.9, reason="uji"),),
        priority=rng.randint(0, 100),
        priority_level=PriorityLevel.MEDIUM,
        priority_reasons=(),
        report_count=1,
        reporter_count=1,
        routed_to=routed,
        claims=(),
        resolution="duplicate" if i % 5 == 0 else None,
        priority_factors=(),
        reach=None,
    )


@pytest.fixture
async def agencies(platform: PlatformSettings, triage, agency: str) -> AsyncIterator[Agencies]:  # noqa: F811 - fixture
    infra, handlers = triage
    answering = await serve(infra.nc, infra.subjects, "triage", handlers.answers())
    names = {"a": f"{agency}-a", "b": f"{agency}-b", "c": f"{agency}-c"}
    now = datetime.now(UTC)
    cases: dict[str, tuple[str, tuple[str, ...]]] = {}
    async with infra.pool.acquire() as conn:
        for i in range(60):
            owner = names["a"] if i % 2 else names["b"]
            routed = (names["c"],) if i % 3 == 0 else ()
            case = _case(owner, routed, i, now)
            await repository.insert_case(conn, case, first_text=None)
            cases[str(case.case_id)] = (owner, routed)
    server, task, base = await _gateway(platform)
    keys = {role: await create_key(platform, name) for role, name in names.items()}
    clients = {
        role: httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) for role, key in keys.items()
    }
    try:
        siti = await people._user(platform, names["a"], f"siti@{names['a']}.go.id", ["patrol"], False)
        stranger = await people._user(platform, names["b"], f"eko@{names['b']}.go.id", ["patrol"], False)
        yield Agencies(names, clients, cases, siti, stranger)
    finally:
        for client in clients.values():
            await client.aclose()
        server.should_exit = True
        await task
        for subscription in answering:
            await subscription.unsubscribe()


async def _all_pages(client: httpx.AsyncClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        response = await client.get("/v1/cases", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        cases.extend(page["cases"])
        cursor = page["next_cursor"]
        if cursor is None:
            return cases
    raise AssertionError("the cursor never ended")


async def test_each_agency_pages_through_exactly_its_own_and_routed_cases(agencies: Agencies) -> None:
    for role in ("a", "b", "c"):
        for sort in ("priority", "oldest", "newest", "updated"):
            listed = await _all_pages(agencies.clients[role], {"sort": sort, "limit": 7})
            ids = [c["case_id"] for c in listed]
            assert len(ids) == len(set(ids)), (role, sort, "a case on two pages")
            assert set(ids) == agencies.visible(role), (role, sort)
        assert agencies.visible(role)
    owned = await _all_pages(agencies.clients["c"], {"scope": "owned"})
    assert owned == []
    routed = await _all_pages(agencies.clients["a"], {"scope": "routed"})
    assert routed == []


async def test_sorts_hold_across_pages(agencies: Agencies) -> None:
    listed = await _all_pages(agencies.clients["a"], {"sort": "priority", "limit": 4})
    keys = [(c["priority"], c["case_id"]) for c in listed]
    assert keys == sorted(keys, reverse=True)
    oldest = await _all_pages(agencies.clients["c"], {"sort": "oldest", "limit": 3})
    opened = [c["opened_at"] for c in oldest]
    assert opened == sorted(opened)
    updated = await _all_pages(agencies.clients["b"], {"sort": "updated", "limit": 5})
    changed = [datetime.fromisoformat(c["updated_at"]) for c in updated]
    assert changed == sorted(changed, reverse=True)


async def test_filters_narrow_as_they_say(agencies: Agencies) -> None:
    client = agencies.clients["a"]
    open_hoaks = await _all_pages(
        client, {"state": ["new", "verifying"], "category": "hoaks", "min_priority": 20}
    )
    assert open_hoaks, "the data has such cases"
    for case in open_hoaks:
        assert case["state"] in ("new", "verifying") and case["priority"] >= 20
        assert [c["category"] for c in case["categories"]] == ["hoaks"]
    everything = await _all_pages(client, {})
    expected = {
        c["case_id"]
        for c in everything
        if c["state"] in ("new", "verifying")
        and c["priority"] >= 20
        and c["categories"][0]["category"] == "hoaks"
    }
    assert {c["case_id"] for c in open_hoaks} == expected
    regional = await _all_pages(client, {"region": "33"})
    assert {c["region_code"] for c in regional} == {"33.75", "33.26"}
    assert len(regional) == sum(c["region_code"].startswith("33.") for c in everything)
    worded = await _all_pages(client, {"text": "SURAT SUARA"})
    assert worded and all("surat suara" in c["summary"] for c in worded)
    assert len(worded) == sum("surat suara" in c["summary"] for c in everything)
    # A LIKE wildcard in the text is a character, not a pattern.
    assert await _all_pages(client, {"text": "%%%"}) == []
    middle = sorted(datetime.fromisoformat(c["opened_at"]) for c in everything)[len(everything) // 2]
    since = await _all_pages(client, {"opened_from": middle.isoformat()})
    assert len(since) == sum(datetime.fromisoformat(c["opened_at"]) >= middle for c in everything)
    routed_only = await _all_pages(agencies.clients["c"], {"scope": "routed", "source": "report"})
    assert {c["case_id"] for c in routed_only} == agencies.visible("c")
    assert await _all_pages(client, {"source": "monitoring"}) == []


async def test_bad_queries_are_problems_not_errors(agencies: Agencies) -> None:
    client = agencies.clients["a"]
    for params in (
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"sort": "priority", "cursor": "WyJvbGRlc3QiLCIxIiwiMiJd"},
        {"limit": 0},
        {"region": "3x"},
        {"state": "lost"},
        {"nonsense": "1"},
        {"text": "ab"},
    ):
        response = await client.get("/v1/cases", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_cursor_is_stable_when_cases_arrive_between_pages(agencies: Agencies, triage) -> None:  # noqa: F811 - fixture
    infra, _ = triage
    client = agencies.clients["a"]
    first = (await client.get("/v1/cases", params={"sort": "newest", "limit": 5})).json()
    # Newer cases arrive: the next page still starts right after the last one shown.
    async with infra.pool.acquire() as conn:
        for i in range(3):
            await repository.insert_case(
                conn, _case(agencies.names["a"], (), 1000 + i, datetime.now(UTC) + timedelta(days=100)), None
            )
    rest = await _all_pages(client, {"sort": "newest", "limit": 5, "cursor": first["next_cursor"]})
    before = {c["case_id"] for c in first["cases"]}
    assert before.isdisjoint(c["case_id"] for c in rest)
    assert before | {c["case_id"] for c in rest} == agencies.visible("a")


async def test_an_unchanged_page_is_a_304_and_a_change_gives_a_new_etag(agencies: Agencies) -> None:
    client = agencies.clients["a"]
    first = await client.get("/v1/cases", params={"limit": 5})
    tag = first.headers["etag"]
    again = await client.get("/v1/cases", params={"limit": 5}, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    case_id = first.json()["cases"][0]["case_id"]
    assigned = await client.put(
        f"/v1/cases/{case_id}/assignee", json={"assignee": agencies.siti, "actor": "Budi (koordinator)"}
    )
    assert assigned.status_code == 200, assigned.text
    changed = await client.get("/v1/cases", params={"limit": 5}, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


async def test_assignment_notes_and_bulk_transitions_respect_ownership(agencies: Agencies) -> None:
    a, b, c = (agencies.clients[r] for r in ("a", "b", "c"))
    owned_by_a = [cid for cid, (owner, _) in agencies.cases.items() if owner == agencies.names["a"]]
    routed_to_c = next(cid for cid in owned_by_a if agencies.cases[cid][1])
    body = {"assignee": agencies.siti, "actor": "Budi"}
    assert (await a.put(f"/v1/cases/{routed_to_c}/assignee", json=body)).status_code == 200
    # Taking the case back needs no user of theirs: the routed agency may not (403), and for a
    # stranger the case does not exist (404).
    take_back = {"assignee": None, "actor": "Budi"}
    assert (await c.put(f"/v1/cases/{routed_to_c}/assignee", json=take_back)).status_code == 403
    assert (await b.put(f"/v1/cases/{routed_to_c}/assignee", json=take_back)).status_code == 404
    assert (
        await b.put(f"/v1/cases/{routed_to_c}/assignee", json={**body, "assignee": agencies.stranger})
    ).status_code == 404
    mine = await _all_pages(a, {"assignee": agencies.siti})
    assert [x["case_id"] for x in mine] == [routed_to_c] and mine[0]["assignee"] == agencies.siti
    # Only an active user of the agency is given a case: a name is not an id, and another
    # agency's user is as unknown as a made-up one.
    named = await a.put(f"/v1/cases/{routed_to_c}/assignee", json={**body, "assignee": "siti"})
    assert named.status_code == 422, named.text
    for nobody in (agencies.stranger, str(new_id())):
        refused = await a.put(f"/v1/cases/{routed_to_c}/assignee", json={**body, "assignee": nobody})
        assert refused.status_code == 404 and "pengguna" in refused.json()["detail"], refused.text
    assert (await a.put(f"/v1/cases/{routed_to_c}/assignee", json={**body, "assignee": None})).json()[
        "assignee"
    ] is None
    assert (await a.put(f"/v1/cases/{routed_to_c}/assignee", json=body)).status_code == 200
    assert routed_to_c not in {x["case_id"] for x in await _all_pages(a, {"unassigned": True})}
    history = (await a.get(f"/v1/cases/{routed_to_c}/history")).json()
    assert history[-1]["change"] == "assigned" and history[-1]["note"] == f"Ditugaskan kepada {agencies.siti}"
    assert history[-2]["note"] == "Penugasan dicabut"

    # Notes: the owner's and the routed agency's each stay their own; a stranger gets 404.
    note = {"text": "Sudah dicek ke lokasi", "actor": "Siti"}
    written = await a.post(f"/v1/cases/{routed_to_c}/notes", json=note, headers={"Idempotency-Key": "n1"})
    assert written.status_code == 201, written.text
    retried = await a.post(f"/v1/cases/{routed_to_c}/notes", json=note, headers={"Idempotency-Key": "n1"})
    assert retried.json()["note_id"] == written.json()["note_id"]
    assert (
        await c.post(f"/v1/cases/{routed_to_c}/notes", json={**note, "text": "Catatan Komdigi"})
    ).status_code == 201
    assert (await b.post(f"/v1/cases/{routed_to_c}/notes", json=note)).status_code == 404
    assert [n["text"] for n in (await a.get(f"/v1/cases/{routed_to_c}/notes")).json()] == [note["text"]]
    assert [n["text"] for n in (await c.get(f"/v1/cases/{routed_to_c}/notes")).json()] == ["Catatan Komdigi"]
    assert (await b.get(f"/v1/cases/{routed_to_c}/notes")).status_code == 404

    # Bulk: each case's own outcome, the same as a single transition would give.
    states = {x["case_id"]: x["state"] for x in await _all_pages(a, {"scope": "owned"})}
    open_of_a = [cid for cid in owned_by_a if states[cid] == "new"][:3]
    closed_of_a = next(cid for cid in owned_by_a if states[cid] == "closed")
    of_b = next(cid for cid, (owner, _) in agencies.cases.items() if owner == agencies.names["b"])
    unknown = str(new_id())
    batch = [*open_of_a, closed_of_a, of_b, unknown]
    moved = await a.post("/v1/cases:transition", json={"case_ids": batch, "to": "verifying", "actor": "Budi"})
    assert moved.status_code == 200, moved.text
    outcome = {o["case_id"]: o for o in moved.json()["outcomes"]}
    assert [outcome[cid]["status"] for cid in batch] == [200, 200, 200, 200, 404, 404]
    assert all(outcome[cid]["state"] == "verifying" for cid in open_of_a)
    assert moved.json()["changed"] == 4 and moved.json()["refused"] == 2
    # Routed to c: c may read them but not move them; a move c may not make is refused per case.
    routed = [cid for cid in open_of_a if agencies.cases[cid][1]] or [routed_to_c]
    refused = await c.post("/v1/cases:transition", json={"case_ids": routed, "to": "closed", "actor": "X"})
    assert {o["status"] for o in refused.json()["outcomes"]} == {403}
    again = await a.post(
        "/v1/cases:transition", json={"case_ids": open_of_a[:1], "to": "closed", "actor": "B"}
    )
    assert again.json()["outcomes"][0]["status"] == 409  # closing needs a resolution
    assert "verifying" not in again.json()["outcomes"][0]["allowed"]
    assert (await b.get(f"/v1/cases/{open_of_a[0]}")).status_code == 404


@pytest.fixture
async def reports(platform: PlatformSettings, agencies: Agencies, triage) -> AsyncIterator[dict[str, str]]:  # noqa: F811 - fixture
    """Intake answering `report.list`, with two reports (an author, hashes, a photo) on one case
    of agency a; returns that case's id and the report's author."""
    triage_infra, _ = triage
    infra = await connect(platform, "intake")
    answering = await serve(
        infra.nc, infra.subjects, "intake", [Answer(REPORT_LIST, ReportListing(infra.pool).list_reports)]
    )
    case_id = next(cid for cid, (owner, _) in agencies.cases.items() if owner == agencies.names["a"])
    sent = datetime(2024, 2, 12, 1, 15, tzinfo=UTC)
    for n in range(2):
        report_id = new_id()
        await infra.pool.execute(
            "INSERT INTO reports (report_id, agency_id, channel, submitted_at, received_at, platform, text,"
            " url, canonical_url, author_handle, raw_sha256, content_sha256, attachments, reporter_id)"
            " VALUES ($1, $2, 'whatsapp', $3, $3, 'facebook', 'amplop', $4, $4, '@kabar.pekalongan', $5,"
            " NULL, $6, 'r1')",
            report_id,
            agencies.names["a"],
            sent + timedelta(minutes=n),
            f"https://facebook.com/posts/{n}",
            f"{n}" * 64,
            json.dumps([{"sha256": "e" * 64, "mime_type": "image/jpeg"}]),
        )
        await triage_infra.pool.execute(
            "INSERT INTO case_reports (report_id, case_id, reporter_id, attached_at)"
            " VALUES ($1, $2, 'r1', $3)",
            report_id,
            UUID(case_id),
            sent + timedelta(minutes=n),
        )
    try:
        yield {"case_id": case_id, "author": "@kabar.pekalongan"}
    finally:
        for subscription in answering:
            await subscription.unsubscribe()
        await infra.close()


async def test_exports_carry_the_forms_fields_for_exactly_the_queues_cases(
    agencies: Agencies, reports: dict[str, str]
) -> None:
    client = agencies.clients["a"]
    queued = {c["case_id"]: c for c in await _all_pages(client, {"state": ["new"]})}
    response = await client.get("/v1/exports/cases", params={"state": "new"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["nomor_kasus"] for r in table} == set(queued)
    # Oldest first, as the export sorts by default.
    assert [r["dibuka_pada_utc"] for r in table] == sorted(r["dibuka_pada_utc"] for r in table)
    for line in table:
        case = queued[line["nomor_kasus"]]
        category = case["categories"][0]["category"]
        assert line["pasal_yang_dilanggar"] == "; ".join(TAXONOMY[Category(category)].legal_basis)
        assert line["kategori"] == TAXONOMY[Category(category)].label
        assert line["kode_wilayah"] == case["region_code"] and line["status"] == "new"
    with_reports = (
        next(r for r in table if r["nomor_kasus"] == reports["case_id"])
        if reports["case_id"] in queued
        else None
    )
    ndjson = await client.get("/v1/exports/cases", params={"format": "ndjson"})
    assert ndjson.status_code == 200, ndjson.text
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert {line["case_id"] for line in lines} == agencies.visible("a")
    full = next(line for line in lines if line["case_id"] == reports["case_id"])
    assert full["authors"] == [reports["author"]]
    assert full["event_at"] == "2024-02-12T01:15:00Z"
    assert full["event_local_time"].endswith("WIB") or full["event_local_time"].endswith("WITA")
    assert set(full["evidence_sha256"]) == {"0" * 64, "1" * 64, "e" * 64}
    assert full["evidence_urls"] == ["https://facebook.com/posts/0", "https://facebook.com/posts/1"]
    assert len(full["report_ids"]) == 2
    if with_reports is not None:
        # A cell starting with @ would run as a formula in a spreadsheet: it is quoted.
        assert with_reports["terlapor_akun"] == "'" + reports["author"]
    # Another agency's export holds none of a's cases.
    other = await agencies.clients["b"].get("/v1/exports/cases", params={"format": "ndjson"})
    assert other.status_code == 200, other.text
    assert {json.loads(line)["case_id"] for line in other.text.splitlines()} == agencies.visible("b")
    book = await client.get("/v1/exports/cases", params={"format": "xlsx", "state": "new"})
    sheet = load_workbook(io.BytesIO(book.content), read_only=True)["kasus"]
    listed = [values for values in sheet.iter_rows(values_only=True)]
    assert listed[0][0] == "nomor_kasus" and {v[0] for v in listed[1:]} == set(queued)


async def test_a_formula_in_a_summary_is_text_in_the_export(agencies: Agencies, triage) -> None:  # noqa: F811 - fixture
    infra, _ = triage
    case = _case(agencies.names["a"], (), 7, datetime.now(UTC))
    case = case.model_copy(update={"summary": '=HYPERLINK("http://x.example","klik")', "canonical_url": None})
    async with infra.pool.acquire() as conn:
        await repository.insert_case(conn, case, None)
    response = await agencies.clients["a"].get("/v1/exports/cases", params={"text": "HYPERLINK"})
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["uraian_kejadian"] for r in table] == ["'" + case.summary]


async def test_statistics_add_up_to_the_queue_and_follow_its_filters(agencies: Agencies) -> None:
    client = agencies.clients["a"]
    cases = await _all_pages(client, {})
    case_id = next(c["case_id"] for c in cases if c["state"] == "new")
    await client.put(f"/v1/cases/{case_id}/assignee", json={"assignee": agencies.siti, "actor": "Budi"})
    closing = next(c["case_id"] for c in cases if c["state"] == "new" and c["case_id"] != case_id)
    await client.post(
        f"/v1/cases/{closing}/transitions", json={"to": "closed", "actor": "B", "resolution": "duplicate"}
    )
    response = await client.get("/v1/statistics/cases", params={"region_level": "province"})
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["total"] == len(cases) == len(agencies.visible("a"))
    for tally in ("by_state", "by_region", "by_source", "by_category"):
        assert sum(t["count"] for t in figures[tally]) == len(cases), tally
    assert sum(d["count"] for d in figures["by_day"]) == len(cases)
    assert {t["key"] for t in figures["by_region"]} == {"33", "17"}
    states = {t["key"]: t["count"] for t in figures["by_state"]}
    assert states["closed"] == sum(c["state"] == "closed" for c in cases) + 1
    assert figures["time_to_acknowledge"]["count"] == 2  # the assignment and the closing
    assert figures["time_to_close"]["count"] == 1 and figures["time_to_close"]["median_s"] > 0
    assert figures["referred"] == sum(bool(c["routed_to"]) for c in cases)
    assert figures["referrals_by_agency"] == [{"key": agencies.names["c"], "count": figures["referred"]}]
    assert figures["referrals_by_state"] == [{"key": "pending", "count": figures["referred"]}]
    assert figures["takedowns"] == []  # none requested on these cases
    narrowed = (await client.get("/v1/statistics/cases", params={"state": "closed"})).json()
    assert narrowed["total"] == states["closed"]
    routed = (await agencies.clients["c"].get("/v1/statistics/cases")).json()
    assert routed["total"] == len(agencies.visible("c"))
    assert (await agencies.clients["b"].get("/v1/statistics/cases", params={"text": "zzzzzz"})).json()[
        "total"
    ] == 0


async def test_the_report_list_pages_an_agencys_own_reports_without_contacts(
    agencies: Agencies, reports: dict[str, str]
) -> None:
    a, b = agencies.clients["a"], agencies.clients["b"]
    first = await a.get("/v1/reports", params={"limit": 1})
    assert first.status_code == 200, first.text
    page = first.json()
    second = (await a.get("/v1/reports", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    listed = page["reports"] + second["reports"]
    assert second["next_cursor"] is None and len({r["report_id"] for r in listed}) == 2
    assert [r["submitted_at"] for r in listed] == sorted((r["submitted_at"] for r in listed), reverse=True)
    assert all(r["author_handle"] == reports["author"] and r["reporter_id"] == "r1" for r in listed)
    assert not {"reporter", "email", "phone", "contacts"} & set(listed[0])
    assert (await b.get("/v1/reports")).json()["reports"] == []
    assert (await a.get("/v1/reports", params={"channel": "email"})).json()["reports"] == []
    assert len((await a.get("/v1/reports", params={"region": "33"})).json()["reports"]) == 0  # no region
    tag = first.headers["etag"]
    assert (
        await a.get("/v1/reports", params={"limit": 1}, headers={"If-None-Match": tag})
    ).status_code == 304
