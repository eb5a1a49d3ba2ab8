"""Reports by email: parsing a mail into a report, an SMTP receiver and an IMAP poller."""

from .imap_poller import ImapPoller, PollResult
from .parse import DEFAULT_MAX_ATTACHMENT_BYTES, MailAttachment, MailError, ParsedMail, parse_mail
from .smtp_receiver import ReportMailHandler, SmtpReceiver

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "ImapPoller",
    "MailAttachment",
    "MailError",
    "ParsedMail",
    "PollResult",
    "ReportMailHandler",
    "SmtpReceiver",
    "parse_mail",
]
