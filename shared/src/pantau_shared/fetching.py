"""Fetching what a report links to without being turned against our own network (SSRF).

A reported URL is chosen by anyone. Before any byte is sent the host is resolved once, every
address it resolves to is checked, and the connection goes to the vetted address itself: the
check lives in the network backend, so there is no second lookup an attacker's DNS could answer
differently (DNS rebinding), and every redirect hop, being a new connection, is checked again.
Only `http` and `https`; refused: loopback, private, link-local (cloud metadata among them),
shared (CGNAT), multicast, reserved and unspecified addresses. Bodies are cut at `max_bytes`,
the whole fetch (all hops) at `timeout_s`, and redirects at `max_redirects`.

The test allowlist (`allow_networks`) lets tests and the dev stack reach their local servers;
production settings refuse a non-empty one (`pantau_shared.settings.production_errors`).
"""

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import httpcore
import idna

from .contract.fields import ascii_host

__all__ = [
    "Exchange",
    "FetchFailed",
    "FetchLimits",
    "FetchRefused",
    "Fetched",
    "IPAddress",
    "Resolver",
    "SafeFetcher",
    "refusal",
    "wire_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

# Cloud instance metadata (AWS, GCP, Azure, OpenStack; AWS's IPv6 one): named apart in refusals.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = "Pantau-Evidence/1.0 (+https://github.com/pantau; preservation of reported content)"


class FetchRefused(Exception):
    """A target Pantau must not fetch, or an answer it will not keep: never worth a retry."""


class FetchFailed(Exception):
    """The target could not be reached or answered too slowly: worth a later retry."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 20 * 1024 * 1024
    timeout_s: float = 20.0
    max_redirects: int = 5
    # Networks reachable despite the rules above: the local test servers only.
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def with_allowlist(cls, networks: Iterable[str], **limits: float) -> Self:
        return cls(allow_networks=tuple(ipaddress.ip_network(n) for n in networks), **limits)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as sent and received: a WARC request/response pair."""

    url: str
    method: str
    request_headers: tuple[tuple[str, str], ...]
    status: int
    reason: str
    http_version: str
    response_headers: tuple[tuple[str, str], ...]
    body: bytes
    ip: str | None
    started_at: datetime

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.response_headers if k.lower() == lowered), None)


@dataclass(frozen=True)
class Fetched:
    """Every hop of a fetch, the final answer last."""

    exchanges: tuple[Exchange, ...] = field(default_factory=tuple)

    @property
    def final(self) -> Exchange:
        return self.exchanges[-1]


def refusal(
    address: IPAddress, allow: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()
) -> str | None:
    """Why `address` may not be fetched, or None when it is a public address (or allowlisted)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allow):
        return None
    if address in _METADATA:
        return f"{address} is a cloud metadata address"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "shared (CGNAT)"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not public"),
    )
    for failed, name in checks:
        if failed:
            return f"{address} is a {name} address"
    return None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchFailed(f"{host} does not resolve: {error}") from error
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class _VettedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, refuses unsafe addresses, and connects to the vetted address itself."""

    def __init__(self, resolve: Resolver, limits: FetchLimits) -> None:
        self._resolve = resolve
        self._limits = limits
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            addresses = await self._resolve(host, port)
        if not addresses:
            raise FetchFailed(f"{host} resolves to no address")
        # Every address must pass: a name that also points inward is refused whole.
        for address in addresses:
            if (reason := refusal(address, self._limits.allow_networks)) is not None:
                raise FetchRefused(f"{host}: {reason}")
        return await self._inner.connect_tcp(str(addresses[0]), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: object = None
    ) -> httpcore.AsyncNetworkStream:
        raise FetchRefused("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SafeFetcher:
    def __init__(self, limits: FetchLimits, resolve: Resolver = system_resolver) -> None:
        self.limits = limits
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=_VettedBackend(resolve, limits), max_connections=20, retries=0
        )

    async def fetch(self, url: str) -> Fetched:
        """GET `url`, following redirects; raises FetchRefused or FetchFailed."""
        deadline = time.monotonic() + self.limits.timeout_s
        exchanges: list[Exchange] = []
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                while True:
                    exchange = await self._one(url, deadline)
                    exchanges.append(exchange)
                    location = exchange.header("location")
                    if exchange.status not in _REDIRECTS or not location:
                        return Fetched(tuple(exchanges))
                    if len(exchanges) > self.limits.max_redirects:
                        raise FetchRefused(f"more than {self.limits.max_redirects} redirects")
                    url = urljoin(url, location)
        except TimeoutError as error:
            raise FetchFailed(f"no complete answer within {self.limits.timeout_s:g}s") from error

    async def _one(self, url: str, deadline: float) -> Exchange:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused(f"scheme {parts.scheme or '(none)'!r} is not fetched, only http and https")
        if not parts.hostname:
            raise FetchRefused(f"{url!r} names no host")
        if parts.username or parts.password:
            raise FetchRefused("URLs with credentials are not fetched")
        url = wire_url(url)
        headers = (("User-Agent", USER_AGENT), ("Accept", "*/*"), ("Accept-Encoding", "identity"))
        left = max(0.1, deadline - time.monotonic())
        started_at = datetime.now(UTC)
        try:
            async with self._pool.stream(
                "GET",
                url,
                headers=list(headers),
                extensions={"timeout": {"connect": left, "read": left, "write": left, "pool": left}},
            ) as response:
                declared = _header(response.headers, b"content-length")
                if declared is not None and declared.isdigit() and int(declared) > self.limits.max_bytes:
                    raise FetchRefused(
                        f"answer of {declared} bytes is over the {self.limits.max_bytes} limit"
                    )
                body = bytearray()
                async for chunk in response.aiter_stream():
                    body.extend(chunk)
                    if len(body) > self.limits.max_bytes:
                        raise FetchRefused(f"answer is over the {self.limits.max_bytes} byte limit")
                stream = response.extensions.get("network_stream")
                peer = stream.get_extra_info("server_addr") if stream is not None else None
                return Exchange(
                    url=url,
                    method="GET",
                    request_headers=headers,
                    status=response.status,
                    reason=response.extensions.get("reason_phrase", b"").decode("latin-1"),
                    http_version=response.extensions.get("http_version", b"HTTP/1.1").decode("ascii"),
                    response_headers=tuple(
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers
                    ),
                    body=bytes(body),
                    ip=str(peer[0]) if peer else None,
                    started_at=started_at,
                )
        except httpcore.UnsupportedProtocol as error:
            raise FetchRefused(str(error)) from error
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as error:
            raise FetchFailed(f"{parts.hostname}: {type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        await self._pool.aclose()


def wire_url(url: str) -> str:
    """`url` as it goes on the wire: the host as its IDNA A-labels, anything else that is not
    printable ASCII percent-encoded as UTF-8, no fragment. A reported link (or a redirect's
    Location) may be written in any script; HTTP/1.1 carries ASCII only, and httpcore would
    otherwise fail with an encoding error rather than a refusal."""
    parts = urlsplit(url)
    try:
        host = ascii_host(parts.hostname or "")
    except (idna.IDNAError, UnicodeError) as error:
        raise FetchRefused(f"{parts.hostname!r} is not a valid internationalised domain name") from error
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as error:
        raise FetchRefused(f"{url!r}: {error}") from error
    netloc = f"{host}:{port}" if port is not None else host
    path, query = (_NOT_WIRE.sub(_percent, part) for part in (parts.path or "/", parts.query))
    return urlunsplit((parts.scheme, netloc, path, query, ""))


# Outside printable ASCII, and the space: what a request line cannot carry as it is.
_NOT_WIRE = re.compile(r"[^\x21-\x7e]+")


def _percent(found: re.Match[str]) -> str:
    return quote(found.group(), safe="")


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), None)
