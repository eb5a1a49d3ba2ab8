"""Messaging on NATS JetStream: topology, publishing, pull consumers, dead letters, reads."""

from .consumer import EventHandlerRunner, PullLoop, retry_delay
from .errors import Reject, RetryLater
from .publisher import Publisher
from .rpc import NotFound, RpcClient, RpcError, RpcHandler
from .topology import Handler, Subscription, provision, stream_configs

__all__ = [
    "EventHandlerRunner",
    "Handler",
    "NotFound",
    "Publisher",
    "PullLoop",
    "Reject",
    "RetryLater",
    "RpcClient",
    "RpcError",
    "RpcHandler",
    "Subscription",
    "provision",
    "retry_delay",
    "stream_configs",
]
