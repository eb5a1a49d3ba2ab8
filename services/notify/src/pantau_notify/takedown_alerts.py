"""A takedown whose deadline passed with the content still up alerts the patrol team of the
agency that requested it: once per takedown and member, in Bahasa Indonesia, through the same
delivery path as every alert (a delivery row, `notification.requested`, claim, send, record).

The alert is not a case alert: nobody acknowledges it and it is not escalated (the case's own
alert was); it names the platform, the legal basis, the deadline and when the re-check last saw
the content. It goes by email (`__main__` gives it an email-only `Requests`): the approved
WhatsApp template is the case alert's.
"""

import asyncio
from collections.abc import Coroutine
from dataclasses import replace
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formatdate
from typing import Any

import asyncpg
from nats.js.api import StreamConfig

from pantau_shared.bus import Answer, RetryLater, Subscription
from pantau_shared.contract import Envelope, EventData
from pantau_shared.contract.takedowns import LEGAL_BASIS_LABELS, LegalBasis, TakedownOverdue
from pantau_shared.outbox import Outbox
from pantau_shared.regions import local_time
from pantau_shared.wording import agency_name, number, platform_label

from . import repository
from .channels import Template
from .email import UTF8_QP, message_id
from .models import CaseSnapshot, DeliveryRequest
from .requesting import Requests
from .settings import NotifySettings


class TakedownAlerts:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, requests: Requests) -> None:
        self._pool = pool
        self._outbox = outbox
        self._requests = requests

    def subscription(self) -> Subscription:
        return Subscription(
            durable="notify-takedowns-overdue",
            stream="CASES",
            subject_suffix=TakedownOverdue.SUBJECT,
            handler=self.takedown_overdue,
            events=(TakedownOverdue,),
        )

    async def takedown_overdue(self, envelope: Envelope[EventData]) -> None:
        event = envelope.data
        assert isinstance(event, TakedownOverdue)
        async with self._pool.acquire() as conn, conn.transaction():
            case = (await repository.lock_snapshots(conn, [event.case_id])).get(event.case_id)
            if case is None:
                raise RetryLater(f"takedown of case {event.case_id} overdue before the case was seen")
            requests: list[DeliveryRequest] = []
            for team in await repository.teams_of(conn, [event.agency_id]):
                if not team.audience.wants(case, int(case.fields.get("priority", 0))):
                    continue
                takedown = event.model_dump(mode="json") | {"team": team.name}
                alert = self._requests.team_alert(
                    team, event.case_id, CaseSnapshot(case.fields | {"takedown": takedown}), level=0, after=-1
                )
                if alert is not None:
                    requests.append(
                        replace(
                            alert,
                            template=Template.TAKEDOWN_OVERDUE.value,
                            # One per takedown: a case with two overdue takedowns alerts twice.
                            recipient_key=f"{alert.recipient_key}:takedown:{event.takedown_id}",
                            team_id=None,
                            ack_minutes=None,
                        )
                    )
            await self._requests.request_many(conn, requests)
        self._outbox.committed()


def render_takedown_overdue(
    snapshot: dict[str, Any], *, settings: NotifySettings, recipient: str, delivery_id: str, case_url: str
) -> Message:
    takedown = snapshot["takedown"]
    region = snapshot.get("region_code")
    platform = platform_label(takedown["platform"])
    seen = takedown.get("last_seen_live_at")
    lines = [
        f"Tenggat penurunan konten di {platform} terlewati: konten masih dapat diakses.",
        "",
        f"Nomor kasus  : {number(snapshot['case_id'])}",
        f"Platform     : {platform}",
        f"Tautan       : {takedown['url']}",
        f"Dasar hukum  : {LEGAL_BASIS_LABELS[LegalBasis(takedown['legal_basis'])]}",
        f"Nomor tiket  : {takedown.get('platform_request_id') or '-'}",
        f"Diminta      : {_when(takedown['requested_at'], region)}",
        f"Tenggat      : {_when(takedown['deadline_at'], region)}"
        + (" (mendesak, 4 jam)" if takedown["urgent"] else " (1 x 24 jam)"),
        f"Terakhir ada : {_when(seen, region) if seen else '-'}",
        "",
        "Permenkominfo 5/2020 Pasal 14 mewajibkan platform menurunkan konten dalam tenggat ini.",
        "Tindak lanjuti dengan platform dan catat jawabannya pada kasus.",
        "",
        f"Buka kasus: {case_url}",
        "",
        f"Pesan ini dikirim otomatis oleh Pantau kepada tim {takedown['team']},"
        f" {agency_name(takedown['agency_id'], settings.agency_names)}.",
    ]
    message = MIMEText("\n".join(lines) + "\n", "plain", UTF8_QP)  # type: ignore[arg-type]  # compat32 takes a Charset
    message["Subject"] = Header(f"[Pantau] TENGGAT TERLEWATI: penurunan konten di {platform}", "utf-8")  # type: ignore[assignment]  # compat32 takes a Header
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(delivery_id)
    message["X-Pantau-Case"] = snapshot["case_id"]
    return message


def _when(moment: str, region: str | None) -> str:
    return local_time(datetime.fromisoformat(moment), region)


class WithTakedownAlerts:
    """Notify's handlers with the takedown alerts beside them: one table for the runtime."""

    def __init__(self, notify: Any, alerts: TakedownAlerts) -> None:
        self._notify = notify
        self.alerts = alerts

    def subscriptions(self) -> list[Subscription]:
        return [*self._notify.subscriptions(), self.alerts.subscription()]

    def answers(self) -> list[Answer[Any, Any]]:
        found: list[Answer[Any, Any]] = self._notify.answers()
        return found

    def streams(self) -> list[StreamConfig]:
        found: list[StreamConfig] = getattr(self._notify, "streams", list)()
        return found

    def background(self, stopping: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        found: list[Coroutine[Any, Any, None]] = getattr(self._notify, "background", lambda _: [])(stopping)
        return found

    async def close(self) -> None:
        await self._notify.close()
