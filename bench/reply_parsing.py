"""Reply reading, measured: closeloop's reader against the reply-parsing libraries, side by side.

    python bench/reply_parsing.py [--corpora DIR] [--repeat N] [--timeout SECONDS]

Prints, for closeloop and for each library that is importable (email-reply-parser,
mail-parser-reply, talon), the accuracy on our own corpus (tests/fixtures/email/replies, read to
a command) and on the hand-labelled sample of the public corpora (public-labels.json), the speed
in messages per second on the same decoded bodies, and any case that ran past the time limit.
Then it counts how many of the sisimai bounce/auto-reply messages the classifier recognises.

Every library call runs in a worker process that is killed when one message takes longer than
--timeout: some public samples are built to make naive regular expressions backtrack for minutes.
The public corpora are found beside the repository (../shared/corpora) unless --corpora is given.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.email.commands import parse_command  # noqa: E402
from handlers.email.quotes import extract_reply  # noqa: E402
from handlers.email.reading import body_text, html_to_text, read_message  # noqa: E402

REPLIES = ROOT / "tests" / "fixtures" / "email" / "replies"
REPLY_ADDRESS = "replies@closeloop.example.org"
Extractor = Callable[[str], str]


def extractors() -> dict[str, Extractor | str]:
    """Name -> function, or the reason it is unavailable."""
    found: dict[str, Extractor | str] = {"closeloop": extract_reply}
    try:
        from email_reply_parser import EmailReplyParser as Zapier

        found["email-reply-parser"] = lambda text: Zapier.parse_reply(text) or ""
    except ImportError:
        found["email-reply-parser"] = "not installed"
    try:
        from mailparser_reply import EmailReplyParser as Rau
        from mailparser_reply.constants import MAIL_LANGUAGES

        rau = Rau(languages=list(MAIL_LANGUAGES))

        def rau_reply(text: str) -> str:
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

        def talon_reply(text: str) -> str:
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
        text = conn.recv()
        if text is None:
            return
        try:
            start = time.perf_counter()
            for _ in range(repeat):
                out = function(text)
            elapsed = (time.perf_counter() - start) / repeat
            conn.send((out, elapsed))
        except Exception as exc:  # a library's crash is a result to report, not ours to fix
            conn.send((f"<error {type(exc).__name__}>", 0.0))


def run_guarded(
    name: str, texts: list[str], repeat: int, timeout: float
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


def own_cases() -> list[tuple[str, str, dict[str, Any]]]:
    expected = json.loads((REPLIES / "expected.json").read_text())
    cases = []
    for name, want in sorted(expected.items()):
        if want["kind"] != "reply":
            continue
        cases.append((name, body_text((REPLIES / name).read_bytes()), want))
    return cases


def command_matches(extracted: str, want: dict[str, Any]) -> bool:
    command, _ = parse_command(extracted)
    if command is None:
        return want["verb"] is None
    got = (command.verb, command.reason, command.argument, command.comment)
    return got == (want["verb"], want["reason"], want["argument"], want["comment"])


def public_cases(corpora: Path, held_out: bool) -> list[tuple[str, str, list[str]]]:
    labels = json.loads((REPLIES / "public-labels.json").read_text())["cases"]
    cases = []
    for path, label in labels.items():
        file = corpora / path
        if not file.exists() or (label.get("set") == "held-out") != held_out:
            continue
        if file.suffix == ".eml":
            text = body_text(file.read_bytes(), max_body_bytes=10_000_000)
        elif file.suffix == ".html":
            text = html_to_text(file.read_text("utf-8", errors="replace"))
        else:
            text = file.read_text("utf-8", errors="replace")
        if "lines" in label:
            lines = text.replace("\r\n", "\n").split("\n")
            answers = [
                "\n".join(line for a, b in variant for line in lines[a - 1 : b])
                for variant in label["lines"]
            ]
        else:
            answers = list(label["text"])
        cases.append((path, text, [squash(a) for a in answers]))
    return cases


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
        right += all(got[key] == want[key] for key in got)
    return f"{right}/{len(expected)}"


Case = tuple[str, str, Any]


def score(
    name: str, cases: list[Case], right: Callable[[str, Any], bool], args: argparse.Namespace
) -> tuple[int, list[tuple[str, str | None]], list[float]]:
    """Correct answers, the misses (path, output; None for a timeout) and per-message seconds."""
    results = run_guarded(name, [text for _, text, _ in cases], args.repeat, args.timeout)
    correct = 0
    misses: list[tuple[str, str | None]] = []
    for (path, _, want), (out, _) in zip(cases, results, strict=True):
        if out is not None and right(out, want):
            correct += 1
        else:
            misses.append((path, out))
    return correct, misses, [seconds for out, seconds in results if out is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()

    own: list[Case] = own_cases()
    dev: list[Case] = public_cases(args.corpora, held_out=False)
    held: list[Case] = public_cases(args.corpora, held_out=True)
    print(
        f"own corpus: {len(own)} replies; public labelled sample: {len(dev)} bodies used in "
        f"development + {len(held)} held out"
    )
    print(f"closeloop read_message, exact outcome on own samples: {own_outcomes()}")
    start = time.perf_counter()
    files = sorted(REPLIES.glob("*.eml"))
    for _ in range(args.repeat):
        for file in files:
            read_message(file.read_bytes(), reply_address=REPLY_ADDRESS)
    rate = len(files) * args.repeat / (time.perf_counter() - start)
    print(f"closeloop read_message, whole pipeline (MIME + strip + command): {rate:,.0f} msg/s")

    def same_text(out: str, answers: Any) -> bool:
        return squash(out) in answers

    header = (
        f"{'reader':<20} {'own corpus':>11} {'public dev':>11} {'held out':>11} "
        f"{'msg/s':>9} {'slowest':>9}  timeouts"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for name, function in extractors().items():
        if isinstance(function, str):
            print(f"{name:<20} {function}")
            continue
        own_ok, own_miss, own_s = score(name, own, command_matches, args)
        dev_ok, dev_miss, dev_s = score(name, dev, same_text, args)
        held_ok, held_miss, held_s = score(name, held, same_text, args)
        seconds = own_s + dev_s + held_s
        misses = own_miss + dev_miss + held_miss
        timeouts = [path for path, out in misses if out is None]
        speed = len(seconds) / sum(seconds) if sum(seconds) else 0.0
        print(
            f"{name:<20} {own_ok:>5}/{len(own):<5} {dev_ok:>5}/{len(dev):<5} "
            f"{held_ok:>5}/{len(held):<5} {speed:>9,.0f} {max(seconds, default=0):>8.3f}s  "
            f"{', '.join(timeouts) or '-'}"
        )
        if args.verbose:
            for path, out in misses:
                shown = "<timeout>" if out is None else squash(out)[:100]
                print(f"    miss {path}: {shown!r}")
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
