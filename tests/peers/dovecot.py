"""A real Dovecot IMAP server for tests, with its own configuration in a temporary directory.

It listens on 127.0.0.1 and a free port, allows plaintext login (loopback only, no TLS), reads
users from passwd-files (one per user), and keeps each user's mail as a Maildir that `deliver`
writes into the way a local delivery agent does (a file in `tmp/`, renamed into `new/`).

As root, Dovecot's login and internal processes run as the `dovenull` and `dovecot` users the
Debian package creates, and mail is owned by the `mail` user (Dovecot refuses UID 0 for mail).
As any other user everything runs as that user (Dovecot's "rootless" mode, without chroots).
"""

import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

__all__ = ["Dovecot", "dovecot_binary"]


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class _Accounts:
    login_user: str
    internal_user: str
    internal_group: str
    mail_uid: int
    mail_gid: int


def _accounts() -> _Accounts:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(me.pw_gid).gr_name
        return _Accounts(me.pw_name, me.pw_name, group, me.pw_uid, me.pw_gid)
    mail = pwd.getpwnam("mail")
    return _Accounts("dovenull", "dovecot", "dovecot", mail.pw_uid, mail.pw_gid)


_CONFIG = """\
instance_name = pantau-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {accounts.login_user}
default_internal_user = {accounts.internal_user}
default_internal_group = {accounts.internal_group}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """`with Dovecot() as server:` starts it; `server.add_user(...)`, `server.deliver(...)`."""

    def __init__(self) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot is not installed (deploy/local/install-test-servers.sh)")
        version = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not version.startswith("2.3"):
            raise RuntimeError(f"the test harness writes a Dovecot 2.3 configuration; found {version}")
        self.binary, self.version = binary, version
        self.host, self.port = "127.0.0.1", _free_port()
        self._accounts = _accounts()
        # Not pytest's tmp_path: its parents are private to root, and mail runs as `mail`.
        self.root = Path(tempfile.mkdtemp(prefix="pantau-dovecot-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._sequence = 0

    def start(self) -> None:
        self.root.chmod(0o755)
        for name in ("run", "state", "home", "users"):
            (self.root / name).mkdir(mode=0o755)
        config = self.root / "dovecot.conf"
        config.write_text(_CONFIG.format(root=self.root, port=self.port, accounts=self._accounts))
        # A file, not a pipe: a pipe nobody reads would block Dovecot once it filled up.
        with (self.root / "stderr.log").open("wb") as stderr:
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float = 15.0) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = (self.root / "stderr.log").read_text(errors="replace")
                self._process = None
                raise RuntimeError(f"dovecot exited at start: {stderr}{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on {self.host}:{self.port}: {self.log()}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def add_user(self, name: str, password: str) -> None:
        if not re.fullmatch(r"[a-z0-9._-]+", name) or ":" in password or "\n" in password:
            raise ValueError("user names are [a-z0-9._-]; passwords without ':' or newlines")
        home = self.root / "home" / name
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        self._chown_tree(home)
        uid, gid = self._accounts.mail_uid, self._accounts.mail_gid
        # One passwd-file per user: Dovecot re-reads a changed file at most once a second, so a
        # user added to a shared file right after a login would not be found yet.
        entry = self.root / "users" / name
        entry.write_text(f"{name}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
        entry.chmod(0o644)

    def deliver(self, user: str, raw: bytes) -> Path:
        """Drop one message into the user's INBOX, as a local delivery agent does (unseen)."""
        maildir = self.root / "home" / user / "Maildir"
        self._sequence += 1
        name = f"{int(time.time())}.P{os.getpid()}Q{self._sequence}.pantau-test"
        staged = maildir / "tmp" / name
        staged.write_bytes(raw)
        self._chown(staged)
        final = maildir / "new" / name
        staged.rename(final)
        return final

    def flags(self, user: str, password: str, mailbox: str = "INBOX") -> dict[str, set[str]]:
        """Flags of every message in the mailbox, keyed by its Message-ID header value."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(user, password)
            client.select(f'"{mailbox}"', readonly=True)
            _, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        finally:
            client.logout()
        found: dict[str, set[str]] = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
            ident = re.search(rb"<[^>]+>", item[1])
            key = ident.group(0).decode() if ident else f"uid:{item[0].split()[0].decode()}"
            found[key] = set(flags.group(1).decode().split()) if flags else set()
        return found

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self._accounts.mail_uid, self._accounts.mail_gid)

    def _chown_tree(self, top: Path) -> None:
        self._chown(top)
        for path in top.rglob("*"):
            self._chown(path)
