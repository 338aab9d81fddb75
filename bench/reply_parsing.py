"""Reply reading, measured: closeloop's reader against the reply-parsing libraries, side by side.

    python bench/reply_parsing.py [--runs N] [--repeat N] [--timeout SECONDS] [--verbose]
                                  [--readers closeloop,talon,...]

Prints, for closeloop and for each library that is importable (email-reply-parser,
mail-parser-reply, talon), exact-match counts on the same files:

- own corpus (tests/fixtures/email/replies): the stripped text against the expected `reply`, and
  the command read from that text (by closeloop's command and phrasing reader, for every
  stripper alike) against the expected verb, reason, argument and comment;
- the public samples copied into tests/fixtures/email/public (labels.json): GitHub's, Zapier's,
  mail-parser-reply's, Crisp's and talon's bodies, hand-labelled, in the development and held-out
  sets (the third held-out round also has sisimai's vacation replies and delivery notices, the
  fourth only delivery notices);
  mailgun/forge's 192 Enron bodies whose signature lines are tagged by its authors; talon's
  six signature samples;

then the stripping speed in messages per second over all of those bodies (--runs times, with
min/median/max, beside a floor: one `str.split` of the same bodies) and the load average. Each
reader is given the body text and the sender's display name (talon's and the other libraries'
plain-text APIs take no sender; closeloop uses it to recognise a signature that is just a name).
Then it counts how many of the sisimai bounce/auto-reply messages the classifier recognises, when
the shared corpora are found beside the repository (../shared/corpora) or at --corpora.

Every library call runs in a worker process that is killed when one message takes longer than
--timeout: some public samples are built to make naive regular expressions backtrack for minutes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.email.commands import parse_command  # noqa: E402
from handlers.email.phrasing import understand  # noqa: E402
from handlers.email.quotes import extract_reply, name_forms  # noqa: E402
from handlers.email.reading import body_text, html_to_text, read_message  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "email"
REPLIES = FIXTURES / "replies"
PUBLIC = FIXTURES / "public"
LONG_QUOTE = FIXTURES / "pathological" / "email_long_quote.txt.gz"
REPLY_ADDRESS = "replies@closeloop.example.org"
# (body text, sender display name) -> the reply text
Extractor = Callable[[str, str], str]


def closeloop_reply(text: str, sender: str) -> str:
    return extract_reply(text, sender_names=name_forms(sender))


def extractors() -> dict[str, Extractor | str]:
    """Name -> function, or the reason it is unavailable."""
    found: dict[str, Extractor | str] = {"closeloop": closeloop_reply}
    try:
        from email_reply_parser import EmailReplyParser as Zapier

        found["email-reply-parser"] = lambda text, _: Zapier.parse_reply(text) or ""
    except ImportError:
        found["email-reply-parser"] = "not installed"
    try:
        from mailparser_reply import EmailReplyParser as Rau
        from mailparser_reply.constants import MAIL_LANGUAGES

        rau = Rau(languages=list(MAIL_LANGUAGES))

        def rau_reply(text: str, sender: str) -> str:
            # .body is the library's reply without its signature and disclaimers
            replies = rau.read(text).replies
            return str(replies[0].body) if replies else ""

        found["mail-parser-reply"] = rau_reply
    except ImportError:
        found["mail-parser-reply"] = "not installed"
    try:
        import talon
        from talon import quotations
        from talon.signature.bruteforce import extract_signature

        talon.init()

        # talon's machine-learnt signature extractor (which takes the sender) no longer loads
        # with current scikit-learn; its brute-force one is what runs.
        def talon_reply(text: str, sender: str) -> str:
            reply = quotations.extract_from_plain(text)
            return str(extract_signature(reply)[0])

        found["talon"] = talon_reply
    except ImportError:
        found["talon"] = "not installed"
    return found


def _worker(name: str, conn: Connection, repeat: int) -> None:
    function = extractors()[name]
    assert callable(function)
    while True:
        item = conn.recv()
        if item is None:
            return
        text, sender = item
        try:
            start = time.perf_counter()
            for _ in range(repeat):
                out = function(text, sender)
            elapsed = (time.perf_counter() - start) / repeat
            conn.send((out, elapsed))
        except Exception as exc:  # a library's crash is a result to report, not ours to fix
            conn.send((f"<error {type(exc).__name__}>", 0.0))


def run_guarded(
    name: str, texts: list[tuple[str, str]], repeat: int, timeout: float
) -> list[tuple[str | None, float]]:
    """Each text through one extractor; None marks a text that ran past the timeout."""
    context = mp.get_context("fork")
    results: list[tuple[str | None, float]] = []
    process = None
    parent: Connection | None = None
    for text in texts:
        if process is None or parent is None:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(name, child, repeat), daemon=True)
            process.start()
        parent.send(text)
        if parent.poll(timeout * repeat):
            results.append(parent.recv())
            continue
        process.kill()
        process.join()
        process, parent = None, None
        results.append((None, timeout))
    if process is not None and parent is not None:
        parent.send(None)
        process.join()
    return results


def squash(text: str) -> str:
    return " ".join(text.split())


# A case: (name, body text, sender's display name, what is right).
Case = tuple[str, str, str, Any]


def own_cases() -> list[Case]:
    expected = json.loads((REPLIES / "expected.json").read_text())
    cases = []
    for name, want in sorted(expected.items()):
        if want["kind"] != "reply":
            continue
        raw = (REPLIES / name).read_bytes()
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        sender = parseaddr(str(msg.get("from", "")))[0]
        cases.append((name, body_text(raw), sender, want))
    return cases


def read_command(reply: str) -> tuple[str | None, str | None, str | None, str]:
    """What closeloop acts on from a stripped reply: the command, or (for a question) nothing."""
    reading = understand(reply, *parse_command(reply))
    command = reading.command
    if command is None:
        return (None, None, None, "")
    return (command.verb, command.reason, command.argument, command.comment)


def command_matches(extracted: str, want: dict[str, Any]) -> bool:
    return read_command(extracted) == (
        want["verb"],
        want["reason"],
        want["argument"],
        want["comment"],
    )


def reply_matches(extracted: str, want: dict[str, Any]) -> bool:
    return squash(extracted) == squash(want["reply"])


def _public_text(path: str) -> str:
    file = PUBLIC / path
    if path.endswith("email_long_quote.txt"):
        return gzip.decompress(LONG_QUOTE.read_bytes()).decode("utf-8", errors="replace")
    if file.suffix == ".eml":
        return body_text(file.read_bytes(), max_body_bytes=10_000_000)
    if file.suffix == ".html":
        return html_to_text(file.read_text("utf-8", errors="replace"))
    text = file.read_text("utf-8", errors="replace")
    if "/signature/emails/P/" in path:  # talon marks reply and signature lines in these
        text = "\n".join(untag(line) for line in text.split("\n"))
    return text


def untag(line: str) -> str:
    return line.removeprefix("#reply#").removeprefix("#sig#")


def public_cases(round_: str) -> list[Case]:
    """The hand-labelled bodies of one round: "dev" (from the start), "dev-2", "held-out-2",
    "held-out-3" (replies and vacation replies), "held-out-3-dsn" and "held-out-4" (delivery-status
    notices)."""
    labels = json.loads((PUBLIC / "labels.json").read_text())["cases"]
    cases = []
    for path, label in labels.items():
        if label.get("set", "dev") != round_:
            continue
        text = _public_text(path)
        if "lines" in label:
            lines = text.replace("\r\n", "\n").split("\n")
            answers = [
                "\n".join(line for a, b in variant for line in lines[a - 1 : b])
                for variant in label["lines"]
            ]
        else:
            answers = list(label["text"])
        cases.append((path, text, "", [squash(a) for a in answers]))
    return cases


def forge_cases() -> list[Case]:
    """mailgun/forge: its authors tagged each signature line with "#sig#"; the rest is right."""
    cases = []
    for body in sorted((PUBLIC / "forge" / "dataset").glob("*/*_body")):
        lines = body.read_text("utf-8", errors="replace").split("\n")
        text = "\n".join(line.removeprefix("#sig#") for line in lines)
        want = "\n".join(line for line in lines if not line.startswith("#sig#"))
        sender_file = body.with_name(body.name.removesuffix("_body") + "_sender")
        sender = sender_file.read_text("utf-8", errors="replace").strip()
        name = parseaddr(sender)[0] if "<" in sender else sender.partition("[")[0]
        cases.append((f"forge/{body.parent.name}/{body.name}", text, name.strip(), [squash(want)]))
    return cases


def talon_signature_cases() -> list[Case]:
    """talon's signature samples: the body without its `_signature` file's text is right (one
    body also tags its signature lines "#sig#", as forge does)."""
    folder = PUBLIC / "talon" / "tests" / "fixtures" / "signature" / "emails" / "stripped"
    cases = []
    for body in sorted(folder.glob("*_body")):
        stem = body.name.removesuffix("_body")
        lines = body.read_text("utf-8").split("\n")
        text = "\n".join(line.removeprefix("#sig#") for line in lines)
        kept = "\n".join(line for line in lines if not line.startswith("#sig#")).strip()
        signature = (folder / f"{stem}_signature").read_text("utf-8").strip()
        want = kept.removesuffix(signature) if signature else kept
        sender = (folder / f"{stem}_sender").read_text("utf-8").strip()
        cases.append((f"talon-signature/{stem}", text, sender, [squash(want)]))
    return cases


def same_text(out: str, answers: Any) -> bool:
    return squash(out) in answers


def own_outcomes() -> str:
    """How many own samples read_message gets exactly right (kind, verb, reason, ...)."""
    expected = json.loads((REPLIES / "expected.json").read_text())
    right = 0
    for name, want in expected.items():
        msg = read_message((REPLIES / name).read_bytes(), reply_address=REPLY_ADDRESS)
        command = msg.command
        got = {
            "kind": msg.kind,
            "verb": command.verb if command else None,
            "reason": command.reason if command else None,
            "argument": command.argument if command else None,
            "comment": command.comment if command else "",
        }
        right += all(got[key] == want[key] for key in got) and msg.reply == want.get(
            "reply", msg.reply
        )
    return f"{right}/{len(expected)}"


def score(
    results: list[tuple[str | None, float]], cases: list[Case], right: Callable[[str, Any], bool]
) -> tuple[int, list[tuple[str, str | None]]]:
    """Correct answers and the misses (name, output; None for a timeout)."""
    correct = 0
    misses: list[tuple[str, str | None]] = []
    for (name, _, _, want), (out, _) in zip(cases, results, strict=True):
        if out is not None and right(out, want):
            correct += 1
        else:
            misses.append((name, out))
    return correct, misses


def speed_runs(cases: list[Case], runs: int) -> tuple[list[float], list[float], list[float]]:
    """closeloop's stripping rate over every body, `runs` times: by the wall clock, by this
    process's CPU time (what a shared, loaded machine does not distort), and the floor's (one
    `str.split` of each body), by the wall clock."""
    items = [(text, sender) for _, text, sender, _ in cases]
    rates, cpu_rates, floors = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        for text, _ in items:
            text.split("\n")
        floors.append(len(items) / (time.perf_counter() - start))
        start, cpu = time.perf_counter(), time.process_time()
        for text, sender in items:
            closeloop_reply(text, sender)
        cpu_rates.append(len(items) / (time.process_time() - cpu))
        rates.append(len(items) / (time.perf_counter() - start))
    return rates, cpu_rates, floors


def spread(values: list[float]) -> str:
    return (
        f"min {min(values):,.0f} / median {statistics.median(values):,.0f} / max {max(values):,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument(
        "--readers", default="", help="comma-separated readers to score (default: every one)"
    )
    args = parser.parse_args()

    own = own_cases()
    sets: dict[str, list[Case]] = {
        "public dev": public_cases("dev"),
        "public dev-2": public_cases("dev-2"),
        "held out 2": public_cases("held-out-2"),
        "held out 3": public_cases("held-out-3"),
        "held out 3 DSN": public_cases("held-out-3-dsn"),
        "held out 4 DSN": public_cases("held-out-4"),
        "forge sig": forge_cases(),
        "talon sig": talon_signature_cases(),
    }
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"own corpus: {len(own)} replies; "
        + ", ".join(f"{name}: {len(cases)}" for name, cases in sets.items())
    )
    print(f"closeloop read_message, exact outcome on own samples: {own_outcomes()}")
    start = time.perf_counter()
    files = sorted(REPLIES.glob("*.eml"))
    for _ in range(args.repeat):
        for file in files:
            read_message(file.read_bytes(), reply_address=REPLY_ADDRESS)
    rate = len(files) * args.repeat / (time.perf_counter() - start)
    print(f"closeloop read_message, whole pipeline (MIME + strip + command): {rate:,.0f} msg/s")

    columns = ["own strip", "own command", *sets]
    header = f"{'reader':<20} " + " ".join(f"{c:>12}" for c in columns)
    header += f" {'msg/s':>9} {'slowest':>9}  timeouts"
    print("\n" + header + "\n" + "-" * len(header))
    everything = own + [case for cases in sets.values() for case in cases]
    chosen = {name for name in args.readers.split(",") if name}
    for name, function in extractors().items():
        if chosen and name not in chosen:
            continue
        if isinstance(function, str):
            print(f"{name:<20} {function}")
            continue
        items = [(text, sender) for _, text, sender, _ in everything]
        results = run_guarded(name, items, args.repeat, args.timeout)
        own_results = results[: len(own)]
        cells = []
        misses: list[tuple[str, str | None]] = []
        for cases, right, part in (
            (own, reply_matches, own_results),
            (own, command_matches, own_results),
        ):
            ok, missed = score(part, cases, right)
            cells.append(f"{ok}/{len(cases)}")
            misses += missed
        offset = len(own)
        for cases in sets.values():
            ok, missed = score(results[offset : offset + len(cases)], cases, same_text)
            offset += len(cases)
            cells.append(f"{ok}/{len(cases)}")
            misses += missed
        seconds = [s for out, s in results if out is not None]
        timeouts = [path for path, out in misses if out is None]
        speed = len(seconds) / sum(seconds) if sum(seconds) else 0.0
        print(
            f"{name:<20} "
            + " ".join(f"{c:>12}" for c in cells)
            + f" {speed:>9,.0f} {max(seconds, default=0):>8.3f}s  {', '.join(timeouts) or '-'}"
        )
        if args.verbose:
            for path, out in misses:
                shown = "<timeout>" if out is None else squash(out)[:100]
                print(f"    miss {path}: {shown!r}")
    rates, cpu_rates, floors = speed_runs(everything, args.runs)
    print(f"\ncloseloop stripping, {len(everything)} bodies, {args.runs} runs:")
    print(f"  wall clock:   {spread(rates)} msg/s")
    print(f"  CPU time:     {spread(cpu_rates)} msg/s")
    print(f"  floor (wall): {spread(floors)} msg/s (one str.split of each body)")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sisimai(args.corpora)


def sisimai(corpora: Path) -> None:
    folder = corpora / "sisimai-set-of-emails" / "maildir"
    if not folder.exists():
        print("\nsisimai corpus not found; skipped")
        return
    for sub in ("bsd", "not"):
        kinds: Counter[str] = Counter()
        by_family: dict[str, Counter[str]] = {}
        for file in sorted((folder / sub).glob("*.eml")):
            kind = read_message(file.read_bytes(), reply_address=REPLY_ADDRESS).kind
            kinds[kind] += 1
            family = file.name.rsplit("-", 1)[0]
            by_family.setdefault(family, Counter())[kind] += 1
        total = sum(kinds.values())
        print(f"\nsisimai maildir/{sub}: {total} messages -> {dict(kinds)}")
        missed = {f: dict(c) for f, c in by_family.items() if c.get("other")}
        if missed and sub == "bsd":
            print("  families with messages read as 'other':", json.dumps(missed, sort_keys=True))


if __name__ == "__main__":
    main()
