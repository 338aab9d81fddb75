"""Email replies end to end: N replies in a real IMAP inbox, until each is applied and confirmed.

    python bench/email_replies.py [--replies 1000] [--database-url URL]

Starts a private Dovecot and an aiosmtpd recorder (the test servers), creates a database (a new
SQLite file by default; a PostgreSQL URL is emptied first: DROP SCHEMA public CASCADE), loads
the test network and publishes N/4 referrals to one program. It then appends N replies to the
inbox, as the gatekeeper and the provider would write them (Gmail-style, quoting the
notification): for each referral "assign dana@…", "accept", "status enrolled" and "note …", in
that order. Only then are the worker's two threads started (the IMAP listener and the outbox
dispatcher over SMTP), and the clock runs until every reply is applied and every confirmation
has reached the SMTP server. It also times `read_inbound` alone on the same N messages.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.texts import render_email  # noqa: E402
from handlers.email.replies import inbox_listener, read_inbound  # noqa: E402
from handlers.email.tokens import make_token, reply_address  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import InboundEmail, Referral, Staff  # noqa: E402

SECRET = "bench-secret-for-reply-tokens-0123456789"
MAIL_FROM = "closeloop <notify@closeloop.example.org>"
REPLY_TO = "replies@closeloop.example.org"
GATEKEEPER = "grace@heartland.example.org"
PROVIDER = "dana@heartland.example.org"
COMMANDS = (
    (GATEKEEPER, f"assign {PROVIDER}"),
    (PROVIDER, "accept"),
    (PROVIDER, "status enrolled"),
    (PROVIDER, "note called the family, intake visit on Thursday"),
)


def prepare_database(url: str | None, workdir: Path) -> str:
    if url is None:
        url = f"sqlite:///{workdir / 'bench.db'}"
    url = Settings(database_url=url, secret_key=SECRET).database_url
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    return url


def load_network(runtime: Runtime, referrals: int) -> list[tuple[int, str]]:
    """The test network and `referrals` published referrals; their (id, number)."""
    from bot.services.directory import import_directory, parse_directory
    from tests.network import small_network
    from tests.service.helpers import published

    with transaction(runtime.sessions) as session:
        directory = parse_directory(small_network(), source="bench")
        import_directory(session, directory=directory, source="bench")
    numbers = [published(runtime.sessions) for _ in range(referrals)]
    with transaction(runtime.sessions) as session:
        rows = session.execute(
            select(Referral.id, Referral.number).where(Referral.number.in_(numbers))
        ).all()
    return sorted((row[0], row[1] or "") for row in rows)


def build_replies(runtime: Runtime, referrals: list[tuple[int, str]]) -> list[bytes]:
    """Each person's reply to their own notification, quoting it, in the order they would come."""
    with transaction(runtime.sessions) as session:
        rows = session.execute(select(Staff.email, Staff.id))
        ids = {email: staff_id for email, staff_id in rows}
    issued = runtime.clock()
    replies: list[bytes] = []
    serial = 0
    for sender, command in COMMANDS:
        for referral_id, number in referrals:
            serial += 1
            token = make_token(
                SECRET,
                staff_id=ids[sender],
                subject_kind="r",
                subject_id=referral_id,
                issued=issued,
            )
            notice = render_email(
                "referral_published",
                {
                    "number": number,
                    "where": "Boone County",
                    "needs": [{"code": "RES", "name": "Residential support"}],
                    "urgency": "routine",
                    "age_days": 0,
                    "aging": False,
                    "audience": "gatekeeper",
                    "program": "Heartland Residential",
                    "recipient_name": "Grace Holt",
                },
            )
            quoted = "\n".join(f"> {line}" for line in notice.text.splitlines())
            message = EmailMessage()
            message["From"] = sender
            message["To"] = reply_address(REPLY_TO, token)
            message["Subject"] = f"Re: {notice.subject}"
            message["Message-ID"] = f"<bench-{serial}@heartland.example.org>"
            message["In-Reply-To"] = f"<closeloop.{serial}@closeloop.example.org>"
            message.set_content(
                f"{command}\n\nOn Mon, Mar 2, 2026 at 9:00 AM closeloop wrote:\n{quoted}\n"
            )
            replies.append(message.as_bytes(policy=SMTP))
    return replies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000, help="a multiple of 4")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        print("bench/email_replies.py needs Dovecot: apt-get install dovecot-imapd")
        return 2
    from tests.servers.dovecot import start_dovecot
    from tests.servers.smtp import SmtpRecorder, SmtpServer

    referrals = max(1, args.replies // len(COMMANDS))
    total = referrals * len(COMMANDS)
    workdir = Path(tempfile.mkdtemp(prefix="closeloop-bench-email-"))
    dovecot = start_dovecot()
    recorder = SmtpRecorder()
    smtp = SmtpServer(recorder)
    smtp.start()
    try:
        mailbox = dovecot.add_user()
        url = prepare_database(args.database_url, workdir)
        settings = Settings(
            database_url=url,
            smtp_url=smtp.url(),
            imap_url=mailbox.imap_url,
            mail_from=MAIL_FROM,
            reply_to=REPLY_TO,
            secret_key=SECRET,
        )
        runtime = Runtime(settings)
        print(f"database: {runtime.engine.dialect.name}; {referrals} referrals, {total} replies")
        pairs = load_network(runtime, referrals)
        runtime.dispatcher().drain()  # the publication emails, before the clock starts
        published_mail = len(recorder.messages)
        replies = build_replies(runtime, pairs)

        start = time.perf_counter()
        for raw in replies:
            read_inbound(raw, settings)
        parse_rate = total / (time.perf_counter() - start)
        print(f"read_inbound alone: {parse_rate:,.0f} msg/s")

        start = time.perf_counter()
        with mailbox._client() as client:
            for raw in replies:
                client.append("INBOX", raw)
        print(f"appended {total} replies to the inbox in {time.perf_counter() - start:.1f}s")

        stop = threading.Event()
        listener = inbox_listener(runtime.sessions, settings)
        dispatcher = runtime.dispatcher()
        threads = [
            threading.Thread(target=listener.run_forever, args=(stop,), daemon=True),
            threading.Thread(
                target=dispatcher.run_forever,
                args=(stop,),
                kwargs={"idle_seconds": 0.05},
                daemon=True,
            ),
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        applied_at = confirmed_at = None
        while confirmed_at is None:
            time.sleep(0.1)
            now = time.perf_counter() - start
            if applied_at is None:
                with transaction(runtime.sessions) as session:
                    handled = session.scalar(select(func.count()).select_from(InboundEmail)) or 0
                if handled >= total:
                    applied_at = now
            confirmations = sum(
                1 for m in recorder.messages if "recorded: your reply" in str(m.message["Subject"])
            )
            if confirmations >= total:
                confirmed_at = now
            if now > 3600:
                raise SystemExit(f"timed out: {confirmations} of {total} confirmations")
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        with transaction(runtime.sessions) as session:
            outcomes = session.execute(
                select(InboundEmail.reason, func.count()).group_by(InboundEmail.reason)
            ).all()
        assert applied_at is not None
        sent = len(recorder.messages) - published_mail
        print(f"outcomes: {dict((reason, n) for reason, n in outcomes)}")
        print(f"all {total} applied after {applied_at:.1f}s ({total / applied_at:,.0f} replies/s)")
        print(
            f"all {total} confirmations delivered after {confirmed_at:.1f}s "
            f"({total / confirmed_at:,.0f} replies/s); {sent} emails sent in all"
        )
        runtime.close()
        return 0
    finally:
        smtp.stop()
        dovecot.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
