"""`pantau-dev up --federation`: three complete instances on one machine, linked by an exchange.

Bawaslu Kota Pekalongan, Komdigi and Bawaslu Provinsi Jawa Tengah each get their own NATS server
(own JetStream domain, a leaf link to the exchange with its own NKey), database, Redis database,
services and gateway. Ports stay clear of a plain `pantau-dev up` (NATS 14222, PostgreSQL 15432,
Redis 16379, gateway 8080) and of servers the machine runs.
"""

import asyncio
import email.message
import signal
import threading
from pathlib import Path

from pantau_shared.federation import FederationTable

from .federation import DEMO_TABLE, FederatedNats
from .instances import Federation
from .mailsink import MailSink
from .servers import free_port
from .stack import ensure_database, start_servers

NATS_PORTS = {
    "exchange": 24222,
    "exchange-leaf": 27422,
    "pekalongan": 24223,
    "komdigi": 24224,
    "jateng": 24225,
}
GATEWAY_PORTS = {"pekalongan": 8180, "komdigi": 8280, "jateng": 8380}
HOAX = (
    '{"text": "Awas surat suara sudah dicoblos di gudang kecamatan, sebarkan sebelum dihapus!", '
    '"url": "https://www.facebook.com/groups/123/posts/789", "region_code": "33.75", '
    '"reporter": {"email": "warga@example.id", "wants_updates": true}}'
)


def say(text: str) -> None:
    print(f"[pantau-dev] {text}", flush=True)


def up_federation(home: Path) -> int:
    home = home / "federation"
    home.mkdir(parents=True, exist_ok=True)
    say(f"federation data directory {home}")
    table = FederationTable.load(DEMO_TABLE)
    servers = start_servers(home, postgres_port=25432, redis_port=26379, with_nats=False)
    nats = FederatedNats(home / "nats", table)
    sink = MailSink(home / "mail", free_port(1026), on_message=_announce)
    federation: Federation | None = None
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        admin = servers.database_url
        if not servers.embedded_database:
            base, _, _ = admin.rpartition("/")
            admin = f"{base}/postgres"
        asyncio.run(ensure_database(admin, "postgres"))
        nats.start(NATS_PORTS)
        say(
            f"exchange {nats.url('exchange')}; "
            + ", ".join(f"{i.name} {nats.url(i.name)}" for i in table.instances)
        )
        sink.start()
        federation = Federation(home, nats, DEMO_TABLE, admin, servers.redis_url, sink.port)
        say("preparing the three instances (databases, demo agencies, keys)")
        federation.prepare(gateway_ports=GATEWAY_PORTS)
        federation.start()
        print(_instructions(federation, sink.directory), flush=True)
        stop.wait()
        say("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if federation is not None:
            federation.stop()
        sink.stop()
        nats.stop()
        servers.stop()
        say("stopped")


def _announce(message: email.message.EmailMessage, path: Path) -> None:
    say(f"mail to {message['To']}: {message['Subject']} ({path.name})")


def _instructions(federation: Federation, mail_dir: Path) -> str:
    lines = ["", "Three Pantau instances are running, each with its own NATS, database and services:"]
    for member in federation.instances.values():
        lines.append(f"  {member.agency.name} ({member.agency.agency_id}, instance {member.name})")
        lines.append(f"      API {member.api}   key {member.key}")
    pekalongan, komdigi = federation.instances["pekalongan"], federation.instances["komdigi"]
    pk, kk = f"-H 'X-API-Key: {pekalongan.key}'", f"-H 'X-API-Key: {komdigi.key}'"
    json_body = "-H 'Content-Type: application/json' -d"
    lines += [
        "",
        "Report a hoax to Pekalongan; Komdigi's instance opens its own case for it:",
        f"  curl -sS -X POST {pekalongan.api}/v1/reports {pk} \\",
        f"       {json_body} '{HOAX}'",
        f"  curl -sS {pekalongan.api}/v1/cases/CASE_ID/referrals {pk}     # pending",
        f"  curl -sS {komdigi.api}/v1/referrals {kk}                      # Komdigi's side",
        "Komdigi takes it on and moves its own case; each step shows up at Pekalongan:",
        f"  curl -sS -X POST {komdigi.api}/v1/referrals/REFERRAL_ID/accept {kk} \\",
        f'       {json_body} \'{{"actor": "Rina"}}\'',
        f"  curl -sS -X POST {komdigi.api}/v1/cases/KOMDIGI_CASE_ID/transitions {kk} \\",
        f'       {json_body} \'{{"to": "closed", "actor": "Rina", "resolution": "taken_down"}}\'',
        "A village head campaigning goes up to Bawaslu Jawa Tengah by the escalation rule.",
        f"Alerts and news to reporters land in {mail_dir}/*.eml. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)
