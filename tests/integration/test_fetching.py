"""The safe fetcher against a real local web server: each refusal, each limit, DNS pinning."""

import ipaddress
from collections.abc import AsyncIterator

import pytest

from pantau_devstack.posts_site import PostsSite
from pantau_shared.fetching import FetchFailed, FetchLimits, FetchRefused, IPAddress, SafeFetcher, refusal
from pantau_shared.settings import production_errors

LOCAL = ("127.0.0.1/32",)


@pytest.fixture
async def site() -> AsyncIterator[PostsSite]:
    async with PostsSite(large_bytes=300_000) as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[SafeFetcher]:
    fetching = SafeFetcher(
        FetchLimits.with_allowlist(LOCAL, timeout_s=3.0, max_bytes=100_000, max_redirects=2)
    )
    yield fetching
    await fetching.aclose()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.64.0.1", "CGNAT"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_every_inward_address_is_refused(address: str, kind: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and kind in reason


def test_public_addresses_pass() -> None:
    assert refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946")) is None


async def test_fetches_a_page_from_an_allowlisted_server(site: PostsSite, fetcher: SafeFetcher) -> None:
    url = site.add("1", "Serangan fajar besok pagi")
    fetched = await fetcher.fetch(url)
    assert fetched.final.status == 200
    assert b"Serangan fajar besok pagi" in fetched.final.body
    assert fetched.final.ip == "127.0.0.1"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("ftp://example.org/x", "scheme 'ftp'"),
        ("gopher://example.org/", "scheme 'gopher'"),
        ("http://user:pw@example.org/", "credentials"),
        ("http:///nohost", "names no host"),
    ],
)
async def test_refuses_what_is_not_plain_http(url: str, why: str) -> None:
    fetcher = SafeFetcher(FetchLimits())
    with pytest.raises(FetchRefused, match=why):
        await fetcher.fetch(url)
    await fetcher.aclose()


async def test_refuses_loopback_without_the_allowlist(site: PostsSite) -> None:
    url = site.add("2", "x")
    production_like = SafeFetcher(FetchLimits())
    with pytest.raises(FetchRefused, match="loopback"):
        await production_like.fetch(url)
    with pytest.raises(FetchRefused, match="loopback"):
        await production_like.fetch(url.replace("127.0.0.1", "[::1]"))
    await production_like.aclose()
    assert site.requests == []


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://10.0.0.5/admin", "private"),
        ("http://100.100.1.1/", "CGNAT"),
        ("file:///etc/passwd", "scheme 'file'"),
    ],
)
async def test_every_redirect_hop_is_checked_again(
    site: PostsSite, fetcher: SafeFetcher, target: str, why: str
) -> None:
    with pytest.raises(FetchRefused, match=why):
        await fetcher.fetch(f"{site.base_url}/go?to={target}")
    assert site.requests == []  # /go is not a post; the refused target was never reached


async def test_redirects_are_followed_and_limited(site: PostsSite, fetcher: SafeFetcher) -> None:
    url = site.add("3", "tujuan")
    fetched = await fetcher.fetch(f"{site.base_url}/go?to={url}")
    assert [e.status for e in fetched.exchanges] == [302, 200]
    chain = url
    for _ in range(3):
        chain = f"{site.base_url}/go?to={chain}"
    with pytest.raises(FetchRefused, match="more than 2 redirects"):
        await fetcher.fetch(chain)


async def test_a_body_over_the_limit_is_refused(site: PostsSite, fetcher: SafeFetcher) -> None:
    with pytest.raises(FetchRefused, match="byte limit"):
        await fetcher.fetch(f"{site.base_url}/large")


async def test_a_slow_server_times_out(site: PostsSite) -> None:
    fetcher = SafeFetcher(FetchLimits.with_allowlist(LOCAL, timeout_s=0.5))
    with pytest.raises(FetchFailed, match=r"within 0\.5s"):
        await fetcher.fetch(f"{site.base_url}/slow")
    await fetcher.aclose()


async def test_connects_to_the_address_it_vetted_resolving_once(site: PostsSite) -> None:
    """The name resolves once per connection and the socket goes to that address: a resolver
    that answers a public address first and loopback after (rebinding) never gets a second say."""
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1" if len(lookups) == 1 else "10.9.9.9")]

    fetcher = SafeFetcher(FetchLimits.with_allowlist(LOCAL), resolve=rebinding)
    url = site.add("4", "dipin").replace("127.0.0.1", "berita.example")
    fetched = await fetcher.fetch(url)
    assert fetched.final.status == 200 and fetched.final.ip == "127.0.0.1"
    assert lookups == ["berita.example"]
    await fetcher.aclose()

    async def inward(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("192.168.0.10")]

    mixed = SafeFetcher(FetchLimits(), resolve=inward)
    with pytest.raises(FetchRefused, match=r"berita\.example: 192\.168\.0\.10 is a private"):
        await mixed.fetch("http://berita.example/post")
    await mixed.aclose()


def test_production_refuses_a_test_allowlist() -> None:
    from pantau_intake.settings import IntakeSettings

    allowed = IntakeSettings(fetch_test_allowlist=["127.0.0.1/32"])
    assert any("FETCH_TEST_ALLOWLIST" in e for e in production_errors(allowed))
    assert not any("FETCH_TEST_ALLOWLIST" in e for e in production_errors(IntakeSettings()))


async def test_a_link_in_any_script_is_fetched_in_its_wire_form(site: PostsSite) -> None:
    """Reported links come in any script: the host goes out as IDNA A-labels and the path
    percent-encoded, where httpcore alone fails with an encoding error (which once stopped a
    re-check loop)."""
    looked_up: list[str] = []

    async def local(host: str, port: int) -> list[IPAddress]:
        looked_up.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    fetcher = SafeFetcher(FetchLimits.with_allowlist(LOCAL), resolve=local)
    url = site.add("pemilu-ü 2024", "berita daerah").replace("127.0.0.1", "berita-daerah.例え.jp")
    fetched = await fetcher.fetch(url + "?kata=serangan fajar#bagian")
    assert fetched.final.status == 200 and b"berita daerah" in fetched.final.body
    assert looked_up == ["berita-daerah.xn--r8jz45g.jp"]
    assert fetched.final.url.endswith("/posts/pemilu-%C3%BC%202024?kata=serangan%20fajar")
    for broken in (
        "http://\u2603.example/",
        "http://a\u200d\u200db.example/",
        "http://berita.example:99999/",
    ):
        with pytest.raises(FetchRefused):
            await fetcher.fetch(broken)
    await fetcher.aclose()
