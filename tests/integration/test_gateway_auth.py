"""Key revocation across gateway instances and the failed-authentication limit, against real
NATS, PostgreSQL and Redis."""

import argparse
import asyncio
import time
from typing import Any
from unittest.mock import patch

from fastapi.testclient import TestClient

from pantau_gateway.app import create_app
from pantau_gateway.commands import revoke_key
from pantau_gateway.ratelimit import RateLimiter
from pantau_gateway.settings import GatewaySettings
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.redis import create_redis
from pantau_shared.settings import PlatformSettings
from tests.integration.test_gateway import is_problem, issue_key
from tests.waiting import eventually

# Long enough that only the announcement over NATS can explain a refusal within 1 s.
SETTINGS = GatewaySettings(default_rate_limit=1000, key_cache_s=300, auth_failure_limit=5)
# Waiting for the refusal sends a wrong key many times: not the failed-authentication limit's test.
PATIENT = SETTINGS.model_copy(update={"auth_failure_limit": 10_000})


async def revoke(platform: PlatformSettings, key: str) -> None:
    """What `pantau-gateway revoke-key --key-id ...` runs, on the admin command's connections."""
    infra = await Infrastructure.connect(platform, SETTINGS, service="gateway", schema="gateway")
    try:
        await revoke_key(infra, SETTINGS, argparse.Namespace(key_id=key.split("_")[1]))
    finally:
        await infra.close()


def test_a_revoked_key_is_refused_by_every_instance_within_a_second(
    platform: PlatformSettings, agency: str
) -> None:
    with (
        TestClient(
            create_app(platform, PATIENT), raise_server_exceptions=False, client=("192.0.2.10", 1)
        ) as first,
        TestClient(
            create_app(platform, PATIENT), raise_server_exceptions=False, client=("192.0.2.11", 1)
        ) as second,
    ):
        key = issue_key(platform, agency)  # once the apps have migrated the database
        headers = {"X-API-Key": key}
        instances = (first, second)
        for instance in instances:  # each instance now has the key in its cache
            assert instance.post("/v1/reports", json={"text": "sebelum"}, headers=headers).status_code == 202
        asyncio.run(revoke(platform, key))
        revoked_at = time.monotonic()

        async def refused_everywhere() -> bool:
            answers = [i.post("/v1/reports", json={"text": "sesudah"}, headers=headers) for i in instances]
            return all(answer.status_code == 401 for answer in answers)

        asyncio.run(eventually(refused_everywhere, timeout=1.0, what="revoked key refused on both instances"))
        print(f"revoked key refused on both instances after {time.monotonic() - revoked_at:.3f}s")
        for instance in instances:
            is_problem(instance.post("/v1/reports", json={"text": "lagi"}, headers=headers), 401)


def test_repeated_failed_authentication_from_one_address_is_limited(
    platform: PlatformSettings, agency: str
) -> None:
    with (
        TestClient(
            create_app(platform, SETTINGS), raise_server_exceptions=False, client=("203.0.113.7", 40000)
        ) as attacker,
        TestClient(
            create_app(platform, SETTINGS), raise_server_exceptions=False, client=("198.51.100.9", 40000)
        ) as other,
    ):
        good = {"X-API-Key": issue_key(platform, agency)}
        wrong = {"X-API-Key": good["X-API-Key"][:-4] + "salh"}
        # The right key is verified once, so the attacker's instance answers it from its cache.
        assert attacker.post("/v1/reports", json={"text": "sah"}, headers=good).status_code == 202
        for _ in range(SETTINGS.auth_failure_limit):
            is_problem(attacker.post("/v1/reports", json={"text": "coba"}, headers=wrong), 401)
        limited = attacker.post("/v1/reports", json={"text": "coba"}, headers=wrong)
        assert "per menit dari alamat ini" in is_problem(limited, 429)["detail"]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Once limited, the address cannot try keys at all, a right one included (even one its
        # instance has verified a moment ago).
        blocked = attacker.post("/v1/reports", json={"text": "coba"}, headers=good)
        is_problem(blocked, 429)
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        # Another address with a valid key is unaffected.
        assert other.post("/v1/reports", json={"text": "laporan sah"}, headers=good).status_code == 202


async def test_concurrent_requests_share_round_trips_and_each_gets_its_own_count(
    platform: PlatformSettings, agency: str
) -> None:
    """40 requests at once on a key allowed 25 a minute: exactly 15 refused, whichever round
    trips the counts went in; the failed-key count read alongside is the address's own."""
    redis = create_redis(platform.redis_url, service="test")
    limiter = RateLimiter(redis, prefix=platform.subject_root, auth_failure_limit=3)
    sent: list[int] = []
    execute = redis.pipeline().__class__.execute

    async def counting(pipe: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(len(pipe.command_stack))
        return await execute(pipe, *args, **kwargs)

    try:
        for _ in range(3):
            await limiter.failed_auth(f"192.0.2.9-{agency}")
        with patch.object(type(redis.pipeline()), "execute", counting):
            outcomes = await asyncio.gather(
                *(limiter.hit_verified(f"{agency}-key", 25, f"192.0.2.{i % 2}-{agency}") for i in range(40)),
                limiter.hit_verified(f"{agency}-other", 25, f"192.0.2.9-{agency}"),
            )
        *ours, other = outcomes
        assert sum(1 for _, retry_after in ours if retry_after is not None) == 15
        assert all(blocked is None for blocked, _ in ours)
        assert other[0] is not None and other[1] is None
        # A read per address (three), an increment and an expiry per key (two): one round trip.
        assert sent == [3 + 2 * 2]
    finally:
        await redis.aclose()
