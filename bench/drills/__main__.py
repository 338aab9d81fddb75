"""Run the fault drills: all of them, or those named (`python -m bench.drills 1 3 slow_relay`)."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DRILL = re.compile(r"^drill_(\d{2})_(\w+)$")


def drills() -> list[tuple[int, str]]:
    """(number, module name) of every drill here, in number order."""
    found = []
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        match = DRILL.match(module.name)
        if match:
            found.append((int(match.group(1)), module.name))
    return sorted(found)


def chosen(wanted: list[str]) -> list[str]:
    every = drills()
    if not wanted:
        return [name for _, name in every]
    picked = []
    for word in wanted:
        hits = [
            name
            for number, name in every
            if (word.isdigit() and int(word) == number) or word in name
        ]
        if not hits:
            raise SystemExit(
                f"no drill named {word!r}; there are: {', '.join(n for _, n in every)}"
            )
        picked.extend(hit for hit in hits if hit not in picked)
    return picked


def main(argv: list[str]) -> int:
    failed = []
    started = time.monotonic()
    for name in chosen(argv):
        module = importlib.import_module(f"bench.drills.{name}")
        try:
            status = module.main()
        except Exception as exc:  # a drill that crashes is a failed drill; the others still run
            print(f"{name}: crashed: {type(exc).__name__}: {exc}", flush=True)
            status = 1
        if status:
            failed.append(name)
    took = time.monotonic() - started
    print(f"drills: {'FAIL: ' + ', '.join(failed) if failed else 'all ok'} ({took:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
