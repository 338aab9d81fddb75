"""Drill 9: the bounce corpus and auto-replies through the real inbound path.

Into a real Dovecot inbox go the public bounce corpus (sisimai's set of emails: DSNs of many
mail servers, RFC 3834 auto-replies, abuse reports; found beside the repository in
../shared/corpora, or under CORPORA_DIR) and auto-replies of our own making that are as
dangerous as an auto-reply can be: from a staff member's own address, to a valid signed reply
address, their first line a command ("accept", "decline staffing", "Accept my apologies...").
The worker's listener and dispatcher handle them. Passes when none was applied (no change, no
work audited), none was answered (no confirmation, no error email), and each was recorded
once and filed in Rejected. The recorded reasons are printed (bounce=, auto_reply=, other=).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
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
from handlers.email.ledger import message_key  # noqa: E402
from handlers.email.replies import read_inbound  # noqa: E402
from handlers.email.tokens import make_token, reply_address  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.models import Staff  # noqa: E402

GATEKEEPER = "grace@heartland.example.org"
CORPUS = Path("sisimai-set-of-emails") / "maildir" / "bsd"
HANDLE_TIMEOUT = 300.0
# What an auto-reply may make happen: the bounce bookkeeping, nothing a person would do.
ALLOWED_AUDIT = {"email_bouncing"}
ANSWERS = ("email_confirmation", "email_error")

# (extra headers, subject prefix, body): the shapes auto-responders send.
AUTO_REPLIES: list[tuple[dict[str, str], str, str]] = [
    ({"Auto-Submitted": "auto-replied"}, "Re: ", "accept\n\nI am away until Monday."),
    ({"Auto-Submitted": "auto-generated"}, "Re: ", "decline staffing\n"),
    ({"X-Autoreply": "yes"}, "Re: ", "accept\n"),
    ({"X-Autorespond": "Out of office"}, "Re: ", "Accept my apologies, I am out of office.\n"),
    ({"Precedence": "auto_reply"}, "Re: ", "accept\n"),
    ({"X-Auto-Response-Suppress": "All"}, "Automatic reply: ", "accept\n"),
    ({}, "Out of Office: ", "accept - back on the 9th\n"),
    ({}, "Abwesenheitsnotiz: ", "accept\nIch bin bis Montag nicht im Büro.\n"),
    ({}, "Respuesta automática: ", "accept\nEstoy fuera de la oficina.\n"),
    ({"Precedence": "list", "List-Id": "<intake.lists.heartland.example.org>"}, "Re: ", "accept\n"),
]


def main() -> int:
    outcome = Outcome(9, "bounces")
    corpora = corpora_dir()
    corpus = sorted((corpora / CORPUS).glob("*.eml"))
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        outcome.check(False, "Dovecot is not installed (apt-get install dovecot-imapd)")
        return outcome.finish()
    if not corpus:
        outcome.check(False, f"the bounce corpus is not in {corpora / CORPUS} (set CORPORA_DIR)")
        return outcome.finish()
    from tests.servers.dovecot import start_dovecot

    dovecot = start_dovecot()
    try:
        with inbound.workdir() as work, inbound.database(work) as url:
            mailbox = dovecot.add_user()
            settings = inbound.settings_for(url, mailbox.imap_url, work / "outbox.log")
            runtime = Runtime(settings)
            # On the wire mail has CRLF line ends; the corpus is stored with LF.
            messages = [crlf(path.read_bytes()) for path in corpus]
            messages += auto_replies(runtime)
            distinct = {
                message_key(read_inbound(raw, settings).message_id, raw) for raw in messages
            }
            outcome.sent = len(messages)
            with mailbox._client() as client:
                for raw in messages:
                    client.append("INBOX", raw)
            ledger = inbound.Ledger(url)
            started = time.monotonic()
            worker = inbound.Worker.start(runtime)
            try:
                handled = inbound.wait_until(
                    lambda: ledger.recorded() >= len(distinct), HANDLE_TIMEOUT
                )
                outcome.extra["took_s"] = f"{time.monotonic() - started:.1f}"
                inbound.wait_until(worker.listener.idling.is_set, 30)
                outcome.check(handled, f"not all recorded within {HANDLE_TIMEOUT:.0f}s")
            finally:
                worker.close()
            judge(outcome, ledger, mailbox, len(messages), len(distinct))
            ledger.close()
    finally:
        dovecot.close()
    return outcome.finish()


def corpora_dir() -> Path:
    """CORPORA_DIR, or the nearest shared/corpora beside the repository (a checkout's parent,
    or further up for a git worktree)."""
    if os.environ.get("CORPORA_DIR"):
        return Path(os.environ["CORPORA_DIR"])
    beside = [folder / "shared" / "corpora" for folder in ROOT.parents]
    return next((path for path in beside if path.is_dir()), beside[0])


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def auto_replies(runtime: Runtime) -> list[bytes]:
    """Auto-replies from the gatekeeper's own address to the reply address of a real
    notification of theirs: everything a real reply has, except a person writing it."""
    from bench.email_replies import load_network

    [(referral_id, number)] = load_network(runtime, 1)
    runtime.dispatcher().drain()
    with transaction(runtime.sessions) as session:
        staff_id = session.scalar(select(Staff.id).where(Staff.email == GATEKEEPER))
    assert staff_id is not None
    token = make_token(
        runtime.settings.secret_key,
        staff_id=staff_id,
        subject_kind="r",
        subject_id=referral_id,
        issued=runtime.clock(),
    )
    made = []
    for serial, (headers, prefix, body) in enumerate(AUTO_REPLIES, 1):
        message = EmailMessage()
        message["From"] = f"Grace Holt <{GATEKEEPER}>"
        message["To"] = reply_address(inbound.REPLY_TO, token)
        message["Subject"] = f"{prefix}[closeloop] {number} new referral: Boone County"
        message["Message-ID"] = f"<drill9-auto-{serial}@heartland.example.org>"
        for name, value in headers.items():
            message[name] = value
        message.set_content(body)
        made.append(message.as_bytes(policy=SMTP))
    return made


def judge(
    outcome: Outcome, ledger: inbound.Ledger, mailbox: object, sent: int, distinct: int
) -> None:
    from tests.servers.dovecot import Mailbox

    assert isinstance(mailbox, Mailbox)
    reasons = Counter(ledger.reasons())
    recorded = sum(reasons.values())
    rejected = len(mailbox.list_folder("Rejected"))
    processed = len(mailbox.list_folder("Processed"))
    waiting = len(mailbox.list_folder("INBOX"))
    applied = reasons["applied"] + reasons["unchanged"]
    work = {a: n for a, n in ledger.audited().items() if a not in ALLOWED_AUDIT}
    answered = ledger.outbox(*ANSWERS)
    outcome.received = recorded
    outcome.lost = max(0, distinct - recorded) + waiting
    outcome.doubled = max(0, rejected + processed - sent)
    outcome.extra.update(
        {
            "distinct": distinct,
            "bounce": reasons["bounce"],
            "auto_reply": reasons["auto_reply"],
            "other": recorded - reasons["bounce"] - reasons["auto_reply"],
            "applied": applied,
            "answered": answered,
            "admin_alerts": ledger.outbox("email_bouncing"),
        }
    )
    outcome.check(applied == 0 and not work, f"applied: {applied}, work audited: {work}")
    outcome.check(answered == 0, f"{answered} answers written")
    outcome.check(recorded == distinct, f"{recorded} recorded of {distinct} distinct messages")
    outcome.check(
        rejected == sent and processed == 0 and waiting == 0,
        f"filed: {rejected} rejected, {processed} processed, {waiting} left in the inbox",
    )
    others = {r: n for r, n in reasons.items() if r not in ("bounce", "auto_reply")}
    if others:
        outcome.extra["other_reasons"] = ",".join(f"{r}:{n}" for r, n in sorted(others.items()))


if __name__ == "__main__":
    raise SystemExit(main())
