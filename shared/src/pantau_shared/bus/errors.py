"""How a handler tells the consumer what to do with a message it could not handle."""


class RetryLater(Exception):
    """A transient failure (a peer down, a lock timeout): redeliver after a backoff delay, or
    after `delay` seconds when the handler knows when it can succeed (another instance's lease
    running out): a guessed backoff would take over a dead instance's work seconds late."""

    def __init__(self, reason: str, *, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class Reject(Exception):
    """The message can never succeed (bad content, broken invariant): dead-letter it now."""
