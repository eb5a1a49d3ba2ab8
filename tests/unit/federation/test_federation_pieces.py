"""The federation's pure parts: the table, where a case goes, what may cross, the server config."""

import json
from datetime import UTC, datetime
from importlib import resources
from uuid import uuid4

import pytest

from pantau_devstack.federation import LinkKey, agency_config, hub_config
from pantau_shared.contract import (
    FEDERATION_EVENTS,
    CaseOpened,
    CaseReferred,
    CategoryScore,
    PriorityLevel,
    Subjects,
    decode,
)
from pantau_shared.contract.taxonomy import Category
from pantau_shared.federation import FederationLink, FederationTable
from pantau_triage.federation.targets import targets
from tests.federation.conftest import TABLE_FILE

TABLE = FederationTable.load(TABLE_FILE)
EXAMPLES = resources.files("pantau_shared.contract").joinpath("examples")


def link(name: str) -> FederationLink:
    return FederationLink(Subjects(), TABLE, TABLE.instance(name))


def opened(categories: list[str], region: str = "33.75", routed_to: tuple[str, ...] = ()) -> CaseOpened:
    return CaseOpened(
        case_id=uuid4(),
        agency_id="bawaslu-3375",
        opened_at=datetime.now(UTC),
        first_report_id=uuid4(),
        region_code=region,
        categories=tuple(CategoryScore(category=Category(c), score=0.8, reason="r") for c in categories),
        priority=70,
        priority_level=PriorityLevel.HIGH,
        routed_to=routed_to,
    )


def test_routing_to_an_agency_elsewhere_is_a_referral_and_local_ones_are_not() -> None:
    found = targets(opened(["hoaks"], routed_to=("komdigi", "bawaslu-3374")), link("pekalongan"))
    # bawaslu-3374 runs on no instance of the table: it stays a local routing.
    assert [(t.agency, t.reason.value) for t in found] == [("komdigi", "routing")]


def test_a_locus_in_another_instances_regency_is_referred_as_locus() -> None:
    table = FederationTable.parse(
        TABLE_FILE.read_text() + '\n[[instance]]\nname = "batang"\nagencies = ["bawaslu-3325"]\n'
    )
    here = FederationLink(Subjects(), table, table.instance("pekalongan"))
    found = targets(opened(["politik_uang"], region="33.25", routed_to=("bawaslu-3325",)), here)
    assert [(t.agency, t.reason.value) for t in found] == [("bawaslu-3325", "locus")]


def test_escalation_rules_send_partisanship_up_to_the_province() -> None:
    found = targets(opened(["netralitas_asn"]), link("pekalongan"))
    assert [(t.agency, t.reason.value) for t in found] == [("bawaslu-33", "escalation")]
    # At the province itself the same rule names itself: nothing more to send.
    case = opened(["netralitas_asn"]).model_copy(update={"agency_id": "bawaslu-33"})
    assert targets(case, link("jateng")) == []


def test_the_table_refuses_an_agency_on_two_instances() -> None:
    with pytest.raises(ValueError, match="two instances"):
        FederationTable.parse(
            '[[instance]]\nname = "a1"\nagencies = ["x1"]\n[[instance]]\nname = "b1"\nagencies = ["x1"]\n'
        )


def test_no_field_of_a_federation_event_can_carry_a_reporter() -> None:
    for model in FEDERATION_EVENTS:
        text = json.dumps(model.model_json_schema())
        for word in ("reporter_id", "email", "phone", '"name"', "pseudonym", "contact"):
            assert word not in text, (model.TYPE, word)


def test_an_older_receiver_ignores_fields_a_newer_sender_adds() -> None:
    example = json.loads(EXAMPLES.joinpath("case.referred.v1.json").read_text("utf-8"))
    data = {**example["data"], "takedown_deadline": "2024-02-12T05:20:00Z", "urgency": "urgent"}
    envelope = decode(example["headers"], json.dumps(data).encode())
    assert isinstance(envelope.data, CaseReferred) and envelope.agency_id == "bawaslu-3375"
    assert "urgency" not in envelope.body().decode()


def test_the_exchange_config_exports_each_instance_only_what_is_addressed_to_its_partners() -> None:
    keys = {i.name: LinkKey.generate() for i in TABLE.instances}
    config = hub_config(TABLE, keys, Subjects(), port=1, leaf_port=2)
    komdigi = config[config.index("  KOMDIGI: {") : config.index("  JATENG: {")]
    assert "pantau.fed.v1.bawaslu-3375.>" in komdigi and "pantau.fed.v1.bawaslu-33.>" in komdigi
    assert "pantau.fed.v1.komdigi.>" in komdigi  # imports: what it may source
    assert "report" not in komdigi and "rpc" not in komdigi
    assert keys["komdigi"].seed not in config and keys["komdigi"].public in komdigi
    instance = agency_config(
        "komdigi", keys["komdigi"], port=3, store_dir="/tmp/js", exchange_url="nats-leaf://x:2"
    )
    assert "domain: komdigi" in instance and keys["komdigi"].seed in instance
