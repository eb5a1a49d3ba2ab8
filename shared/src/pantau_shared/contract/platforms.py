"""Which platform a web address belongs to: the one host table that intake (a report's
platform) and triage (an account's platform in the registries) share."""

from .events import Platform

PLATFORM_HOSTS: dict[str, Platform] = {
    "facebook.com": Platform.FACEBOOK,
    "fb.com": Platform.FACEBOOK,
    "fb.watch": Platform.FACEBOOK,
    "instagram.com": Platform.INSTAGRAM,
    "instagr.am": Platform.INSTAGRAM,
    "twitter.com": Platform.X,
    "x.com": Platform.X,
    "t.co": Platform.X,
    "tiktok.com": Platform.TIKTOK,
    "vt.tiktok.com": Platform.TIKTOK,
    "youtube.com": Platform.YOUTUBE,
    "youtu.be": Platform.YOUTUBE,
    "t.me": Platform.TELEGRAM,
    "telegram.me": Platform.TELEGRAM,
    "wa.me": Platform.WHATSAPP,
    "chat.whatsapp.com": Platform.WHATSAPP,
    "whatsapp.com": Platform.WHATSAPP,
}
# Hosts that shorten or share a post: their paths never name an account.
SHARE_HOSTS = frozenset({"fb.watch", "t.co", "youtu.be", "wa.me", "chat.whatsapp.com"})


def platform_of_host(host: str) -> Platform | None:
    """The platform of a host or of a domain above it (`business.facebook.com` is Facebook)."""
    labels = host.lower().rstrip(".").split(".")
    for start in range(len(labels) - 1):
        platform = PLATFORM_HOSTS.get(".".join(labels[start:]))
        if platform is not None:
            return platform
    return None
