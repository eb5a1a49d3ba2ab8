"""pantau-intake: the composition root of the intake process."""

import sys
from collections.abc import Sequence

from pantau_shared.bus import Publisher, RpcClient
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.sealing import Keyring
from pantau_shared.settings import PlatformSettings
from pantau_shared.whatsapp import WhatsAppClient
from pantau_shared.worker import worker_main

from .conversations import Conversations
from .evidence import Evidence
from .flood import FloodGuard
from .handlers import IntakeHandlers
from .mail_intake import MailIntake
from .media import MediaEvidence
from .monitoring.service import Monitoring, WithMonitoring
from .settings import IntakeSettings


def build(infra: Infrastructure, platform: PlatformSettings, settings: IntakeSettings) -> WithMonitoring:
    keyring = Keyring([key.get_secret_value() for key in settings.reporter_private_keys])
    evidence = Evidence.build(infra.pool, infra.outbox, settings)
    mail = MailIntake(
        settings,
        Publisher(infra.js, infra.subjects, source="/pantau/intake/email"),
        keyring.sealer(),
        platform.drain_timeout_s,
        evidence.store,
    )
    whatsapp = None
    if settings.whatsapp_base_url and settings.whatsapp_access_token:
        whatsapp = WhatsAppClient(
            settings.whatsapp_base_url,
            "",
            settings.whatsapp_access_token.get_secret_value(),
            api_version=settings.whatsapp_api_version,
        )
    flood = FloodGuard(infra.redis, platform.subject_root, settings.sender_daily_limit)
    conversations = Conversations(
        infra.pool,
        infra.outbox,
        flood,
        quiet_s=settings.conversation_window_s,
        longest_s=settings.conversation_longest_s,
        evidence=evidence.on_store,
    )
    handlers = IntakeHandlers(
        infra.pool,
        infra.outbox,
        settings.reporter_pepper.get_secret_value().encode(),
        flood,
        mail,
        MediaEvidence(whatsapp, evidence.store),
        conversations,
        keyring=keyring,
        evidence=evidence.on_store,
    )
    rpc = RpcClient(infra.nc, infra.subjects)
    monitoring = Monitoring.build(
        infra.pool, infra.outbox, infra.redis, rpc, settings, platform.subject_root, evidence.on_store
    )
    return WithMonitoring(handlers, monitoring, evidence)


def main(argv: Sequence[str] | None = None) -> None:
    worker_main(service="intake", settings_type=IntakeSettings, build=build, argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
