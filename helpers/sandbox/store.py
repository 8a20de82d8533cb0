"""The sandbox's state store: every resource by id, the consumers and their 24-hour windows, the writes
ledger, the clock, and the snapshot of them all (to_dict/from_dict, for persistence.py).

The resource modules (tokens.py, wabas.py, phone_numbers.py, messages.py, business_profile.py) add Meta's
rules to it as mixins; state.py composes them into SandboxState. All calls happen on the server's
event loop thread, so nothing here locks.
"""
from __future__ import annotations

import dataclasses
from typing import Self

from .clock import SandboxClock
from .models import MODEL, WRITE_KINDS, App, Business, PhoneNumber, Token, Waba


class Store:
    """The resources and counters the resource mixins share; the snapshot of them."""

    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self.businesses: dict[str, Business] = {}
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, Token] = {}
        self.wabas: dict[str, Waba] = {}
        self.phones: dict[str, PhoneNumber] = {}
        self.consumers: dict[str, str] = {}            # wa_id -> profile name
        self.windows: dict[str, float] = {}            # "phone_id:wa_id" -> last inbound message time
        self.signup_codes: dict[str, dict] = {}
        self.throughput_buckets: dict[str, tuple[float, float]] = {}   # phone_id -> (tokens, at); not persisted
        self.usage_calls: dict[tuple[str, str, int], int] = {}         # (business, BUC type, hour) -> calls
        # Writes applied, per kind and key (GET /_sandbox/writes): counted even when the answer is then lost.
        self.writes: dict[str, dict[str, int]] = {kind: {} for kind in WRITE_KINDS}

    # ---- snapshot ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = {name: {key: dataclasses.asdict(obj) for key, obj in getattr(self, name).items()} for name in MODEL}
        data.update(consumers=self.consumers, windows=self.windows, signup_codes=self.signup_codes,
                    writes=self.writes, clock=self.clock.to_dict())
        return data

    @classmethod
    def from_dict(cls, data: dict, clock: SandboxClock | None = None) -> Self:
        state = cls(clock or SandboxClock.from_dict(data.get("clock", {})))
        for name, kind in MODEL.items():
            setattr(state, name, {key: kind(**value) for key, value in data.get(name, {}).items()})
        state.consumers = dict(data.get("consumers", {}))
        state.windows = dict(data.get("windows", {}))
        state.signup_codes = dict(data.get("signup_codes", {}))
        for kind, counts in (data.get("writes") or {}).items():
            state.writes[kind] = dict(counts)
        return state

    def now(self) -> float:
        return self.clock.now()

    def count_write(self, kind: str, key: str) -> None:
        """Note a write the sandbox has just applied (the ledger that tells a doubled write)."""
        counts = self.writes.setdefault(kind, {})
        counts[key] = counts.get(key, 0) + 1
