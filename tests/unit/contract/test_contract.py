import json
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest

from pantau_shared.contract import (
    EVENT_TYPES,
    CaseOpened,
    ContractError,
    Envelope,
    ReportSubmitted,
    Subjects,
    decode,
)
from pantau_shared.contract.documents import render

EXAMPLES = resources.files("pantau_shared.contract").joinpath("examples")
DOCS = Path(__file__).parents[3] / "docs" / "contract"


def load_examples() -> dict[str, dict]:
    return {
        p.name.removesuffix(".json"): json.loads(p.read_text("utf-8"))
        for p in EXAMPLES.iterdir()
        if p.name.endswith(".json") and p.is_file()
    }


def test_every_event_type_has_a_golden_example() -> None:
    assert set(load_examples()) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_golden_example_decodes_to_its_model_and_subject(event_type: str) -> None:
    example = load_examples()[event_type]
    envelope = decode(example["headers"], json.dumps(example["data"]).encode())
    assert isinstance(envelope.data, EVENT_TYPES[event_type])
    assert envelope.type == event_type
    assert envelope.data.address(Subjects()) == example["subject"]
    # Re-encoding gives the same data: the example is a fixed point of the contract.
    assert json.loads(envelope.body()) == example["data"]


def test_committed_schemas_and_asyncapi_match_the_models() -> None:
    committed = {str(p.relative_to(DOCS)): p.read_text("utf-8") for p in DOCS.rglob("*.json")}
    assert committed == render(), (
        "docs/contract is stale: run `python -m pantau_shared.contract write docs/contract`"
    )


def test_asyncapi_has_a_channel_per_event_with_agency_in_the_address() -> None:
    document = json.loads(render()["asyncapi.json"])
    assert document["asyncapi"].startswith("3.")
    addresses = {
        c["address"] for c in document["channels"].values() if ".rpc." not in (c["address"] or ".rpc.")
    }
    assert "{root}.v1.{agency}.report.submitted" in addresses
    assert len(addresses) == len(EVENT_TYPES)


def test_consumers_ignore_fields_added_later_in_the_same_major_version() -> None:
    example = load_examples()["case.opened.v1"]
    data = dict(example["data"], reach_estimate=12000)
    envelope = decode(example["headers"], json.dumps(data).encode())
    assert isinstance(envelope.data, CaseOpened)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h, d: h.pop("ce-type"), "unknown event type"),
        (lambda h, d: h.update({"ce-type": "report.exploded.v9"}), "unknown event type"),
        (lambda h, d: h.update({"ce-specversion": "0.3"}), "ce-specversion"),
        (lambda h, d: h.pop("ce-id"), "missing header ce-id"),
        (lambda h, d: h.update({"ce-time": "yesterday"}), "invalid header"),
        (lambda h, d: d.update({"channel": "pigeon"}), "invalid report.submitted.v1 data"),
        (lambda h, d: d.update({"submitted_at": "2024-02-12T08:00:00"}), "UTC offset"),
        (lambda h, d: d.update({"agency_id": "Bawaslu Pusat"}), "invalid report.submitted.v1"),
    ],
)
def test_messages_that_break_the_contract_are_refused_with_the_reason(mutate, message) -> None:
    example = load_examples()["report.submitted.v1"]
    headers, data = dict(example["headers"]), dict(example["data"])
    mutate(headers, data)
    with pytest.raises(ContractError, match=message):
        decode(headers, json.dumps(data).encode())


def test_malformed_json_is_a_contract_error() -> None:
    headers = load_examples()["report.submitted.v1"]["headers"]
    with pytest.raises(ContractError):
        decode(headers, b"{not json")


def test_envelope_headers_carry_cloudevents_attributes_and_dedup_id() -> None:
    example = load_examples()["report.submitted.v1"]
    data = ReportSubmitted.model_validate(example["data"])
    envelope = Envelope(data=data, source="/pantau/gateway", agency_id=data.agency_id)
    headers = envelope.headers()
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-type"] == "report.submitted.v1"
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == str(envelope.id)
    assert headers["ce-subject"] == str(data.report_id)
    assert datetime.fromisoformat(headers["ce-time"]).tzinfo is not None


def test_subjects_put_version_and_agency_first() -> None:
    subjects = Subjects("pantau")
    assert subjects.event("bawaslu-3375", "case.opened") == "pantau.v1.bawaslu-3375.case.opened"
    assert subjects.rpc("bawaslu-3375", "case.get") == "pantau.rpc.v1.bawaslu-3375.case.get"
    assert Subjects.agency_of("pantau.rpc.v1.bawaslu-3375.case.get") == "bawaslu-3375"
    assert Subjects.agency_of("pantau.v1.komdigi.report.received") == "komdigi"
    assert subjects.stream("REPORTS") == "PANTAU_REPORTS"
