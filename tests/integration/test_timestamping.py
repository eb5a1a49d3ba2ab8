"""RFC 3161 over HTTP against the local TSA: stamp, verify offline, and every refusal."""

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import tsp

from pantau_devstack.servers import free_port
from pantau_devstack.tsa import LocalTsa, Misbehaviour
from pantau_shared.timestamping import Timestamper, TimestampFailed, TimestampInvalid, parse, verify

DIGEST = hashlib.sha256(b"<html>Pilih nomor 3 atau desa tidak dapat bantuan</html>").hexdigest()


@pytest.fixture
async def tsa() -> AsyncIterator[LocalTsa]:
    async with LocalTsa(port=0) as running:
        yield running


@pytest.fixture
async def stamper(tsa: LocalTsa) -> AsyncIterator[Timestamper]:
    client = Timestamper(tsa.url, timeout_s=5)
    yield client
    await client.aclose()


async def test_a_stamp_over_http_verifies_offline_with_the_tsa_root(
    tsa: LocalTsa, stamper: Timestamper
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = await stamper.stamp(DIGEST)
    assert before - timedelta(seconds=1) <= stamp.time <= datetime.now(UTC)
    assert stamp.time.tzinfo is not None
    assert "Pantau Local TSA" in stamp.tsa
    assert stamp.serial > 0
    assert verify(stamp.token, DIGEST, [tsa.root_pem]) == stamp.time
    assert parse(stamp.token) == stamp
    assert tsa.requests == 1
    # The reply is kept as sent: a DER TimeStampResp whose token signs this very hash.
    response = tsp.TimeStampResp.load(stamp.token)
    info = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native.hex() == DIGEST
    assert info["nonce"].native is not None


async def test_two_stamps_of_one_hash_are_two_tokens(stamper: Timestamper) -> None:
    first, second = await stamper.stamp(DIGEST), await stamper.stamp(DIGEST)
    assert first.serial != second.serial
    assert first.token != second.token  # a fresh nonce each time


async def test_a_token_for_another_hash_is_refused(tsa: LocalTsa, stamper: Timestamper) -> None:
    stamp = await stamper.stamp(DIGEST)
    with pytest.raises(TimestampInvalid, match="hash lain"):
        verify(stamp.token, hashlib.sha256(b"foto yang diganti").hexdigest(), [tsa.root_pem])


async def test_a_token_from_an_untrusted_root_is_refused(stamper: Timestamper) -> None:
    stamp = await stamper.stamp(DIGEST)
    async with LocalTsa(port=0) as stranger:
        with pytest.raises(TimestampInvalid, match="akar TSA"):
            verify(stamp.token, DIGEST, [stranger.root_pem])


async def test_a_tampered_token_is_refused(tsa: LocalTsa, stamper: Timestamper) -> None:
    stamp = await stamper.stamp(DIGEST)
    # Move the TSA's time by a second inside the signed TSTInfo (GeneralizedTime ...Z).
    gen_time = stamp.time.strftime("%Y%m%d%H%M%S").encode()
    at = stamp.token.index(gen_time)
    later = (stamp.time + timedelta(seconds=1)).strftime("%Y%m%d%H%M%S").encode()
    tampered = stamp.token[:at] + later + stamp.token[at + len(later) :]
    assert tampered != stamp.token
    with pytest.raises(TimestampInvalid):
        verify(tampered, DIGEST, [tsa.root_pem])
    with pytest.raises(TimestampInvalid, match="tidak dapat dibaca"):
        verify(stamp.token[:200], DIGEST, [tsa.root_pem])


async def test_a_refusing_tsa_is_a_failure_to_retry(tsa: LocalTsa, stamper: Timestamper) -> None:
    tsa.refuse_next()
    with pytest.raises(TimestampFailed, match="refused"):
        await stamper.stamp(DIGEST)
    stamp = await stamper.stamp(DIGEST)  # and the next try succeeds
    assert verify(stamp.token, DIGEST, [tsa.root_pem]) == stamp.time


async def test_an_unreachable_tsa_is_a_failure_to_retry() -> None:
    stamper = Timestamper(f"http://127.0.0.1:{free_port()}/", timeout_s=2)
    try:
        with pytest.raises(TimestampFailed, match="unreachable"):
            await stamper.stamp(DIGEST)
    finally:
        await stamper.aclose()


async def test_the_tsa_kept_in_a_data_directory_signs_for_the_same_root_after_a_restart(
    tmp_path: Path,
) -> None:
    async with LocalTsa(port=0, data_dir=tmp_path / "tsa") as first:
        stamper = Timestamper(first.url)
        stamp = await stamper.stamp(DIGEST)
        await stamper.aclose()
        root = first.root_pem
    async with LocalTsa(port=0, data_dir=tmp_path / "tsa") as second:
        assert second.root_pem == root
        stamper = Timestamper(second.url)
        again = await stamper.stamp(DIGEST)
        await stamper.aclose()
    assert verify(stamp.token, DIGEST, [root]) == stamp.time
    assert verify(again.token, DIGEST, [root]) == again.time
    assert (tmp_path / "tsa" / "tsa-key.pem").stat().st_mode & 0o077 == 0


async def test_the_tsa_answers_only_timestamp_queries(tsa: LocalTsa, stamper: Timestamper) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        wrong_type = await http.post(tsa.url, content=b"x", headers={"Content-Type": "text/plain"})
        garbage = await http.post(
            tsa.url, content=b"x", headers={"Content-Type": "application/timestamp-query"}
        )
    assert wrong_type.status_code == 415
    assert garbage.headers["content-type"] == "application/timestamp-reply"
    # A rejection carries no token (which asn1crypto's TimeStampResp insists on): read its status.
    status = tsp.PKIStatusInfo.load(garbage.content[2:])
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {"bad_data_format"}


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        ("other_nonce", TimestampInvalid, "nonce"),
        ("other_hash", TimestampInvalid, "another hash"),
        ("oversized", TimestampFailed, "more than"),
    ],
)
async def test_a_reply_that_does_not_match_the_request_is_refused(
    tsa: LocalTsa, stamper: Timestamper, how: Misbehaviour, error: type[Exception], message: str
) -> None:
    tsa.misbehave_next(how)
    with pytest.raises(error, match=message):
        await stamper.stamp(DIGEST)


async def test_a_stamper_given_the_roots_checks_each_token_as_it_comes(tsa: LocalTsa) -> None:
    trusting = Timestamper(tsa.url, roots_pem=[tsa.root_pem])
    async with LocalTsa(port=0) as stranger:
        wary = Timestamper(stranger.url, roots_pem=[tsa.root_pem])
        try:
            stamp = await trusting.stamp(DIGEST)
            assert verify(stamp.token, DIGEST, [tsa.root_pem]) == stamp.time
            with pytest.raises(TimestampInvalid, match="akar TSA"):
                await wary.stamp(DIGEST)
        finally:
            await trusting.aclose()
            await wary.aclose()


async def test_a_token_that_does_not_name_its_signing_certificate_is_refused(
    tsa: LocalTsa, stamper: Timestamper
) -> None:
    # rfc3161-client alone accepts it; RFC 3161 requires the ESS signingCertificate attribute.
    tsa.misbehave_next("unbound")
    unbound = await stamper.stamp(DIGEST)  # imprint and nonce match: only verification can tell
    with pytest.raises(TimestampInvalid, match="atribut ESS"):
        verify(unbound.token, DIGEST, [tsa.root_pem])
