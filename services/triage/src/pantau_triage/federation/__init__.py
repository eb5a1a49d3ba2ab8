"""Triage's federation link: referrals out to agencies on other instances, partner cases in."""

from .handlers import FederationHandlers
from .service import WithFederation

__all__ = ["FederationHandlers", "WithFederation"]
