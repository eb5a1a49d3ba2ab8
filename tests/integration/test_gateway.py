"""The HTTP API against real NATS, PostgreSQL and Redis (no other service running)."""

import asyncio
import json
import re
from collections.abc import Iterator

import asyncpg
import nats
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pantau_devstack.whatsapp_cloud import combine, encode, message, sign, text_message
from pantau_gateway import auth, direct, repository
from pantau_gateway.app import create_app
from pantau_gateway.settings import GatewaySettings
from pantau_shared.contract import Subjects
from pantau_shared.links import ack_token, case_token
from pantau_shared.settings import PlatformSettings

SETTINGS = GatewaySettings(max_body_bytes=4096, default_rate_limit=1000)
SUPERVISOR = repository.Grant(("supervisor",))


@pytest.fixture
def client(platform: PlatformSettings) -> Iterator[TestClient]:
    with TestClient(create_app(platform, SETTINGS), raise_server_exceptions=False) as client:
        yield client


async def create_key(
    platform: PlatformSettings,
    agency: str,
    rate_limit: int | None = None,
    grant: repository.Grant = SUPERVISOR,
) -> str:
    """An API key of a new (or existing) agency, as `pantau-gateway add-key` makes one (a
    supervisor's unless `grant` says otherwise)."""
    pool = await asyncpg.create_pool(
        platform.database_url, min_size=1, max_size=1, server_settings={"search_path": "gateway"}
    )
    try:
        await repository.upsert_agency(pool, agency, "Bawaslu Uji", "bawaslu", "33.75")
        key_id, secret, whole = auth.new_key()
        pepper = SETTINGS.api_key_pepper.get_secret_value().encode()
        await repository.insert_key(
            pool, key_id, agency, auth.secret_hash(pepper, secret), "test", rate_limit, grant
        )
        return whole
    finally:
        await pool.close()


def issue_key(platform: PlatformSettings, agency: str, rate_limit: int | None = None) -> str:
    return asyncio.run(create_key(platform, agency, rate_limit))


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and "detail" in body
    return body


def test_reports_need_a_valid_key(client: TestClient) -> None:
    body = {"text": "Hoaks surat suara"}
    is_problem(client.post("/v1/reports", json=body), 401)
    is_problem(client.post("/v1/reports", json=body, headers={"X-API-Key": "pk_nope_nope"}), 401)
    is_problem(client.post("/v1/reports", json=body, headers={"Authorization": "Bearer not-a-key"}), 401)


def test_bad_bodies_get_problem_details_and_nothing_is_queued(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency)}
    malformed = client.post(
        "/v1/reports", content=b"{not json", headers={**key, "content-type": "application/json"}
    )
    is_problem(malformed, 422)
    wrong_type = is_problem(client.post("/v1/reports", json={"text": 12345}, headers=key), 422)
    assert wrong_type["errors"][0]["location"] == ["body", "text"]
    is_problem(client.post("/v1/reports", json={"region_code": "33.75"}, headers=key), 422)
    too_big = client.post("/v1/reports", json={"text": "x" * 5000}, headers=key)
    assert is_problem(too_big, 413)["detail"].endswith("4096 byte")
    assert queued(platform, agency) == []


def queued(platform: PlatformSettings, agency: str) -> list[dict]:
    async def read() -> list[dict]:
        nc = await nats.connect(platform.nats_url)
        js = nc.jetstream()
        subjects = Subjects(platform.subject_root)
        sub = await js.pull_subscribe(
            subjects.event(agency, "report.submitted"), stream=subjects.stream("REPORTS")
        )
        found = []
        try:
            while True:
                found += [
                    json.loads(m.data) | {"_headers": m.headers} for m in await sub.fetch(50, timeout=0.5)
                ]
        except (TimeoutError, nats.errors.TimeoutError):
            pass
        await nc.close()
        return found

    return asyncio.run(read())


def test_an_accepted_report_is_queued_once_per_idempotency_key(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    headers = {
        "X-API-Key": issue_key(platform, agency),
        "Idempotency-Key": "laporan-42",
        "X-Request-ID": "req-abc",
    }
    body = {"text": "Amplop 100 ribu", "url": "https://fb.com/1", "region_code": "33.75"}
    first = client.post("/v1/reports", json=body, headers=headers)
    again = client.post("/v1/reports", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["report_id"] == again.json()["report_id"]
    assert first.headers["location"] == f"/v1/reports/{first.json()['report_id']}"
    assert first.headers["x-request-id"] == "req-abc"
    messages = queued(platform, agency)
    assert len(messages) == 1
    assert messages[0]["agency_id"] == agency
    assert messages[0]["_headers"]["ce-type"] == "report.submitted.v1"
    assert messages[0]["_headers"]["traceparent"].startswith("00-")


def test_a_submission_answered_before_routing_is_answered_as_the_route_answers(
    client: TestClient, platform: PlatformSettings, agency: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`direct.DirectReports` takes the X-API-Key submission; the same key as a bearer token goes
    to the route. Same Idempotency-Key, so the same report: the two answers must be identical
    but for the request id, and the report queued once."""
    taken: list[str] = []
    authorize = direct.authorize

    async def counted(request, *args):  # type: ignore[no-untyped-def]
        taken.append(request.url.path)
        return await authorize(request, *args)

    monkeypatch.setattr(direct, "authorize", counted)
    key = issue_key(platform, agency)
    body = {"text": "Amplop 50 ribu", "url": "https://fb.com/2", "region_code": "33.75"}
    ahead = client.post("/v1/reports", json=body, headers={"X-API-Key": key, "Idempotency-Key": "sama"})
    assert taken == ["/v1/reports"]
    routed = client.post(
        "/v1/reports", json=body, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "sama"}
    )
    assert taken == ["/v1/reports"]
    assert ahead.status_code == routed.status_code == 202
    assert ahead.content == routed.content

    def answered(response) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        return [(k, v) for k, v in response.headers.items() if k != "x-request-id"]

    assert answered(ahead) == answered(routed)
    assert len(queued(platform, agency)) == 1
    # A body the model refuses goes on to the route, which words the refusal.
    refused = is_problem(client.post("/v1/reports", json={"reach": -1}, headers={"X-API-Key": key}), 422)
    assert refused["instance"] == "/v1/reports" and taken == ["/v1/reports"]


def test_the_callers_trace_is_continued_onto_the_bus_and_a_new_one_started_otherwise(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    """Without an exporter the server span is `middleware.ServerSpan`'s: what is published
    carries the caller's trace id, or a fresh one per request."""
    key = {"X-API-Key": issue_key(platform, agency)}
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    caller = {**key, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    assert client.post("/v1/reports", json={"text": "satu"}, headers=caller).status_code == 202
    assert client.post("/v1/reports", json={"text": "dua"}, headers=key).status_code == 202
    assert client.post("/v1/reports", json={"text": "tiga"}, headers=key).status_code == 202
    parents = {m["text"]: m["_headers"]["traceparent"].split("-") for m in queued(platform, agency)}
    assert parents["satu"][1] == trace_id and parents["satu"][2] != "00f067aa0ba902b7"
    assert len({parents[t][1] for t in ("satu", "dua", "tiga")}) == 3


def test_keys_are_rate_limited_across_requests(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency, rate_limit=3)}
    statuses = [
        client.post("/v1/reports", json={"text": f"laporan {i}"}, headers=key).status_code for i in range(4)
    ]
    assert statuses[:3] == [202, 202, 202]
    limited = client.post("/v1/reports", json={"text": "lagi"}, headers=key)
    is_problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_reads_say_when_the_owning_service_is_not_running(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency)}
    response = client.get("/v1/cases/018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91", headers=key)
    is_problem(response, 503)
    is_problem(client.get("/v1/cases/not-a-uuid", headers=key), 422)


def test_health_request_ids_and_openapi(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"nats": "ok", "postgres": "ok", "redis": "ok"}
    assert client.get("/healthz").headers["x-request-id"]
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/reports",
        "/v1/reports/{report_id}",
        "/v1/cases/{case_id}",
        "/v1/cases/{case_id}/notifications",
    } <= set(spec["paths"])


@pytest.mark.parametrize("docs", ["/docs", "/redoc"])
def test_api_docs_need_nothing_from_outside_the_gateway(client: TestClient, docs: str) -> None:
    page = client.get(docs)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # Agency networks are often closed: a CDN link would leave a blank page.
    assert "://" not in page.text.replace("window.location.origin", "")
    assets = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']""", page.text)
    assert len(assets) >= 2
    for asset in assets:
        assert asset.startswith("/"), asset
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 0, asset
    if docs == "/docs":
        assert '"validatorUrl": null' in page.text
        script = client.get("/static-offline-docs/swagger-ui-bundle.js")
        assert "javascript" in script.headers["content-type"] and b"SwaggerUIBundle" in script.content


def is_indonesian_page(response, status: int, *words: str) -> str:
    """A page a person reads in a browser: HTML in Indonesian, never JSON."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<html lang='id'>" in response.text
    for word in words:
        assert word in response.text
    for english in ("not valid", "invalid", "error", "detail", "unknown"):
        assert english not in response.text.lower()
    return response.text


def test_ack_links_open_a_confirmation_page_only_with_a_valid_token(
    client: TestClient, platform: PlatformSettings
) -> None:
    delivery, case = "018d9a1e-3c80-7c3b-8c1e-5f2a6b7c8d92", "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91"
    secret = platform.ack_link_secret.get_secret_value().encode()
    token = ack_token(secret, "bawaslu-3375", delivery, case)
    # Triage is not running here: the page still names the case by its number.
    page = client.get(f"/ack/bawaslu-3375/{delivery}", params={"c": case, "t": token})
    is_indonesian_page(page, 200, "Saya tangani kasus ini", "Nomor kasus: 018D9A1E")
    for bad in (
        client.get(f"/ack/bawaslu-1771/{delivery}", params={"c": case, "t": token}),
        client.get(f"/ack/bawaslu-3375/{delivery}", params={"c": delivery, "t": token}),
        client.get(f"/ack/bawaslu-3375/{delivery}", params={"c": case}),
        client.get("/ack/bawaslu-3375/not-a-uuid", params={"c": case, "t": token}),
        client.post(f"/ack/bawaslu-3375/{delivery}", data={"c": case, "t": "0" * 32, "actor": "x"}),
        client.post(f"/ack/bawaslu-3375/{delivery}", data={"actor": "x"}),
    ):
        is_indonesian_page(bad, 403, "Tautan tidak berlaku")
    nameless = client.post(f"/ack/bawaslu-3375/{delivery}", data={"c": case, "t": token, "actor": " "})
    is_indonesian_page(nameless, 422, "Tuliskan nama Anda")
    # A valid link while notify is down: the person is told, nothing is recorded.
    down = client.post(f"/ack/bawaslu-3375/{delivery}", data={"c": case, "t": token, "actor": "Siti"})
    is_indonesian_page(down, 503, "Konfirmasi gagal")


def test_case_links_open_a_page_only_with_a_valid_token(
    client: TestClient, platform: PlatformSettings
) -> None:
    case = "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91"
    token = case_token(platform.ack_link_secret.get_secret_value().encode(), "bawaslu-3375", case)
    # Valid, but triage is not running: said in Indonesian, in a page.
    is_indonesian_page(
        client.get(f"/kasus/bawaslu-3375/{case}", params={"t": token}), 503, "Kasus tidak dapat ditampilkan"
    )
    for bad in (
        client.get(f"/kasus/bawaslu-1771/{case}", params={"t": token}),
        client.get(f"/kasus/bawaslu-3375/{case}", params={"t": "0" * 32}),
        client.get(f"/kasus/bawaslu-3375/{case}"),
        client.get("/kasus/bawaslu-3375/not-a-uuid", params={"t": token}),
    ):
        is_indonesian_page(bad, 403, "Tautan tidak berlaku")


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"text": "a\u0000b"}, "text", "NUL"),
        ({"text": "uji", "region_code": ""}, "region_code", "kode wilayah Kemendagri"),
        ({"url": "javascript://x.com/%0aalert(1)"}, "url", "alamat web publik"),
        ({"url": "file:///etc/passwd"}, "url", "alamat web publik"),
        ({"text": "uji", "url": "http://127.0.0.1:8080/"}, "url", "alamat web publik"),
        ({"region_code": "33.75"}, "body", "laporan harus berisi teks, tautan, atau keduanya"),
    ],
)
def test_what_intake_would_refuse_gets_a_problem_and_nothing_is_queued(
    client: TestClient, platform: PlatformSettings, agency: str, body: dict, field: str, words: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency)}
    problem = is_problem(client.post("/v1/reports", json=body, headers=key), 422)
    assert words in problem["detail"]
    assert problem["errors"][0]["location"][-1] == field
    assert client.post("/v1/reports", json={"text": "uji lagi"}, headers=key).status_code == 202
    assert [m["text"] for m in queued(platform, agency)] == ["uji lagi"]


def test_a_chunked_body_over_the_limit_gets_413(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency), "content-type": "application/json"}

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    is_problem(client.post("/v1/reports", content=chunks(), headers=key), 413)
    small = client.post("/v1/reports", content=iter([b'{"text": ', b'"kecil"}']), headers=key)
    assert small.status_code == 202, small.text


def test_a_whatsapp_message_intake_would_refuse_is_skipped_and_the_rest_queued(
    platform: PlatformSettings, agency: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = b"uji-app-secret"
    settings = SETTINGS.model_copy(
        update={"whatsapp_app_secret": SecretStr(secret.decode()), "whatsapp_verify_token": SecretStr("v")}
    )
    bad, good = (
        text_message("6281234567890", "a\u0000b"),
        text_message("6281234567890", "Amplop, lihat http://localhost/x"),
    )
    payload = combine(bad, good)
    raw = encode(payload)
    with TestClient(create_app(platform, settings), raise_server_exceptions=False) as wa:
        issue_key(platform, agency)  # creates the agency
        response = wa.post(
            f"/webhooks/whatsapp/{agency}",
            content=raw,
            headers={"content-type": "application/json", "x-hub-signature-256": sign(secret, raw)},
        )
    assert response.status_code == 200, response.text
    [stored] = queued(platform, agency)
    assert stored["text"] == "Amplop, lihat http://localhost/x" and stored["url"] is None
    assert any("skipped" in r.getMessage() for r in caplog.records)


def test_whatsapp_log_lines_name_messages_not_senders(
    platform: PlatformSettings, agency: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret, phone, name = b"uji-app-secret", "6281298765432", "Siti Pelapor Rahasia"
    settings = SETTINGS.model_copy(
        update={"whatsapp_app_secret": SecretStr(secret.decode()), "whatsapp_verify_token": SecretStr("v")}
    )
    unreadable = text_message(phone, "a\u0000b 6281298765432", wamid="wamid.NUL", name=name)
    reaction = message(
        phone, "reaction", {"message_id": "wamid.X", "emoji": "👍"}, wamid="wamid.R", name=name
    )
    empty = message(phone, "button", {"payload": "p", "text": ""}, wamid="wamid.E", name=name)
    raw = encode(combine(unreadable, reaction, empty))
    caplog.set_level("INFO")
    with TestClient(create_app(platform, settings), raise_server_exceptions=False) as wa:
        issue_key(platform, agency)
        response = wa.post(
            f"/webhooks/whatsapp/{agency}",
            content=raw,
            headers={"content-type": "application/json", "x-hub-signature-256": sign(secret, raw)},
        )
    assert response.status_code == 200, response.text
    assert queued(platform, agency) == []
    lines = [r.getMessage() for r in caplog.records if "WhatsApp" in r.getMessage()]
    for wamid in ("wamid.NUL", "wamid.R", "wamid.E"):
        assert any(wamid in line for line in lines), (wamid, lines)
    for line in lines:
        assert phone[:6] not in line and phone[-4:] not in line and "Siti" not in line, line


def test_bulk_reports_are_each_validated_and_acknowledged_and_a_resent_batch_stores_nothing_twice(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency)}
    reports = [{"text": f"Amplop di TPS {i}", "region_code": "33.75", "key": f"post-{i}"} for i in range(300)]
    reports[7] = {"text": 12345}  # invalid: the others still go
    reports[8] = {"text": "Baliho di jembatan"}  # no key: its content is its identity
    body = {"reports": reports}
    first = client.post("/v1/reports:batch", json=body, headers=key)
    assert first.status_code == 200
    answer = first.json()
    assert (answer["accepted"], answer["invalid"], answer["retry"]) == (299, 1, 0)
    assert [item["index"] for item in answer["items"]] == list(range(300))
    bad = answer["items"][7]
    assert bad["status"] == "invalid" and bad["errors"][0]["location"] == ["reports", "7", "text"]
    again = client.post("/v1/reports:batch", json=body, headers=key).json()
    assert [i["report_id"] for i in again["items"]] == [i["report_id"] for i in answer["items"]]
    messages = queued(platform, agency)
    assert len(messages) == 299  # the resent batch was dropped as duplicates
    assert {m["report_id"] for m in messages} == {i["report_id"] for i in answer["items"] if i["report_id"]}


def test_a_bulk_request_over_the_limit_is_refused(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency)}
    too_many = client.post("/v1/reports:batch", json={"reports": [{"text": "x"}] * 1001}, headers=key)
    is_problem(too_many, 422)
    assert queued(platform, agency) == []


def test_every_operation_documents_its_problems_as_problem_json(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "403", "404", "409", "413", "422", "429", "503"):
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
    report = spec["components"]["schemas"]["ReportIn"]
    assert [option["required"] for option in report["anyOf"]] == [["text"], ["url"]]


# Words that give English away; none is an Indonesian word.
ENGLISH = re.compile(
    r"\b(the|is|are|a|an|of|to|for|and|not|must|should|field|required|value|error|input|"
    r"unknown|missing|request|body|please|try|again|could|found|with|this|that|be|"
    r"exceeds|bytes|more|than|than|too|allowed|method|string|integer|parse|parsing)\b",
    re.IGNORECASE,
)
INDONESIAN = re.compile(r"\b(tidak|harus|wajib|kunci|laporan|permintaan|coba|berupa|paling|isi|atau)\b")


def in_indonesian(problem: dict) -> None:
    texts = [problem["title"], problem["detail"], *(e["message"] for e in problem.get("errors") or [])]
    for text in texts:
        # Ids, field names and header names are not words: drop what looks like an identifier.
        words = re.sub(r"[\w.-]*[_\d/:-][\w./:-]*|X-API-Key|X-Hub-Signature-256|UUID|JSON", " ", text)
        assert not ENGLISH.search(words), text
    assert INDONESIAN.search(problem["detail"]), problem["detail"]


def test_every_problem_the_api_returns_is_in_indonesian(
    client: TestClient, platform: PlatformSettings, agency: str
) -> None:
    key = {"X-API-Key": issue_key(platform, agency)}
    limited = {"X-API-Key": issue_key(platform, agency, rate_limit=1)}
    client.post("/v1/reports", json={"text": "satu"}, headers=limited)
    case = "/v1/cases/018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91"
    answers = [
        (401, client.post("/v1/reports", json={"text": "x"})),
        (401, client.post("/v1/reports", json={"text": "x"}, headers={"X-API-Key": "pk_a_b"})),
        (404, client.get("/v1/tidak-ada", headers=key)),
        (405, client.delete("/v1/reports", headers=key)),
        (413, client.post("/v1/reports", json={"text": "x" * 5000}, headers=key)),
        (413, client.post("/v1/reports", content=iter([b"x" * 5000]), headers=key)),
        (429, client.post("/v1/reports", json={"text": "dua"}, headers=limited)),
        (503, client.get(case, headers=key)),
    ]
    invalid_bodies = [
        b"{bukan json",
        json.dumps({"text": 12345}).encode(),
        json.dumps({"region_code": "33.75"}).encode(),
        json.dumps({"text": "a\u0000b", "tambahan": 1}).encode(),
        json.dumps({"text": "x", "reach": -1, "channel": "fax", "reporter": {"email": "x"}}).encode(),
        json.dumps({"text": "x", "reach": "12", "reporter": {"wants_updates": 0}}).encode(),
        json.dumps({"url": "javascript:alert(1)", "region_code": ""}).encode(),
        json.dumps([1, 2]).encode(),
    ]
    for raw in invalid_bodies:
        headers = {**key, "content-type": "application/json"}
        answers.append((422, client.post("/v1/reports", content=raw, headers=headers)))
    answers.append((422, client.get("/v1/cases/bukan-uuid", headers=key)))
    answers.append((422, client.post(f"{case}/transitions", json={"to": "x", "actor": " "}, headers=key)))
    answers.append((422, client.post("/v1/claims", json={"claims": [{"claim_id": ""}]}, headers=key)))
    for status, response in answers:
        in_indonesian(is_problem(response, status))
