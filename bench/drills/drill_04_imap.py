"""Drill 4: IMAP sessions killed mid-IDLE, Dovecot restarted and stopped while replies arrive.

A gatekeeper's replies (a note each, so none depends on another's order) are dropped into the
mailbox one by one while the worker runs, and meanwhile: the listener's session is killed
while in IDLE (no BYE), kicked (BYE), Dovecot is restarted, then stopped for a few seconds while
mail keeps arriving. Passes when every reply was applied exactly once (one note and one audit
event each), every message ended in Processed (none left in the inbox, none in Rejected), and
the worker caught up after the outage. recover_s: from Dovecot's return to the last reply
applied.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections import Counter
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.drills import inbound  # noqa: E402
from bench.drills.report import Outcome  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from handlers.email.tokens import make_token, reply_address  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.models import Staff  # noqa: E402

REFERRALS = 20
NOTES_EACH = 8
GATEKEEPER = "grace@heartland.example.org"
FEED_INTERVAL = 0.03
OUTAGE_SECONDS = 4.0
CATCH_UP_TIMEOUT = 300.0


def main() -> int:
    outcome = Outcome(4, "imap")
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        outcome.check(False, "Dovecot is not installed (apt-get install dovecot-imapd)")
        return outcome.finish()
    from tests.servers.dovecot import start_dovecot

    dovecot = start_dovecot()
    try:
        with inbound.workdir() as work, inbound.database(work) as url:
            mailbox = dovecot.add_user()
            settings = inbound.settings_for(url, mailbox.imap_url, work / "outbox.log")
            runtime = Runtime(settings)
            replies = notes(runtime, REFERRALS, NOTES_EACH)
            outcome.sent = len(replies)
            worker = inbound.Worker.start(
                runtime, backoff_initial=0.2, backoff_cap=1.0, socket_timeout=5.0
            )
            ledger = inbound.Ledger(url)
            try:
                faults, arrived, back_at, fed = run_faults(dovecot, mailbox, worker, replies)
                # recover_s: until the replies that arrived up to Dovecot's return are applied.
                inbound.wait_until(lambda: ledger.recorded() >= arrived, CATCH_UP_TIMEOUT)
                outcome.recover_s = time.monotonic() - back_at
                fed.join(120)
                caught_up = inbound.wait_until(
                    lambda: ledger.recorded() >= len(replies), CATCH_UP_TIMEOUT
                )
                # Everything recorded; give the listener its last MOVE before looking.
                inbound.wait_until(worker.listener.idling.is_set, 30)
                outcome.check(caught_up, f"not every reply handled within {CATCH_UP_TIMEOUT}s")
                judge(outcome, ledger, mailbox, replies)
                outcome.extra["faults"] = faults
                outcome.extra["connects"] = worker.listener.connects
                if not outcome.ok or outcome.recover_s > 30:
                    print(server_warnings(dovecot), file=sys.stderr)
            finally:
                worker.close()
                ledger.close()
    finally:
        dovecot.close()
    return outcome.finish()


def notes(runtime: Runtime, referrals: int, each: int) -> list[bytes]:
    """`referrals` published referrals and the gatekeeper's note replies to each, interleaved."""
    from bench.email_replies import load_network

    pairs = load_network(runtime, referrals)
    runtime.dispatcher().drain()
    with transaction(runtime.sessions) as session:
        staff_id = session.scalar(select(Staff.id).where(Staff.email == GATEKEEPER))
    assert staff_id is not None
    issued = runtime.clock()
    replies = []
    for round_ in range(each):
        for referral_id, number in pairs:
            token = make_token(
                runtime.settings.secret_key,
                staff_id=staff_id,
                subject_kind="r",
                subject_id=referral_id,
                issued=issued,
            )
            message = EmailMessage()
            message["From"] = GATEKEEPER
            message["To"] = reply_address(inbound.REPLY_TO, token)
            message["Subject"] = f"Re: [closeloop] {number}"
            message["Message-ID"] = f"<drill4-{number}-{round_}@heartland.example.org>"
            message.set_content(f"note drill call {round_} about {number}\n")
            replies.append(message.as_bytes(policy=SMTP))
    return replies


def run_faults(
    dovecot: object,
    mailbox: object,
    worker: inbound.Worker,
    replies: list[bytes],
) -> tuple[str, int, float, threading.Thread]:
    """Deliver the replies while the faults happen: (what was done, how many replies had
    arrived when Dovecot came back, when that was, and the thread delivering the rest).

    Three fifths arrive while the listener's session is killed, kicked and the server
    restarted, one fifth while the server is down, the last fifth after it is back."""
    from tests.servers.dovecot import DovecotServer, Mailbox

    assert isinstance(dovecot, DovecotServer) and isinstance(mailbox, Mailbox)
    fifth = len(replies) // 5
    delivered = [0]

    def feed(part: list[bytes], interval: float) -> None:
        for raw in part:
            # Straight into the maildir, as a delivery agent does: works while Dovecot is down.
            mailbox.deliver(raw)
            delivered[0] += 1
            time.sleep(interval)

    def feeder(part: list[bytes], interval: float) -> threading.Thread:
        thread = threading.Thread(target=feed, args=(part, interval), daemon=True)
        thread.start()
        return thread

    done = []
    listener = worker.listener

    def idle_on_a_new_session(after: int) -> bool:
        # `idling` stays set until the listener notices its session is gone.
        return inbound.wait_until(
            lambda: listener.connects > after and listener.idling.is_set(), 30
        )

    first = feeder(replies[: 3 * fifth], FEED_INTERVAL)
    if idle_on_a_new_session(0) and mailbox.kill_sessions():
        done.append("kill-mid-idle")
    if idle_on_a_new_session(1):
        mailbox.kick()
        done.append("kick-mid-idle")
    idle_on_a_new_session(2)
    dovecot.restart()
    done.append("restart")
    idle_on_a_new_session(3)
    first.join()
    dovecot.stop()
    feed(replies[3 * fifth : 4 * fifth], OUTAGE_SECONDS / fifth)
    dovecot.start()
    back_at = time.monotonic()
    done.append(f"down-{OUTAGE_SECONDS:.0f}s-while-{fifth}-arrived")
    arrived = delivered[0]
    return "+".join(done), arrived, back_at, feeder(replies[4 * fifth :], FEED_INTERVAL)


def judge(outcome: Outcome, ledger: inbound.Ledger, mailbox: object, replies: list[bytes]) -> None:
    from tests.servers.dovecot import Mailbox

    assert isinstance(mailbox, Mailbox)
    total = len(replies)
    reasons = ledger.reasons()
    applied = reasons.get("applied", 0)
    notes_audited = ledger.audited().get("note_added", 0)
    processed = Counter(message_id(raw) for raw in mailbox.list_folder("Processed"))
    rejected = mailbox.list_folder("Rejected")
    waiting = mailbox.list_folder("INBOX")
    outcome.received = applied
    outcome.lost = total - min(applied, total)
    outcome.doubled = max(0, notes_audited - total) + sum(n - 1 for n in processed.values())
    outcome.extra["processed"] = sum(processed.values())
    outcome.extra["rejected"] = len(rejected)
    outcome.extra["inbox"] = len(waiting)
    outcome.check(reasons == {"applied": total}, f"recorded outcomes {reasons}")
    outcome.check(notes_audited == total, f"{notes_audited} notes audited for {total} replies")
    outcome.check(outcome.lost == 0, "replies lost")
    outcome.check(outcome.doubled == 0, "replies doubled")
    outcome.check(
        not waiting and not rejected and sum(processed.values()) == total,
        "not every message filed once in Processed",
    )


def server_warnings(dovecot: object) -> str:
    from tests.servers.dovecot import DovecotServer

    assert isinstance(dovecot, DovecotServer)
    lines = dovecot.log_text().splitlines()
    return "\n".join(line for line in lines if "Warning" in line or "Error" in line)[-3000:]


def message_id(raw: bytes) -> str:
    return str(message_from_bytes(raw)["Message-ID"])


if __name__ == "__main__":
    raise SystemExit(main())
