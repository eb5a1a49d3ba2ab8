"""Messaging on NATS JetStream: topology, publishing, pull consumers, dead letters, reads."""

from .consumer import EventHandlerRunner, PullLoop, retry_delay
from .errors import Reject, RetryLater
from .publisher import Publisher
from .rpc import Answer, Conflict, Forbidden, Invalid, NotFound, RpcClient, RpcError
from .topology import BatchHandler, Handler, Subscription, provision, stream_configs

__all__ = [
    "Answer",
    "BatchHandler",
    "Conflict",
    "EventHandlerRunner",
    "Forbidden",
    "Handler",
    "Invalid",
    "NotFound",
    "Publisher",
    "PullLoop",
    "Reject",
    "RetryLater",
    "RpcClient",
    "RpcError",
    "Subscription",
    "provision",
    "retry_delay",
    "stream_configs",
]
