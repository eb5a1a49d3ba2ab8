"""The evidence capturer asks the fetcher's resolver first: a page whose name does not resolve
fails as its fetch would, without the fetch; anything else still goes to the fetcher, which
refuses what it refuses with its own reason."""

import pytest

from pantau_intake.evidence.capture import Capturer
from pantau_shared.fetching import FetchFailed, FetchRefused, IPAddress


class NoFetch:
    """A fetcher that records what it was asked and refuses everything."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def fetch(self, url: str) -> object:
        self.asked.append(url)
        raise FetchRefused(f"refused by the fetcher: {url}")


class Names:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        raise FetchFailed(f"{host} does not resolve: [Errno -2] Name or service not known")


async def test_a_name_that_does_not_resolve_fails_without_a_fetch() -> None:
    fetcher, names = NoFetch(), Names()
    capturer = Capturer(fetcher, None, resolve=names)  # type: ignore[arg-type]
    with pytest.raises(FetchFailed, match=r"www\.facebook\.com does not resolve"):
        await capturer.capture("https://WWW.Facebook.com/groups/1/posts/2")
    with pytest.raises(FetchFailed):
        await capturer.capture("http://x.com:8080/a")
    assert fetcher.asked == []
    assert names.asked == [("www.facebook.com", 443), ("x.com", 8080)]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",  # a scheme the fetcher refuses
        "http://user:secret@example.id/",  # credentials, refused
        "http://127.0.0.1:9/gone",  # an address: nothing to resolve
        "http://[::1]/",
        "https://bücher.example/",  # an IDN: resolved by the fetcher as its A-labels
        "http://example.id:99999/",  # a port out of range
    ],
)
async def test_what_the_fetcher_decides_goes_to_the_fetcher(url: str) -> None:
    fetcher, names = NoFetch(), Names()
    with pytest.raises(FetchRefused, match="refused by the fetcher"):
        await Capturer(fetcher, None, resolve=names).capture(url)  # type: ignore[arg-type]
    assert fetcher.asked == [url] and names.asked == []
