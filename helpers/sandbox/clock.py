"""The sandbox's clock: wall time plus an offset, which the control API can advance or freeze.

Everything time-based (code and token expiry, the 24-hour window, the 72-hour register
limit, throughput buckets, webhook retry backoff) reads this clock, so tests move time
forward instead of sleeping.
"""
from __future__ import annotations

import time


class SandboxClock:
    def __init__(self, offset: float = 0.0, frozen_at: float | None = None) -> None:
        self.offset = offset
        self.frozen_at = frozen_at

    def now(self) -> float:
        return self.frozen_at if self.frozen_at is not None else time.time() + self.offset

    def advance(self, seconds: float) -> float:
        if self.frozen_at is not None:
            self.frozen_at += seconds
        else:
            self.offset += seconds
        return self.now()

    def freeze(self) -> None:
        """Stop time (throughput buckets stop refilling) until unfreeze()."""
        if self.frozen_at is None:
            self.frozen_at = self.now()

    def unfreeze(self) -> None:
        if self.frozen_at is not None:
            self.offset = self.frozen_at - time.time()
            self.frozen_at = None

    def to_dict(self) -> dict:
        return {"offset": self.offset, "frozen_at": self.frozen_at}

    @classmethod
    def from_dict(cls, data: dict) -> "SandboxClock":
        return cls(float(data.get("offset", 0.0)), data.get("frozen_at"))
