"""Preserving what reports link to: capture (WARC, screenshot, media), storage in the object
store, trusted timestamps, the custody log and the case's signed bundle (docs/evidence.md)."""

from .service import Evidence

__all__ = ["Evidence"]
