"""pantau-dev: the whole platform on one machine, for trying Pantau and for development.

pantau-dev up                  servers, migrations, the four services, a demo agency, a local
                               mail server and WhatsApp Cloud API; Ctrl-C stops all (one run
                               per data directory: a second says where the first runs)
pantau-dev whatsapp TEXT       send the running platform a WhatsApp message, as Meta would
pantau-dev mail TEXT           send the running platform's report mailbox an email
"""

import argparse
import asyncio
import contextlib
import email.message
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pantau_shared.sealing import new_key_pair, public_key_of

from . import monitoring_demo
from .federated_up import up_federation
from .local_channels import LocalWhatsApp, send_mail, send_whatsapp
from .local_evidence import LocalEvidence
from .mailsink import MailSink
from .monitoring_demo import LocalPlatforms
from .processes import Platform, ServiceProcesses
from .running import RunLock
from .servers import free_port
from .stack import ensure_database, start_servers
from .whatsapp_cloud import PHONE_NUMBER_ID

DEMO_AGENCY = "bawaslu-3375"
DEMO_AGENCY_NAME = "Bawaslu Kota Pekalongan"
DEMO_REGION = "33.75"
DEMO_PATROL = "patroli@bawaslu-pekalongan.example"
DEMO_SUPERVISOR = "koordinator@bawaslu-pekalongan.example"
DEMO_MAILBOX = "lapor@bawaslu-pekalongan.example"
# The console's demo account: the supervisor who gets the escalations signs in with it.
DEMO_OFFICER = "Koordinator Patroli"
# Development-only secrets of the local WhatsApp Business app (the gateway refuses none of them,
# but a production deployment sets its own).
DEV_APP_SECRET = "dev-whatsapp-app-secret"
DEV_VERIFY_TOKEN = "dev-whatsapp-verify-token"
DEV_ACCESS_TOKEN = "dev-whatsapp-access-token"
ACK_MINUTES = "2"


def say(text: str) -> None:
    try:
        print(f"[pantau-dev] {text}", flush=True)
    except OSError:
        # The terminal went away (a closed pipe): keep running, and above all keep stopping
        # cleanly, rather than leave the servers behind.
        pass


def demo_agency(platform: Platform, home: Path) -> str:
    """The demo agency and its API key, kept in `home` so it stays the same across restarts."""
    key_file = home / "demo-api-key"
    platform.command(
        "gateway",
        "create-agency",
        "--id",
        DEMO_AGENCY,
        "--name",
        DEMO_AGENCY_NAME,
        "--kind",
        "bawaslu",
        "--region",
        DEMO_REGION,
    )
    if key_file.exists():
        key = key_file.read_text().strip()
        platform.command("gateway", "add-key", "--agency", DEMO_AGENCY, "--label", "demo", "--key", key)
    else:
        key = platform.command("gateway", "add-key", "--agency", DEMO_AGENCY, "--label", "demo")
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    return key


def demo_officer(platform: Platform, home: Path) -> None:
    """The demo supervisor's console password, kept in `home` like the key; the account is
    created once (a second `add-user` for the same address is refused, and that is fine)."""
    password_file = home / "demo-console-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(12) + "\n")
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    with open(os.devnull, "w") as quiet:
        try:
            platform.command(
                "gateway",
                "add-user",
                "--agency",
                DEMO_AGENCY,
                "--email",
                DEMO_SUPERVISOR,
                "--name",
                DEMO_OFFICER,
                "--role",
                "supervisor",
                "--password-stdin",
                output=quiet,
                stdin=password + "\n",
            )
        except subprocess.CalledProcessError:
            pass


def sealing_keys(home: Path) -> dict[str, str]:
    """This data directory's own key pair for reporters' contacts on the bus (kept across
    restarts, so what is on the streams stays readable), as the two services take it."""
    key_file = home / "reporter-private-key"
    if not key_file.exists():
        key_file.write_text(new_key_pair()[0])
        key_file.chmod(0o600)
    private = key_file.read_text().strip()
    return {
        "PANTAU_INTAKE_REPORTER_PRIVATE_KEYS": json.dumps([private]),
        "PANTAU_GATEWAY_REPORTER_PUBLIC_KEY": public_key_of(private),
    }


def demo_team(platform: Platform) -> None:
    team = platform.command(
        "notify",
        "add-team",
        "--agency",
        DEMO_AGENCY,
        "--name",
        "Tim Patroli Siber Kota Pekalongan",
        "--region",
        DEMO_REGION,
        "--ack-minutes",
        ACK_MINUTES,
        "--supervisor-email",
        DEMO_SUPERVISOR,
    )
    platform.command(
        "notify",
        "add-member",
        "--team-id",
        team,
        "--name",
        "Petugas jaga",
        "--email",
        DEMO_PATROL,
        "--position",
        "0",
        "--shift",
        "* 00:00-00:00",
    )


def instructions(platform: Platform, key: str, password: str, mail_dir: Path) -> str:
    api = f"http://127.0.0.1:{platform.gateway_port}"
    body = (
        '{"text": "Besok pagi serangan fajar di Kelurahan Podosugih, tiap rumah dapat amplop '
        '100 ribu asal coblos nomor 3", "url": "https://www.facebook.com/groups/123/posts/456'
        '?fbclid=abc", "region_code": "33.75"}'
    )
    return f"""
Pantau is running. API: {api}  (OpenAPI: {api}/docs)
Demo agency: Bawaslu Kota Pekalongan ({DEMO_AGENCY}), API key: {key}
Console: {api}/konsol/  (sign in as {DEMO_SUPERVISOR}, password {password})

Submit a report:
  curl -sS -X POST {api}/v1/reports -H 'X-API-Key: {key}' \\
       -H 'Content-Type: application/json' -d '{body}'

Then, with the report_id it returns:
  curl -sS {api}/v1/reports/REPORT_ID -H 'X-API-Key: {key}'              # normalised, with case_id
  curl -sS {api}/v1/cases/CASE_ID -H 'X-API-Key: {key}'                  # category, priority, state
  curl -sS {api}/v1/cases/CASE_ID/notifications -H 'X-API-Key: {key}'    # the patrol alert

Patrol alerts go by email to the member on duty ({DEMO_PATROL}); unacknowledged after
{ACK_MINUTES} minutes they escalate to {DEMO_SUPERVISOR}. Each alert has a link to acknowledge it, or:
  curl -sS -X POST {api}/v1/notifications/DELIVERY_ID/ack -H 'X-API-Key: {key}' \\
       -H 'Content-Type: application/json' -d '{{"actor": "Siti"}}'
The local mail server keeps every message in {mail_dir}/*.eml and prints a line here for
each one; the local WhatsApp Cloud API prints every message Pantau sends.

Report as the public does, from another terminal:
  .venv/bin/pantau-dev whatsapp 'Kades bagi amplop 100 ribu ke warga, coblos nomor 2'
  .venv/bin/pantau-dev mail 'Ada ajakan membakar kantor KPU kalau paslon kalah'
(the reporter gets the report number back, and news when the case changes state).
Ctrl-C stops everything.
"""


def up(home: Path, gateway_port: int) -> int:
    home.mkdir(parents=True, exist_ok=True)
    lock = RunLock(home)
    if not lock.acquire():
        return already_running(home, lock.holder())
    try:
        return run_platform(home, gateway_port)
    finally:
        lock.release()


def already_running(home: Path, pid: str) -> int:
    try:
        api = f"http://127.0.0.1:{json.loads((home / 'dev.json').read_text())['gateway_port']}"
    except (FileNotFoundError, ValueError, KeyError):
        api = "still starting"
    say(
        f"Pantau is already running from {home} (pantau-dev pid {pid}; API {api}); nothing was "
        f"changed. Use that one, or stop it first: Ctrl-C in its terminal, or kill {pid}."
    )
    return 1


def run_platform(home: Path, gateway_port: int) -> int:
    started = time.monotonic()

    def progress(text: str) -> None:
        say(f"{text} ({time.monotonic() - started:.1f} s)")

    say(f"data directory {home}")
    with contextlib.ExitStack() as stack:
        servers = start_servers(home, nats_port=14222, postgres_port=15432, redis_port=16379)
        stack.callback(servers.stop)
        if servers.embedded_database:
            servers.database_url = asyncio.run(ensure_database(servers.database_url, "pantau"))
        else:
            # A server of the user's own: create the named database if it is not there yet.
            base, _, name = servers.database_url.rpartition("/")
            asyncio.run(ensure_database(f"{base}/postgres", name.split("?")[0]))
        progress(f"NATS {servers.nats_url}, PostgreSQL {servers.database_url}, Redis {servers.redis_url}")

        def announce(message: email.message.EmailMessage, path: Path) -> None:
            say(f"mail to {message['To']}: {message['Subject']} ({path})")

        smtp_port = int(os.environ.get("PANTAU_NOTIFY_SMTP_PORT", "0")) or free_port(1025)
        if not os.environ.get("PANTAU_NOTIFY_SMTP_HOST"):
            sink = MailSink(home / "mail", smtp_port, on_message=announce)
            sink.start()
            stack.callback(sink.stop)
        whatsapp = LocalWhatsApp(free_port(8090))
        whatsapp.start()
        stack.callback(whatsapp.stop)
        platforms = LocalPlatforms(free_port(8095))
        platforms.start()
        stack.callback(platforms.stop)
        # Reported links are preserved from this posts site and stamped by this local TSA.
        evidence = LocalEvidence(home, free_port(8318), free_port(8096))
        evidence.start()
        stack.callback(evidence.stop)
        dev = {
            "gateway_port": gateway_port,
            "mail_port": free_port(2525),
            "app_secret": DEV_APP_SECRET,
            "mailbox": DEMO_MAILBOX,
        }
        (home / "dev.json").write_text(json.dumps(dev))
        platform = Platform(
            nats_url=servers.nats_url,
            database_url=servers.database_url,
            redis_url=servers.redis_url,
            smtp_port=smtp_port,
            gateway_port=gateway_port,
            subject_root=os.environ.get("PANTAU_SUBJECT_ROOT", "pantau"),
            extra_env={
                "PANTAU_LOG_FORMAT": "text",
                "PANTAU_GATEWAY_WHATSAPP_APP_SECRET": DEV_APP_SECRET,
                "PANTAU_GATEWAY_WHATSAPP_VERIFY_TOKEN": DEV_VERIFY_TOKEN,
                "PANTAU_NOTIFY_WHATSAPP_BASE_URL": whatsapp.base_url,
                "PANTAU_NOTIFY_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
                "PANTAU_NOTIFY_WHATSAPP_ACCESS_TOKEN": DEV_ACCESS_TOKEN,
                "PANTAU_INTAKE_WHATSAPP_BASE_URL": whatsapp.base_url,
                "PANTAU_INTAKE_WHATSAPP_ACCESS_TOKEN": DEV_ACCESS_TOKEN,
                # Short, so the demo's receipt follows at once; 30 s in production.
                "PANTAU_INTAKE_CONVERSATION_WINDOW_S": "5",
                # 'pantau-dev mail' stamps its mail as this local receiving server would.
                "PANTAU_INTAKE_EMAIL_TRUSTED_AUTHSERV_IDS": '["mx.pantau.local"]',
                "PANTAU_INTAKE_EMAIL_VERIFY_DKIM": "false",
                "PANTAU_INTAKE_EMAIL_SMTP_ENABLED": "true",
                "PANTAU_INTAKE_EMAIL_SMTP_PORT": str(dev["mail_port"]),
                "PANTAU_INTAKE_EMAIL_RECIPIENTS": json.dumps({DEMO_MAILBOX: DEMO_AGENCY}),
                "PANTAU_NOTIFY_AGENCY_NAMES": json.dumps({DEMO_AGENCY: DEMO_AGENCY_NAME}),
                **monitoring_demo.demo_env(platforms, home, DEMO_AGENCY, DEMO_REGION),
                **sealing_keys(home),
                **evidence.env(),
            },
        )
        services = ServiceProcesses(platform)
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stack.callback(stop_services, services)
        # Each service applies its migrations and declares its streams and consumers as it
        # starts (under a lock, and only what is missing), so there is no separate setup step;
        # the demo is seeded meanwhile, and only once for the data kept in `home`.
        progress("starting intake, triage, notify and gateway; each applies what is new of its migrations")
        services.start()
        stamp = home / "seeded.json"
        # Skipped only where the data lives beside the stamp (the embedded PostgreSQL), so a
        # database reset elsewhere is never taken for seeded.
        demo_files = (home / "demo-api-key", home / "demo-console-password")
        if servers.embedded_database and seeded(stamp, platform) and all(f.exists() for f in demo_files):
            key = (home / "demo-api-key").read_text().strip()
            progress("demo agency, API key, patrol team and console account already seeded")
        else:
            progress("seeding the demo agency, its API key, its patrol team and a console account")
            with ThreadPoolExecutor(2) as pool:
                agency, team = pool.submit(demo_agency, platform, home), pool.submit(demo_team, platform)
                key = agency.result()
                team.result()
            # After the agency: the account belongs to it.
            demo_officer(platform, home)
            stamp.write_text(json.dumps(seed_stamp(platform)))
        services.wait_ready(on_ready=lambda name: progress(f"{name} ready"))
        progress("sample registry imported: " + monitoring_demo.import_sample_registry(platform.command))
        try:
            password = (home / "demo-console-password").read_text().strip()
            print(instructions(platform, key, password, home / "mail"), flush=True)
            api = f"http://127.0.0.1:{platform.gateway_port}"
            print(monitoring_demo.instructions(api, key, platforms), flush=True)
        except OSError:
            pass
        stop.wait()
        say("stopping")
    say("stopped")
    return 0


def seed_stamp(platform: Platform) -> dict[str, str]:
    """What the demo was seeded with, where: a change to either seeds again."""
    demo = [
        DEMO_AGENCY,
        DEMO_AGENCY_NAME,
        DEMO_REGION,
        DEMO_PATROL,
        DEMO_SUPERVISOR,
        ACK_MINUTES,
        DEMO_OFFICER,
    ]
    return {"database": platform.database_url, "subject_root": platform.subject_root, "demo": "|".join(demo)}


def seeded(stamp: Path, platform: Platform) -> bool:
    try:
        return bool(json.loads(stamp.read_text()) == seed_stamp(platform))
    except (FileNotFoundError, ValueError):
        return False


def stop_services(services: ServiceProcesses) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    codes = services.stop()
    if codes:
        say("services stopped: " + ", ".join(f"{k}={v}" for k, v in codes.items()))


def command_line() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pantau-dev", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get("PANTAU_DEV_HOME", ".pantau")),
        help="data directory of the platform: servers' data, mail, the demo key (default: .pantau,"
        " or PANTAU_DEV_HOME)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help="what to do (default: up)")
    start = commands.add_parser("up", help="run the whole platform (the default)")
    start.add_argument("--gateway-port", type=int, default=8080, help="port of the HTTP API (default: 8080)")
    start.add_argument(
        "--federation",
        action="store_true",
        help="three instances (Pekalongan, Komdigi, Jawa Tengah), each with its own servers, linked",
    )
    message = commands.add_parser("whatsapp", help="send a WhatsApp message to the platform")
    message.add_argument("text", help="the message, as the reporter types it")
    message.add_argument(
        "--from",
        dest="sender",
        default="6281234567890",
        help="sender's WhatsApp number (default: %(default)s)",
    )
    message.add_argument(
        "--name", default="Warga Pelapor", help="sender's profile name (default: %(default)s)"
    )
    mail = commands.add_parser("mail", help="send an email to the platform's report mailbox")
    mail.add_argument("text", help="the body of the email")
    mail.add_argument(
        "--from",
        dest="sender",
        default="Warga Pelapor <warga@example.id>",
        help="sender's address (default: %(default)s)",
    )
    mail.add_argument(
        "--subject", default="Laporan dugaan pelanggaran pemilu", help="subject line (default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = command_line().parse_args(argv)
    home = args.home.resolve()
    if args.command == "whatsapp":
        sys.exit(send_whatsapp(home, args.text, args.sender, args.name))
    if args.command == "mail":
        sys.exit(send_mail(home, args.text, args.sender, args.subject))
    if getattr(args, "federation", False):
        sys.exit(up_federation(home))
    sys.exit(up(home, getattr(args, "gateway_port", 8080)))


if __name__ == "__main__":
    main(sys.argv[1:])
