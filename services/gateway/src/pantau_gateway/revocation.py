"""Key revocation across gateway instances: announced on core NATS, heard by every instance.

Each instance caches verified keys (`KeyVerifier`); without this a revoked key keeps working
on an instance until its cache entry expires.
"""

import logging
from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from pantau_shared.contract import ContractError, Envelope, KeyRevoked, Subjects, decode

from .auth import KeyVerifier

log = logging.getLogger(__name__)
SOURCE = "/pantau/gateway"


async def announce(nc: NATS, subjects: Subjects, key_id: str, agency_id: str) -> None:
    envelope = Envelope(
        data=KeyRevoked(key_id=key_id, agency_id=agency_id, revoked_at=datetime.now(UTC)),
        source=SOURCE,
        agency_id=agency_id,
    )
    await nc.publish(envelope.data.address(subjects), envelope.body(), headers=envelope.headers())
    await nc.flush(timeout=5)


async def listen(nc: NATS, subjects: Subjects, keys: KeyVerifier) -> Subscription:
    """Subscribes (and waits until the server has the subscription) before the API serves."""

    async def revoked(msg: Msg) -> None:
        try:
            envelope = decode(msg.headers, msg.data)
        except ContractError as error:
            # Which key is unknown, so trust none of the cached ones: the next lookups hit the database.
            log.warning("undecodable key revocation, clearing the key cache: %s", error)
            keys.forget_all()
            return
        if isinstance(envelope.data, KeyRevoked):
            keys.forget(envelope.data.key_id)

    subscription = await nc.subscribe(subjects.event_filter(KeyRevoked.SUBJECT), cb=revoked)
    await nc.flush(timeout=5)
    return subscription


async def stop(nc: NATS, subscription: Subscription) -> None:
    if not nc.is_closed and not nc.is_draining:
        await subscription.unsubscribe()
