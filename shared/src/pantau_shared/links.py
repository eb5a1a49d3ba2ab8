"""Signed links in messages that work without an API key: acknowledging an alert, and reading
its case. Notify signs them, the gateway checks them; the secret is `PANTAU_ACK_LINK_SECRET`."""

import hashlib
import hmac


def _sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()[:32]


def ack_token(secret: bytes, agency_id: str, delivery_id: str, case_id: str) -> str:
    return _sign(secret, f"ack:{agency_id}:{delivery_id}:{case_id}")


def ack_token_valid(secret: bytes, agency_id: str, delivery_id: str, case_id: str, token: str) -> bool:
    return hmac.compare_digest(ack_token(secret, agency_id, delivery_id, case_id), token)


def case_token(secret: bytes, agency_id: str, case_id: str) -> str:
    """Lets the holder read one case (as `agency_id` sees it), nothing else."""
    return _sign(secret, f"case:{agency_id}:{case_id}")


def case_token_valid(secret: bytes, agency_id: str, case_id: str, token: str) -> bool:
    return hmac.compare_digest(case_token(secret, agency_id, case_id), token)
