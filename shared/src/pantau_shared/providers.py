"""How a message provider's refusal is classified, whatever the channel (SMTP, WhatsApp)."""


class PermanentFailure(Exception):
    """The provider refused for good (unknown mailbox, rejected sender): do not retry."""


class TransientFailure(Exception):
    """The provider could not take the message now: retry later."""


class OutcomeUnknown(Exception):
    """The request may have reached the provider but no answer came back: sending again could
    deliver twice, so the caller records the outcome as unknown and waits for a status report."""
