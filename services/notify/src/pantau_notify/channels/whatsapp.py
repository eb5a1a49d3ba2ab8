"""WhatsApp: patrol alerts as the approved template with an acknowledge button; news and
receipts to reporters as free text (they wrote to us, so the 24-hour window is open)."""

from typing import Any

from pantau_shared.contract import PriorityLevel
from pantau_shared.providers import PermanentFailure
from pantau_shared.whatsapp import WhatsAppClient
from pantau_shared.wording import PRIORITY_LABELS, excerpt

from ..email import QUOTE_LENGTH, category_labels, receipt_text, report_back_text
from ..settings import NotifySettings
from . import Outgoing, Template
from .email import receipt_number


class WhatsAppSender:
    def __init__(self, settings: NotifySettings, client: WhatsAppClient) -> None:
        self._settings = settings
        self._client = client

    async def send(self, message: Outgoing) -> str:
        # The delivery id comes back in the status webhook, which resolves a send whose
        # answer was lost.
        callback = str(message.delivery_id)
        if message.template is Template.CASE_ALERT:
            return await self._client.send_template(
                message.address,
                self._settings.whatsapp_alert_template,
                self._settings.whatsapp_template_language,
                alert_components(message),
                callback_data=callback,
            )
        if message.template is Template.REPORT_BACK:
            return await self._client.send_text(
                message.address,
                report_back_text(message.snapshot, message.name, self._settings),
                callback_data=callback,
            )
        if message.template is Template.REPORT_RECEIPT:
            return await self._client.send_text(
                message.address,
                receipt_text(
                    receipt_number(message), fragments_only=bool(message.snapshot.get("fragments_only"))
                ),
                reply_to=message.reply_to,
                callback_data=callback,
            )
        raise PermanentFailure(f"{message.template} is not sent on WhatsApp")

    async def close(self) -> None:
        await self._client.aclose()


def alert_components(message: Outgoing) -> list[dict[str, Any]]:
    """Template parameters: priority, categories, summary and link; the button's payload
    carries the delivery, so the member's tap acknowledges exactly this alert."""
    snapshot = message.snapshot
    texts = [
        PRIORITY_LABELS[PriorityLevel(snapshot["priority_level"])],
        category_labels(snapshot),
        excerpt(snapshot.get("summary"), QUOTE_LENGTH) or "-",
        message.case_url,
    ]
    return [
        {"type": "body", "parameters": [{"type": "text", "text": t} for t in texts]},
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": f"ack:{message.delivery_id}"}],
        },
    ]
