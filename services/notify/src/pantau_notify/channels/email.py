"""Email: every template rendered as MIME and sent over the pooled SMTP connections."""

from pantau_shared.wording import number

from ..email import SmtpSender, render_case_alert, render_receipt, render_report_back
from ..settings import NotifySettings
from ..takedown_alerts import render_takedown_overdue
from . import Outgoing, Template


class EmailSender:
    def __init__(self, settings: NotifySettings, smtp: SmtpSender) -> None:
        self._settings = settings
        self._smtp = smtp

    async def send(self, message: Outgoing) -> str:
        delivery_id = str(message.delivery_id)
        if message.template is Template.REPORT_RECEIPT:
            mime = render_receipt(
                settings=self._settings,
                recipient=message.address,
                name=message.name,
                number=receipt_number(message),
                agency_id=message.agency_id,
                in_reply_to=message.reply_to,
                delivery_id=delivery_id,
            )
        elif message.template is Template.REPORT_BACK:
            mime = render_report_back(
                message.snapshot,
                settings=self._settings,
                recipient=message.address,
                name=message.name,
                delivery_id=delivery_id,
            )
        elif message.template is Template.TAKEDOWN_OVERDUE:
            mime = render_takedown_overdue(
                message.snapshot,
                settings=self._settings,
                recipient=message.address,
                delivery_id=delivery_id,
                case_url=message.case_url,
            )
        else:
            mime = render_case_alert(
                message.snapshot,
                settings=self._settings,
                recipient=message.address,
                delivery_id=delivery_id,
                case_url=message.case_url,
                template=message.template.value,
                ack_url=message.ack_url,
                team=message.team,
                ack_minutes=message.ack_minutes,
            )
        return await self._smtp.send(mime)

    async def close(self) -> None:
        await self._smtp.close()


def receipt_number(message: Outgoing) -> str:
    """The number a reporter quotes (the report's), as every message to them writes it."""
    return number(message.snapshot["report_id"])
