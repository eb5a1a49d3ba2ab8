import pytest
from pydantic import ValidationError

from pantau_gateway import auth
from pantau_gateway.handlers import ReportIn
from pantau_shared.bus import retry_delay


def test_keys_split_into_id_and_secret_and_reject_other_shapes() -> None:
    key_id, secret, whole = auth.new_key()
    assert auth.split_key(whole) == (key_id, secret)
    for bad in ("", "pk__x", "sk_abc_def", "pk_abc", "Bearer pk_abc_def"):
        assert auth.split_key(bad) is None


def test_secret_hash_depends_on_pepper() -> None:
    assert auth.secret_hash(b"a" * 16, "s") != auth.secret_hash(b"b" * 16, "s")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": "   "},
        {"url": "bukan alamat"},
        {"text": "x", "region_code": "Jawa Tengah"},
        {"text": "x", "unknown": 1},
        {"text": "x" * 20_001},
    ],
)
def test_report_bodies_without_content_or_with_bad_fields_are_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        ReportIn.model_validate(body)


def test_a_link_alone_or_text_alone_is_a_report() -> None:
    assert ReportIn.model_validate({"url": "facebook.com/groups/1/posts/2"}).url
    assert ReportIn.model_validate({"text": "Hoaks surat suara tercoblos", "region_code": "33.75"})


def test_retry_delays_grow_and_stay_bounded() -> None:
    for delivery in range(1, 12):
        ceiling = min(60.0, 0.5 * 2 ** (delivery - 1))
        assert ceiling / 2 <= retry_delay(delivery) <= ceiling


@pytest.mark.parametrize("email", ["budi\x00@contoh.id", "budi@contoh.id\x1b", "\x7fbudi@contoh.id"])
def test_typed_in_fields_refuse_control_characters_that_postgresql_cannot_store(email: str) -> None:
    # A NUL in a sign-in email reached PostgreSQL and came back as a 500 (found by schemathesis).
    from pydantic import ValidationError

    from pantau_gateway.admin import KeyIn, UserIn
    from pantau_gateway.signin import Credentials

    with pytest.raises(ValidationError, match="karakter kendali"):
        Credentials.model_validate({"email": email, "password": "rahasia"})
    with pytest.raises(ValidationError, match="pattern"):
        UserIn.model_validate({"email": email, "name": "Budi", "password": "x" * 12, "roles": ["patrol"]})
    with pytest.raises(ValidationError, match="karakter kendali"):
        UserIn.model_validate(
            {"email": "budi@contoh.id", "name": "Bu\x00di", "password": "x" * 12, "roles": ["patrol"]}
        )
    with pytest.raises(ValidationError, match="karakter kendali"):
        KeyIn.model_validate({"label": "kunci\x00", "roles": ["patrol"]})
    assert (
        Credentials.model_validate({"email": "budi@contoh.id", "password": "rahasia"}).email
        == "budi@contoh.id"
    )
