"""How a handler tells the consumer what to do with a message it could not handle."""


class RetryLater(Exception):
    """A transient failure (a peer down, a lock timeout): redeliver after a backoff delay."""


class Reject(Exception):
    """The message can never succeed (bad content, broken invariant): dead-letter it now."""
