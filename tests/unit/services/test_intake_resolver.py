"""The evidence fetcher's name lookups: one question per name per few seconds, failures too,
with a clock the test moves (nothing here waits on time)."""

import asyncio
import ipaddress

import pytest

from pantau_intake.evidence.resolver import CachedResolver
from pantau_shared.fetching import FetchFailed, IPAddress
from tests.waiting import eventually


class Dns:
    """Answers from a table; a name it lacks does not resolve. Counts the questions."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        await self.gate.wait()
        if host not in self.table:
            raise FetchFailed(f"{host} does not resolve: [Errno -2] Name or service not known")
        return [ipaddress.ip_address(self.table[host])]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_an_answer_is_kept_a_few_seconds_then_asked_again() -> None:
    dns, clock = Dns({"www.facebook.com": "157.240.1.35"}), Clock()
    resolve = CachedResolver(dns, ttl_s=5.0, clock=clock)
    first = await resolve("www.facebook.com", 443)
    clock.now += 4.9
    assert await resolve("WWW.facebook.com", 443) == first == [ipaddress.ip_address("157.240.1.35")]
    assert dns.asked == [("www.facebook.com", 443)]
    await resolve("www.facebook.com", 80)  # another port is another question
    clock.now += 0.2
    dns.table["www.facebook.com"] = "157.240.1.36"  # the name moved
    assert await resolve("www.facebook.com", 443) == [ipaddress.ip_address("157.240.1.36")]
    assert len(dns.asked) == 3


async def test_a_name_that_does_not_resolve_fails_every_caller_until_it_is_asked_again() -> None:
    dns, clock = Dns({}), Clock()
    resolve = CachedResolver(dns, ttl_s=5.0, clock=clock)
    errors = []
    for _ in range(3):
        with pytest.raises(FetchFailed, match="does not resolve") as raised:
            await resolve("www.facebook.com", 443)
        errors.append(raised.value)
    assert len(dns.asked) == 1 and len({id(e) for e in errors}) == 3  # a new error each time
    clock.now += 5.0
    dns.table["www.facebook.com"] = "157.240.1.35"  # the network is back
    assert await resolve("www.facebook.com", 443) == [ipaddress.ip_address("157.240.1.35")]
    assert len(dns.asked) == 2


async def test_lookups_at_the_same_moment_share_one_question_and_survive_a_cancelled_caller() -> None:
    dns = Dns({"x.com": "104.244.42.1"})
    dns.gate.clear()
    resolve = CachedResolver(dns, clock=Clock())
    waiting = [asyncio.create_task(resolve("x.com", 443)) for _ in range(4)]

    async def asked() -> bool:
        return bool(dns.asked)

    await eventually(asked, timeout=5, what="the question asked")
    waiting[0].cancel()  # one fetch timed out meanwhile
    dns.gate.set()
    answers = await asyncio.gather(*waiting[1:])
    assert answers == [[ipaddress.ip_address("104.244.42.1")]] * 3
    assert dns.asked == [("x.com", 443)] and waiting[0].cancelled()


async def test_an_error_that_is_no_answer_about_the_name_is_not_kept() -> None:
    calls = 0

    async def broken(host: str, port: int) -> list[IPAddress]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("resolver thread pool shut down")
        return [ipaddress.ip_address("104.244.42.1")]

    resolve = CachedResolver(broken, clock=Clock())
    with pytest.raises(RuntimeError):
        await resolve("x.com", 443)
    assert await resolve("x.com", 443) == [ipaddress.ip_address("104.244.42.1")]
