"""Whether a mail's sender is who its From says, before Pantau answers that address.

Where the receiving server (Pantau's MX, or the agency's mailbox provider) is configured as
trusted, its Authentication-Results header (RFC 8601) is the verdict: it saw the connecting IP
(SPF) and looked up the DMARC policy, which Pantau, behind it, cannot redo. Otherwise a DKIM
signature of the From domain is verified here (dkimpy, with a DNS lookup that tests replace).
Only a "pass" earns a receipt; anything else is still a report, ranked lower.
"""

from collections.abc import Callable, Iterable
from email import message_from_bytes, policy
from typing import Any, cast

import authres  # type: ignore[import-untyped]
import dkim  # type: ignore[import-untyped]

from pantau_shared.contract import SenderAuth

# dkimpy's lookup: a DNS name (bytes) to its TXT record (bytes), or None.
DnsLookup = Callable[..., bytes | None]
_RESULTS = {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"}


class SenderCheck:
    def __init__(self, trusted_servers: Iterable[str] = (), dns: DnsLookup | None = None) -> None:
        """`trusted_servers`: authserv-ids whose Authentication-Results are believed (the
        server must strip such headers from incoming mail, as RFC 8601 section 5 asks).
        `dns`: DKIM key lookup; None leaves DKIM unchecked when no trusted header is found."""
        self._trusted = {server.strip().lower() for server in trusted_servers if server.strip()}
        self._dns = dns

    def __call__(self, raw: bytes, from_domain: str | None) -> SenderAuth:
        if self._trusted:
            found = self._from_header(raw, from_domain)
            if found is not None:
                return found
        if self._dns is not None:
            return self._dkim(raw, from_domain)
        return SenderAuth(verdict="none")

    def _from_header(self, raw: bytes, from_domain: str | None) -> SenderAuth | None:
        message = message_from_bytes(raw, policy=policy.compat32)
        for value in message.get_all("Authentication-Results") or []:
            try:
                header = authres.AuthenticationResultsHeader.parse_value(" ".join(str(value).split()))
            except Exception:  # authres raises its own syntax errors: an unreadable header is no verdict
                continue
            if str(header.authserv_id).lower() not in self._trusted:
                continue
            results = {str(r.method).lower(): r for r in header.results}
            spf, dkim_, dmarc = (_result(results.get(m)) for m in ("spf", "dkim", "dmarc"))
            dkim_domain = _property(results.get("dkim"), "d")
            if dmarc == "pass":
                verdict = "pass"
            elif dmarc in ("fail", "policy"):
                verdict = "fail"
            elif dkim_ == "pass" and _aligned(from_domain, dkim_domain):
                verdict = "pass"
            elif spf in ("fail", "softfail") or dkim_ in ("fail", "permerror"):
                verdict = "fail"
            else:
                verdict = "none"
            return SenderAuth(
                verdict=verdict,  # type: ignore[arg-type]
                spf=spf,  # type: ignore[arg-type]
                dkim=dkim_,  # type: ignore[arg-type]
                dmarc=dmarc,  # type: ignore[arg-type]
                method="authentication-results",
                domain=from_domain,
            )
        return None

    def _dkim(self, raw: bytes, from_domain: str | None) -> SenderAuth:
        if b"dkim-signature:" not in raw.lower():
            return SenderAuth(verdict="none", dkim="none", method="dkim", domain=from_domain)
        checker = dkim.DKIM(raw)
        try:
            valid = bool(checker.verify(dnsfunc=self._dns))
        except dkim.DKIMException:
            valid = False
        signer = checker.domain.decode() if isinstance(checker.domain, bytes) else None
        aligned = _aligned(from_domain, signer)
        return SenderAuth(
            verdict="pass" if valid and aligned else "fail",
            dkim="pass" if valid else "fail",
            method="dkim",
            domain=from_domain,
        )


def _result(result: Any) -> str | None:
    value = str(result.result).lower() if result is not None else None
    return value if value in _RESULTS else None


def _property(result: Any, name: str) -> str | None:
    for prop in getattr(result, "properties", ()):
        if str(prop.name).lower() == name:
            return str(prop.value).lower()
    return None


def _aligned(from_domain: str | None, signer: str | None) -> bool:
    """Relaxed alignment (DMARC): the signing domain is the From domain or a parent of it."""
    if not from_domain or not signer:
        return False
    from_domain, signer = from_domain.lower().rstrip("."), signer.lower().rstrip(".")
    return from_domain == signer or from_domain.endswith("." + signer)


def default_dns() -> DnsLookup:
    return cast(DnsLookup, dkim.dnsplug.get_txt)
