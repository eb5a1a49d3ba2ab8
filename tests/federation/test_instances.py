"""Three complete instances (Bawaslu Kota Pekalongan, Komdigi, Bawaslu Jawa Tengah), each with its
own NATS server, database and service processes, linked through the exchange: what the issue's
user does, step by step, through each instance's own API."""

import email
import email.policy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from pantau_devstack.federation import FederatedNats
from pantau_devstack.instances import FederatedInstance, Federation
from pantau_devstack.mailsink import MailSink
from pantau_devstack.servers import free_port
from pantau_devstack.stack import Servers
from pantau_shared.contract import Subjects, federation_subject
from pantau_shared.federation import FederationTable
from tests.federation.conftest import TABLE_FILE
from tests.waiting import eventually

HOAX = "Awas surat suara sudah dicoblos di gudang kecamatan, sebarkan sebelum dihapus!"
PARTISAN = "Kepala desa Podosugih mengajak warga coblos nomor 2 waktu rapat desa kemarin"
REPORTER = "warga.pelapor@example.id"
# Takedown re-checks (tests/federation/test_takedowns.py) reach the test's posts site by a
# public-looking name, often.
TAKEDOWN_SITE = "posts.pantau.test"
RECHECKS = {
    "PANTAU_TRIAGE_TAKEDOWN_FETCH_TEST_ALLOWLIST": '["127.0.0.1/32"]',
    "PANTAU_TRIAGE_TAKEDOWN_FETCH_TEST_HOSTS": json.dumps({TAKEDOWN_SITE: "127.0.0.1"}),
    "PANTAU_TRIAGE_TAKEDOWN_RECHECK_S": "0.5",
    "PANTAU_TRIAGE_TAKEDOWN_SWEEP_S": "0.2",
}
# Three instances' processes start on a machine whose two cores the other tiers share.
pytestmark = pytest.mark.timeout(900)


@dataclass
class Running:
    federation: Federation
    nats: FederatedNats
    sink: MailSink
    subjects: Subjects

    def __getitem__(self, name: str) -> FederatedInstance:
        return self.federation.instances[name]


@pytest.fixture(scope="module")
def running(
    servers: Servers, run_id: str, table: FederationTable, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("instances")
    subjects = Subjects(run_id)
    federated = FederatedNats(home / "nats", table, subjects)
    federated.start()
    sink = MailSink(home / "mail", free_port())
    sink.start()
    federation = Federation(
        home=home,
        nats=federated,
        table_file=TABLE_FILE,
        admin_database_url=servers.database_url,
        redis_url=servers.redis_url,
        smtp_port=sink.port,
        subject_root=run_id,
        database_prefix=f"pantau_{run_id}",
    )
    try:
        federation.prepare(extra_env={"PANTAU_DRAIN_TIMEOUT_S": "3", **RECHECKS})
        # The origin takes reports; every instance triages, alerts and answers its own API.
        partner = ("triage", "notify", "gateway")
        federation.start(
            {"pekalongan": ("intake", "triage", "notify", "gateway"), "komdigi": partner, "jateng": partner}
        )
        yield Running(federation, federated, sink, subjects)
    finally:
        federation.stop()
        sink.stop()
        federated.stop()


async def request(
    instance: FederatedInstance, method: str, path: str, body: dict[str, Any] | None = None, key: str = ""
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.request(
            method, instance.api + path, headers={"X-API-Key": key or instance.key}, json=body
        )


async def call(
    instance: FederatedInstance, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    response = await request(instance, method, path, body)
    assert response.status_code < 300, response.text
    return response.json()


async def submit(instance: FederatedInstance, text: str, url: str, wants_updates: bool = False) -> str:
    body: dict[str, Any] = {"text": text, "url": url, "region_code": "33.75"}
    if wants_updates:
        body["reporter"] = {"name": "Warga", "email": REPORTER, "wants_updates": True}
    return (await call(instance, "POST", "/v1/reports", body))["report_id"]


async def case_of(instance: FederatedInstance, report_id: str) -> str:
    async def found() -> str | None:
        response = await request(instance, "GET", f"/v1/reports/{report_id}")
        return response.json().get("case_id") if response.status_code == 200 else None

    return await eventually(found, timeout=20, what="the report's case")


async def referral_to(origin: FederatedInstance, case_id: str, agency: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        referrals = (await call(origin, "GET", f"/v1/cases/{case_id}/referrals"))["referrals"]
        return next((r for r in referrals if r["partner_agency"] == agency), None)

    return await eventually(found, timeout=20, what=f"the referral to {agency}")


async def received(partner: FederatedInstance, referral_id: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        listed = (await call(partner, "GET", "/v1/referrals"))["referrals"]
        return next((r for r in listed if r["referral_id"] == referral_id), None)

    return await eventually(found, timeout=30, what="the referral at the partner")


async def updates_of(origin: FederatedInstance, case_id: str, agency: str, count: int) -> dict[str, Any]:
    async def arrived() -> dict[str, Any] | None:
        referral = await referral_to(origin, case_id, agency)
        return referral if len(referral["updates"]) >= count else None

    return await eventually(arrived, timeout=40, what=f"{count} updates from {agency}")


async def test_a_hoax_reported_to_pekalongan_becomes_komdigis_own_case(running: Running) -> None:
    pekalongan, komdigi = running["pekalongan"], running["komdigi"]
    origin_case = await case_of(
        pekalongan, await submit(pekalongan, HOAX, "https://www.facebook.com/groups/9/posts/1")
    )
    referral = await referral_to(pekalongan, origin_case, "komdigi")
    assert referral["state"] == "pending" and referral["direction"] == "out"

    incoming = await received(komdigi, referral["referral_id"])
    assert incoming["origin_case_id"] == origin_case and incoming["partner_agency"] == "bawaslu-3375"
    assert incoming["origin_url"] == f"{pekalongan.api}/v1/cases/{origin_case}"
    case = await call(komdigi, "GET", f"/v1/cases/{incoming['case_id']}")
    assert case["case_id"] != origin_case and case["agency_id"] == "komdigi"
    assert "hoaks" in {c["category"] for c in case["categories"]} and all(
        c["reason"] for c in case["categories"]
    )
    assert case["canonical_url"] == "https://facebook.com/groups/9/posts/1"
    origin = await call(pekalongan, "GET", f"/v1/cases/{origin_case}")
    for field in ("report_count", "reporter_count", "priority", "priority_level", "region_code", "summary"):
        assert case[field] == origin[field], field
    assert "Rujukan dari bawaslu-3375" in case["priority_reasons"]
    # Komdigi's patrol is alerted by Komdigi's own instance.
    await eventually(
        lambda: _mail_to(running.sink, "patroli-siber@komdigi.example", incoming["case_id"]), timeout=20
    )
    # The origin cannot be read, let alone changed, through Komdigi's key, nor the reverse.
    wrong_key = await request(pekalongan, "GET", f"/v1/cases/{origin_case}", key=komdigi.key)
    assert wrong_key.status_code == 401
    wrong_key = await request(komdigi, "GET", f"/v1/cases/{incoming['case_id']}", key=pekalongan.key)
    assert wrong_key.status_code == 401


async def test_komdigi_decides_and_moves_its_case_and_pekalongan_sees_each_step(running: Running) -> None:
    pekalongan, komdigi = running["pekalongan"], running["komdigi"]
    report = await submit(
        pekalongan, HOAX + " Katanya dari grup sebelah.", "https://x.com/akun/status/77", True
    )
    origin_case = await case_of(pekalongan, report)
    referral = await referral_to(pekalongan, origin_case, "komdigi")
    partner_case = (await received(komdigi, referral["referral_id"]))["case_id"]

    decided = await call(
        komdigi, "POST", f"/v1/referrals/{referral['referral_id']}/accept", {"actor": "Rina"}
    )
    assert decided["state"] == "accepted"
    refused = await request(
        komdigi, "POST", f"/v1/referrals/{referral['referral_id']}/decline", {"actor": "Rina"}
    )
    assert refused.status_code == 409
    for step in (
        {"to": "verifying", "actor": "Rina"},
        {"to": "takedown_requested", "actor": "Rina", "note": "Permintaan ke platform"},
        {"to": "closed", "actor": "Rina", "resolution": "taken_down"},
    ):
        await call(komdigi, "POST", f"/v1/cases/{partner_case}/transitions", step)

    done = await updates_of(pekalongan, origin_case, "komdigi", 4)
    assert_in_order_once(done["updates"], 4)
    assert [u["change"] for u in done["updates"]] == [
        "accepted",
        "state_changed",
        "state_changed",
        "state_changed",
    ]
    assert [u["state"] for u in done["updates"][1:]] == ["verifying", "takedown_requested", "closed"]
    assert done["state"] == "accepted" and done["partner_state"] == "closed"
    assert done["partner_resolution"] == "taken_down" and done["partner_case_id"] == partner_case
    # Pekalongan's own case is untouched, its history shows the partner's steps beside its own.
    own = await call(pekalongan, "GET", f"/v1/cases/{origin_case}")
    assert own["state"] == "new"
    # ... and shows Komdigi's handling as it shows a routed agency's on its own instance.
    assert {"agency_id": "komdigi", "state": "done"}.items() <= next(
        r for r in own["referrals"] if r["agency_id"] == "komdigi"
    ).items()
    changes = [h["change"] for h in await call(pekalongan, "GET", f"/v1/cases/{origin_case}/history")]
    assert changes[:2] == ["opened", "referred"] and changes.count("partner_state_changed") == 3
    # The reporter who asked for news hears the outcome from Pekalongan's instance.
    mail = await eventually(lambda: _mail_to(running.sink, REPORTER, "diturunkan"), timeout=30)
    assert "komdigi" in mail.lower()


async def test_a_village_head_campaigning_goes_up_to_the_province(running: Running) -> None:
    pekalongan, jateng = running["pekalongan"], running["jateng"]
    origin_case = await case_of(
        pekalongan, await submit(pekalongan, PARTISAN, "https://www.facebook.com/kades/posts/2")
    )
    referral = await referral_to(pekalongan, origin_case, "bawaslu-33")
    assert referral["reason"] == "escalation"
    incoming = await received(jateng, referral["referral_id"])
    case = await call(jateng, "GET", f"/v1/cases/{incoming['case_id']}")
    assert case["agency_id"] == "bawaslu-33" and "netralitas_asn" in {
        c["category"] for c in case["categories"]
    }
    await eventually(
        lambda: _mail_to(running.sink, "patroli@bawaslu-jateng.example", incoming["case_id"]), timeout=20
    )
    # The province declines: its case closes, and Pekalongan sees both.
    note = {"actor": "Budi", "note": "Cukup ditangani Bawaslu Kota"}
    await call(jateng, "POST", f"/v1/referrals/{referral['referral_id']}/decline", note)
    done = await updates_of(pekalongan, origin_case, "bawaslu-33", 2)
    assert done["state"] == "declined" and done["partner_state"] == "closed"
    assert done["partner_resolution"] == "referred_elsewhere"


async def test_a_forged_partner_message_changes_nothing(running: Running) -> None:
    """Jawa Tengah's instance claims news of a referral that went to Komdigi: the origin refuses it."""
    pekalongan, komdigi = running["pekalongan"], running["komdigi"]
    origin_case = await case_of(
        pekalongan, await submit(pekalongan, HOAX, "https://www.tiktok.com/@a/video/3")
    )
    referral = await referral_to(pekalongan, origin_case, "komdigi")
    await received(komdigi, referral["referral_id"])
    forged = {
        "referral_id": referral["referral_id"], "agency_id": "bawaslu-33", "to_agency": "bawaslu-3375",
        "partner_case_id": referral["referral_id"], "sequence": 1, "at": "2026-01-01T00:00:00+00:00",
        "state": "closed", "resolution": "not_a_violation",
    }  # fmt: skip
    jateng = await nats.connect(running.nats.url("jateng"))
    subject = federation_subject(running.subjects.root, "bawaslu-3375", "bawaslu-33", "case.partner_status")
    headers = {
        "ce-specversion": "1.0", "ce-id": "0190f000-0000-7000-8000-00000000f0f0",
        "ce-source": "/forged", "ce-type": "case.partner_status.v1",
        "ce-time": "2026-01-01T00:00:00+00:00", "ce-agency": "bawaslu-33",
    }  # fmt: skip
    # Posing as Komdigi, on Komdigi's address: Pekalongan does not even source it from Jateng.
    posing = {**forged, "agency_id": "komdigi"}
    impostor = federation_subject(running.subjects.root, "bawaslu-3375", "komdigi", "case.partner_status")
    posing_headers = {**headers, "ce-agency": "komdigi", "ce-id": "0190f000-0000-7000-8000-00000000f0f1"}
    await jateng.jetstream().publish(impostor, json.dumps(posing).encode(), headers=posing_headers)
    await jateng.jetstream().publish(subject, json.dumps(forged).encode(), headers=headers)
    origin = await nats.connect(running.nats.url("pekalongan"))
    dead_letters = running.subjects.stream("DEADLETTER")

    async def dead_lettered() -> bool:
        info = await origin.jetstream().stream_info(dead_letters)
        return info.state.messages >= 1

    await eventually(dead_lettered, timeout=30, what="the forged message's dead letter")
    assert (await referral_to(pekalongan, origin_case, "komdigi"))["updates"] == []
    assert (await origin.jetstream().stream_info(dead_letters)).state.messages == 1
    await jateng.close()
    await origin.close()


async def test_after_a_link_outage_every_message_arrives_once_in_order(running: Running) -> None:
    pekalongan, komdigi = running["pekalongan"], running["komdigi"]
    origin_case = await case_of(
        pekalongan, await submit(pekalongan, HOAX, "https://www.youtube.com/watch?v=outage")
    )
    referral = await referral_to(pekalongan, origin_case, "komdigi")
    partner_case = (await received(komdigi, referral["referral_id"]))["case_id"]
    await call(komdigi, "POST", f"/v1/referrals/{referral['referral_id']}/accept", {"actor": "Rina"})
    await updates_of(pekalongan, origin_case, "komdigi", 1)

    running.nats.servers["exchange"].stop()  # the link is cut; both sides keep working
    new_reports = [
        await submit(pekalongan, f"{HOAX} ({n})", f"https://www.facebook.com/groups/9/posts/{100 + n}")
        for n in range(3)
    ]
    for step in (
        {"to": "verifying", "actor": "Rina"},
        {"to": "takedown_requested", "actor": "Rina"},
        {"to": "closed", "actor": "Rina", "resolution": "taken_down"},
    ):
        await call(komdigi, "POST", f"/v1/cases/{partner_case}/transitions", step)
    waiting = [await referral_to(pekalongan, await case_of(pekalongan, r), "komdigi") for r in new_reports]
    assert len((await referral_to(pekalongan, origin_case, "komdigi"))["updates"]) == 1
    running.nats.servers["exchange"].start()

    done = await updates_of(pekalongan, origin_case, "komdigi", 4)
    assert_in_order_once(done["updates"], 4)
    assert [u["state"] for u in done["updates"][1:]] == ["verifying", "takedown_requested", "closed"]
    assert done["partner_state"] == "closed"
    for sent in waiting:
        assert (await received(komdigi, sent["referral_id"]))["partner_agency"] == "bawaslu-3375"
    listed = (await call(komdigi, "GET", "/v1/referrals"))["referrals"]
    cases = {r["referral_id"]: r["case_id"] for r in listed}
    assert len(cases) == len(set(cases.values()))  # each referral opened one case, once


def assert_in_order_once(updates: list[dict[str, Any]], count: int) -> None:
    """The partner's numbering follows its case's history: rising, each number once."""
    sequences = [u["sequence"] for u in updates]
    assert len(sequences) == count and sequences == sorted(set(sequences)), sequences


async def _mail_to(sink: MailSink, recipient: str, needle: str) -> str | None:
    return _find_mail(sink, recipient, needle)


def _find_mail(sink: MailSink, recipient: str, needle: str) -> str | None:
    """The text of a mail to `recipient` containing `needle` (decoded, whatever the encoding)."""
    for path in sorted(Path(sink.directory).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if recipient not in str(message["To"]):
            continue
        text = "\n".join(
            part.get_content() for part in message.walk() if part.get_content_type() == "text/plain"
        )
        if needle in text:
            return text
    return None
