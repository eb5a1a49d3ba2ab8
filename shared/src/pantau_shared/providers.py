"""How a message provider's refusal is classified, whatever the channel (SMTP, WhatsApp)."""


class PermanentFailure(Exception):
    """The provider refused for good (unknown mailbox, rejected sender): do not retry."""


class TransientFailure(Exception):
    """The provider could not take the message now: retry later."""
