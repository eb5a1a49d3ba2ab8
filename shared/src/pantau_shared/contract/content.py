"""Structured content a public channel carries besides text: places, contact cards, and what
could be verified of an email sender. Shared by `report.submitted` and `report.received`."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .fields import Line500, Line1000, Name


class Location(BaseModel):
    """A place the reporter shared (WhatsApp location message): where it happened."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: Line500 = None
    address: Line1000 = None


class ContactCard(BaseModel):
    """A contact card the reporter passed on (a witness, the person distributing money, ...)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: Name = None
    phones: tuple[Annotated[str, Field(max_length=64)], ...] = Field(default=(), max_length=20)
    emails: tuple[Annotated[str, Field(max_length=320)], ...] = Field(default=(), max_length=20)
    organization: Name = None


AuthResult = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"]


class SenderAuth(BaseModel):
    """Whether an email's sender is who the From header says (SPF, DKIM, DMARC).

    `verdict` is "pass" only when DMARC passed, or, without a DMARC result, when a DKIM
    signature of the From domain verified; only then do receipts go to that address."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    verdict: Literal["pass", "fail", "none"]
    spf: AuthResult | None = None
    dkim: AuthResult | None = None
    dmarc: AuthResult | None = None
    # "authentication-results" (the trusted receiving server's header) or "dkim" (verified here).
    method: Literal["authentication-results", "dkim", "none"] = "none"
    domain: str | None = Field(default=None, max_length=255)
