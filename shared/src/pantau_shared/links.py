"""Signed links in messages (acknowledging an alert) that work without an API key."""

import hashlib
import hmac


def ack_token(secret: bytes, agency_id: str, delivery_id: str) -> str:
    return hmac.new(secret, f"ack:{agency_id}:{delivery_id}".encode(), hashlib.sha256).hexdigest()[:32]


def ack_token_valid(secret: bytes, agency_id: str, delivery_id: str, token: str) -> bool:
    return hmac.compare_digest(ack_token(secret, agency_id, delivery_id), token)
