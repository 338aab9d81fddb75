"""The one line every drill prints, and what it returns (the contract in bench/drills/__init__)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What a drill saw: messages sent and received, lost and doubled, seconds to recover."""

    number: int
    name: str
    sent: int = 0
    received: int = 0
    lost: int = 0
    doubled: int = 0
    recover_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def check(self, condition: bool, why: str) -> None:
        """Record a failed expectation (the drill goes on, so every figure is printed)."""
        if not condition:
            self.failures.append(why)

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        recover = "-" if self.recover_s is None else f"{self.recover_s:.1f}"
        extra = "".join(f" {key}={value}" for key, value in self.extra.items())
        verdict = "ok" if self.ok else "FAIL (" + "; ".join(self.failures) + ")"
        return (
            f"drill {self.number:02d} {self.name}: sent={self.sent} received={self.received} "
            f"lost={self.lost} doubled={self.doubled} recover_s={recover}{extra} {verdict}"
        )

    def finish(self) -> int:
        """Print the line (with the machine's load) and return the exit status."""
        self.extra.setdefault("load", "/".join(f"{x:.2f}" for x in os.getloadavg()))
        print(self.line(), flush=True)
        return 0 if self.ok else 1
