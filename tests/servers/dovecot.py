"""A private Dovecot IMAP server in a temporary directory, one fresh mailbox user per test."""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from imapclient import IMAPClient

from tests.servers import free_port, self_signed_cert, server_missing

INSTALL_HINT = "install Dovecot: apt-get install dovecot-imapd"
HOST = "127.0.0.1"
_START_TIMEOUT = 15.0
_USERS = 200
# Characters that must be URL-encoded in IMAP_URL, so every test exercises the decoding.
_PASSWORD = "s3cret/p@ss word"


@dataclass(frozen=True)
class _Accounts:
    """The system users Dovecot runs its processes and mail access as."""

    internal_user: str
    login_user: str
    mail_uid: int
    mail_gid: int


class DovecotServer:
    """A Dovecot master process with its own config, sockets, logs and maildirs under `root`."""

    def __init__(
        self,
        root: Path,
        *,
        dovecot: str,
        doveadm: str,
        openssl: str | None,
        capabilities: str | None = None,
    ) -> None:
        self.root = root
        self.host = HOST
        self.port = free_port()
        self.tls_port: int | None = None
        self._dovecot = dovecot
        self._doveadm = doveadm
        self._accounts = _accounts()
        self._process: subprocess.Popen[bytes] | None = None
        self._users = itertools.count(1)
        self.config = root / "dovecot.conf"
        self.passwd = root / "users"
        self.mail = root / "mail"
        self.log = root / "dovecot.log"
        self.console = root / "console.log"
        for sub in ("run", "state", "mail"):
            (root / sub).mkdir()
        # Login and auth processes run as unprivileged users and must reach the sockets here.
        root.chmod(0o755)
        os.chown(self.mail, self._accounts.mail_uid, self._accounts.mail_gid)
        # Written once: Dovecot caches the file by modification time, which has one-second
        # resolution, so users appended later in the same second would not be seen.
        ids = self._accounts
        self.passwd.write_text(
            "".join(
                f"user{n}:{{PLAIN}}{_PASSWORD}:{ids.mail_uid}:{ids.mail_gid}::{self.mail}/user{n}::\n"
                for n in range(1, _USERS + 1)
            )
        )
        cert: tuple[Path, Path] | None = None
        if openssl is not None:
            cert = self_signed_cert(root, openssl)
            self.tls_port = free_port()
        self.cert = cert[0] if cert else None
        self.config.write_text(self._config_text(cert, capabilities))

    def start(self) -> None:
        """Start the master process and wait until it accepts IMAP connections."""
        if self._process is not None:
            return
        # Configuration errors are printed before the log file is open.
        with self.console.open("ab") as console:
            self._process = subprocess.Popen(
                [self._dovecot, "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=console,
                # Its own process group, so stop() can reach every child the master leaves.
                start_new_session=True,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"Dovecot exited at start:\n{self.log_text()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Dovecot did not listen within {_START_TIMEOUT}s:\n{self.log_text()}")

    def stop(self) -> None:
        """Stop the master and every process it started (client connections drop)."""
        process, self._process = self._process, None
        if process is None:
            return
        # Killing the whole group at once is quicker than the master's graceful shutdown
        # (a second or more), which would also leave client sessions and frozen processes
        # running; a stopped test server must drop its connections as a crashed one would.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def add_user(self) -> Mailbox:
        """A user nobody has used yet, with an empty maildir."""
        number = next(self._users)
        if number > _USERS:
            raise RuntimeError(f"all {_USERS} test mailboxes of this Dovecot are used")
        return Mailbox(self, f"user{number}", _PASSWORD)

    def kick(self, user: str) -> None:
        """Disconnect every session of `user` (the server says BYE, like an admin kick)."""
        self._doveadm_run("kick", user)

    def kill_sessions(self, user: str) -> int:
        """Kill `user`'s imap processes outright: the client sees its connection drop, no BYE."""
        pids = self._imap_pids(user)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def freeze_sessions(self, user: str) -> int:
        """Stop `user`'s imap processes: connections stay open but the server never answers."""
        pids = self._imap_pids(user)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return len(pids)

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Give `folder` a new UIDVALIDITY, as a server does after rebuilding its indexes."""
        self._doveadm_run("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def log_text(self) -> str:
        """What the server printed and logged, for failure messages."""
        return "".join(
            path.read_text(errors="replace") for path in (self.console, self.log) if path.exists()
        )

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _imap_pids(self, user: str) -> list[int]:
        listing = self._doveadm_run("who", "-1", user)
        # Columns: username, proto, pid, ip; the first line is the header.
        return [int(line.split()[2]) for line in listing.splitlines()[1:] if line.strip()]

    def _doveadm_run(self, *args: str) -> str:
        result = subprocess.run(
            [self._doveadm, "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=15,
        )
        if result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def _config_text(self, cert: tuple[Path, Path] | None, capabilities: str | None) -> str:
        a = self._accounts
        mail_ids = (
            f"mail_uid = {a.mail_uid}\nmail_gid = {a.mail_gid}\n" if os.geteuid() == 0 else ""
        )
        if cert is None:
            ssl = "ssl = no\n"
            imaps = "port = 0"
        else:
            ssl = f"ssl = yes\nssl_cert = <{cert[0]}\nssl_key = <{cert[1]}\n"
            imaps = f"address = {HOST}\n    port = {self.tls_port}"
        return f"""\
# Throwaway test server: nothing here reads /etc/dovecot.
protocols = imap
listen = {HOST}
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log}
info_log_path = {self.log}
instance_name = closeloop-test-{self.port}
default_internal_user = {a.internal_user}
default_internal_group = {_group_of(a.internal_user)}
default_login_user = {a.login_user}
first_valid_uid = 1
{mail_ids}{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
# Refused logins answer at once: tests of wrong passwords need no two-second pauses.
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
# IDLE learns of new mail from inotify; when a change slips past it (mail arriving as IDLE
# starts), Dovecot's fallback re-check is 30 s by default, longer than any test waits.
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = {self.passwd}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service anvil {{
  chroot =
  # No growing login delays for 127.0.0.1 after the wrong-password tests.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap {{
  # One process per connection, so one session can be killed or frozen on its own.
  client_limit = 1
}}
{f"imap_capability = {capabilities}" if capabilities else ""}
"""


@dataclass
class Mailbox:
    """One user's mailbox on the test server, with helpers that talk real IMAP to it."""

    server: DovecotServer
    user: str
    password: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def imap_url(self) -> str:
        return f"imap://{self._credentials()}@{self.host}:{self.port}/INBOX"

    @property
    def imaps_url(self) -> str:
        if self.server.tls_port is None:
            raise RuntimeError("this Dovecot was started without TLS (openssl missing)")
        return (
            f"imaps://{self._credentials()}@{self.host}:{self.server.tls_port}/INBOX?verify=false"
        )

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self._client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)

    def list_folder(self, folder: str) -> list[bytes]:
        """The raw messages in `folder`, in UID order; empty when the folder does not exist."""
        with self._client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    def folders(self) -> list[str]:
        with self._client() as client:
            return sorted(name for _flags, _delim, name in client.list_folders())

    def deliver(self, raw: bytes) -> None:
        """Drop a message into the INBOX maildir the way a local delivery agent does.

        Works while the server is stopped; Dovecot indexes it on the next login.
        """
        maildir = self.server.mail / self.user / "Maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.P{os.getpid()}.closeloop-test"
        tmp = maildir / "tmp" / name
        tmp.write_bytes(raw)
        ids = self.server._accounts
        # Only what this method may have made: Dovecot's own files (a uidlist lock, say) come
        # and go while it runs, and a chown of one that just went away would fail.
        subdirs = [maildir / sub for sub in ("tmp", "new", "cur")]
        for path in (self.server.mail / self.user, maildir, *subdirs, tmp):
            os.chown(path, ids.mail_uid, ids.mail_gid)
        tmp.rename(maildir / "new" / name)

    def kick(self) -> None:
        self.server.kick(self.user)

    def kill_sessions(self) -> int:
        return self.server.kill_sessions(self.user)

    def session_count(self) -> int:
        """How many imap processes serve this user now (a logged-out one may linger briefly)."""
        return len(self.server._imap_pids(self.user))

    def freeze_sessions(self) -> int:
        return self.server.freeze_sessions(self.user)

    def set_uidvalidity(self, value: int, folder: str = "INBOX") -> None:
        self.server.set_uidvalidity(self.user, folder, value)

    @property
    def uidvalidity(self) -> int:
        with self._client() as client:
            status = client.folder_status("INBOX", [b"UIDVALIDITY"])
            return int(status[b"UIDVALIDITY"])

    def _credentials(self) -> str:
        return f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"

    @contextlib.contextmanager
    def _client(self) -> Iterator[IMAPClient]:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()


def start_dovecot(capabilities: str | None = None) -> DovecotServer:
    """Start a private Dovecot, or skip (fail under CI=true) when it is not installed.

    `capabilities` replaces the advertised IMAP capabilities, to imitate an older server.
    """
    dovecot, doveadm = shutil.which("dovecot"), shutil.which("doveadm")
    if dovecot is None or doveadm is None:
        server_missing(INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="closeloop-dovecot-"))
    openssl = shutil.which("openssl")
    server = DovecotServer(
        root, dovecot=dovecot, doveadm=doveadm, openssl=openssl, capabilities=capabilities
    )
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


def _accounts() -> _Accounts:
    me = pwd.getpwuid(os.geteuid())
    if me.pw_uid != 0:
        # Rootless Dovecot: every process, and mail access, runs as the current user.
        return _Accounts(me.pw_name, me.pw_name, me.pw_uid, me.pw_gid)
    # Dovecot refuses to run login processes or mail access as root.
    nobody = pwd.getpwnam("nobody")
    internal = _existing_user("dovecot") or nobody.pw_name
    login = _existing_user("dovenull") or nobody.pw_name
    return _Accounts(internal, login, nobody.pw_uid, nobody.pw_gid)


def _existing_user(name: str) -> str | None:
    try:
        return pwd.getpwnam(name).pw_name
    except KeyError:
        return None


def _group_of(user: str) -> str:
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
