"""Sealed personal data: publishers seal to intake's public key, only intake's keys open it."""

import json
from datetime import UTC, datetime
from importlib import resources

import pytest
from pydantic import ValidationError

from pantau_shared.contract import Channel, ContactCard, Reporter, ReportSubmitted, decode, new_id
from pantau_shared.sealing import (
    DEV_PRIVATE_KEY,
    Keyring,
    Sealer,
    UnsealError,
    new_key_pair,
    open_report,
    public_key_of,
    seal_report,
)

REPORTER = Reporter(
    name="Budi Santoso", email="budi.santoso@contoh.id", phone="081234567890", wants_updates=True
)
CARD = ContactCard(name="Pak Bagi Amplop", phones=("6285711112222",), emails=("amplop@contoh.id",))
CLEAR = ("Budi", "Santoso", "budi.santoso", "081234567890", "1234567890", "Amplop@", "6285711112222")


def submission(**fields: object) -> ReportSubmitted:
    return ReportSubmitted.model_validate(
        {
            "report_id": str(new_id()),
            "agency_id": "bawaslu-3375",
            "channel": Channel.WHATSAPP,
            "submitted_at": datetime.now(UTC),
            "text": "Serangan fajar di Podosugih",
            "reporter": REPORTER,
            "contacts": [CARD],
        }
        | fields
    )


def test_a_sealed_submission_carries_no_contact_in_clear_and_intake_opens_it() -> None:
    private, public = new_key_pair()
    sealed = seal_report(submission(), Sealer(public))
    wire = sealed.model_dump_json()
    assert sealed.reporter is None and sealed.contacts == () and sealed.sealed_personal is not None
    for clear in CLEAR:
        assert clear.lower() not in wire.lower(), clear
    opened = open_report(ReportSubmitted.model_validate_json(wire), Keyring([private]))
    assert opened.reporter == REPORTER and opened.contacts == (CARD,) and opened.sealed_personal is None


def test_keys_rotate_any_key_of_the_keyring_opens_its_own_boxes() -> None:
    (old, old_public), (new, new_public) = new_key_pair(), new_key_pair()
    before, after = (
        seal_report(submission(), Sealer(old_public)),
        seal_report(submission(), Sealer(new_public)),
    )
    rotating = Keyring([new, old])
    assert open_report(before, rotating).reporter == open_report(after, rotating).reporter == REPORTER
    # Intake's own channels seal to the first key, the current one.
    assert rotating.sealer().key_id == Sealer(new_public).key_id
    assert public_key_of(new) == new_public
    with pytest.raises(UnsealError, match=f"key {Sealer(old_public).key_id}, which intake does not hold"):
        open_report(before, Keyring([new]))


def test_a_damaged_box_is_refused_naming_the_key_not_the_content() -> None:
    private, public = new_key_pair()
    sealed = seal_report(submission(), Sealer(public))
    assert sealed.sealed_personal is not None
    box = sealed.sealed_personal.box
    damaged = sealed.model_copy(
        update={"sealed_personal": sealed.sealed_personal.model_copy(update={"box": "A" + box[1:]})}
    )
    with pytest.raises(UnsealError, match="cannot be opened") as refused:
        open_report(damaged, Keyring([private]))
    assert "Budi" not in str(refused.value)


def test_a_resent_submission_keeps_its_event_id_though_each_sealing_differs() -> None:
    sealer = Sealer(new_key_pair()[1])
    report = submission()
    once, twice = seal_report(report, sealer), seal_report(report, sealer)
    assert once.sealed_personal != twice.sealed_personal
    assert once.event_id() == twice.event_id()


def test_a_contact_card_alone_is_a_report_sealed_and_opened() -> None:
    private, public = new_key_pair()
    cards_only = submission(text=None, reporter=None)
    opened = open_report(seal_report(cards_only, Sealer(public)), Keyring([private]))
    assert opened.contacts == (CARD,) and opened.text is None


def test_nothing_to_seal_is_published_as_it_is() -> None:
    plain = submission(reporter=None, contacts=[])
    assert seal_report(plain, Sealer(new_key_pair()[1])) is plain


def test_personal_data_is_sealed_or_in_clear_never_both() -> None:
    sealed = seal_report(submission(), Sealer(new_key_pair()[1]))
    with pytest.raises(ValidationError, match="tersegel atau terbuka"):
        ReportSubmitted.model_validate(sealed.model_dump() | {"reporter": REPORTER})


def test_the_golden_example_opens_with_the_development_key() -> None:
    example = json.loads(
        resources.files("pantau_shared.contract").joinpath("examples/report.submitted.v1.json").read_text()
    )
    envelope = decode(example["headers"], json.dumps(example["data"]).encode())
    assert isinstance(envelope.data, ReportSubmitted) and envelope.data.reporter is None
    opened = open_report(envelope.data, Keyring([DEV_PRIVATE_KEY]))
    assert opened.reporter == Reporter(phone="081234567890", wants_updates=True)


def test_a_submission_published_before_sealing_is_still_read() -> None:
    """Compatible within v1: messages already on a stream (or replayed dead letters) carry the
    reporter in clear, and intake reads them as before."""
    example = json.loads(
        resources.files("pantau_shared.contract").joinpath("examples/report.submitted.v1.json").read_text()
    )
    data = dict(example["data"])
    del data["sealed_personal"]
    data["reporter"] = {"phone": "081234567890", "wants_updates": True}
    envelope = decode(example["headers"], json.dumps(data).encode())
    assert isinstance(envelope.data, ReportSubmitted)
    assert open_report(envelope.data, Keyring([DEV_PRIVATE_KEY])).reporter == Reporter(
        phone="081234567890", wants_updates=True
    )


@pytest.mark.parametrize("key", ["", "abc", "AAAA", "a" * 44])
def test_a_key_that_is_not_32_bytes_of_base64_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="32 bytes in base64"):
        Sealer(key)
