"""Meta's pace: a delay added to every Graph response, so benchmarks and training feel real latency.

Meta answers in roughly 100 to 300 ms a call. `Latency.parse("150")` is a fixed 150 ms;
`Latency.parse("100-300")` draws each request's delay uniformly from that range. The control
API (/_sandbox/) is never delayed: it stands for things that happen outside the Graph API.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?$")
MAX_MS = 60_000.0


@dataclass(frozen=True)
class Latency:
    low_ms: float = 0.0
    high_ms: float = 0.0

    @classmethod
    def parse(cls, text: str | float | int | None) -> "Latency":
        """'150' or '100-300' (milliseconds); None or '' is no delay."""
        if text is None or str(text).strip() == "":
            return cls()
        match = _SPEC.match(str(text))
        if not match:
            raise ValueError(f"latency {text!r}: give milliseconds, e.g. 150, or a range such as 100-300")
        low = float(match.group(1))
        high = float(match.group(2)) if match.group(2) is not None else low
        if high < low or high > MAX_MS:
            raise ValueError(f"latency {text!r}: the range must run low-high, at most {MAX_MS:.0f} ms")
        return cls(low, high)

    def draw(self) -> float:
        """This request's delay in seconds."""
        if self.high_ms <= 0:
            return 0.0
        return (self.low_ms if self.low_ms == self.high_ms else random.uniform(self.low_ms, self.high_ms)) / 1000.0

    def __str__(self) -> str:
        return "none" if self.high_ms <= 0 else (
            f"{self.low_ms:g} ms" if self.low_ms == self.high_ms else f"{self.low_ms:g}-{self.high_ms:g} ms")
