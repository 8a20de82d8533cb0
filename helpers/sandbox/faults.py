"""Meta's transient failures, injected on purpose: the fault kinds, their envelopes and the plan that picks them.

Off by default. A `FaultPlan` replaces a fraction (`rate`) of Graph answers with one of the kinds
below, and holds rules set through the control API (`POST /_sandbox/faults`) or a scenario's
`fault:` setup entry, which fault chosen calls whatever the rate. The choice is a hash of
(seed, method, path, n-th occurrence of that method and path), so the same seed and the same
calls give the same faults, however the calls interleave.

What is applied when:
- the answering kinds (500 code 1 and 2, 503, 131000, 130429) answer before the handler runs:
  nothing is applied, a retry is safe;
- `connection_reset` closes the connection with no answer before the handler runs: nothing applied;
- `timeout_after_write` runs the handler (the write IS applied), then holds the answer `slow_s`
  seconds, longer than the client's timeout: the caller cannot know the outcome.
"""
from __future__ import annotations

import collections
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .graph_errors import GraphError

SLOW_S = 35.0   # longer than GraphClient's default 30 s timeout; the runner passes 2.5 with a 2 s timeout
RETRY_AFTER_S = 1

# kind -> (HTTP status, code, subcode, message, details, is_transient)
_ENVELOPES: dict[str, tuple[int, int, int | None, str, str | None, bool | None]] = {
    "unknown_error": (500, 1, None, "An unknown error has occurred.", None, True),
    "service_error": (500, 2, None, "An unexpected error has occurred. Please retry your request later.", None, True),
    "service_unavailable": (503, 2, None, "Service temporarily unavailable", None, True),
    "something_went_wrong": (500, 131000, None, "(#131000) Something went wrong", "Something went wrong while "
                             "processing the request. Retry the request later.", None),
    "throttled": (400, 130429, 2494055, "(#130429) Rate limit hit", "Too many calls in a short period of time. "
                  f"Retry after a moment (Retry-After: {RETRY_AFTER_S} s).", True),
}
# Throughput (130429) is a messaging limit: a throttled call elsewhere gets the WABA's rate limit, as at Meta.
_THROTTLED_ELSEWHERE = (400, 80007, None, "(#80007) There have been too many calls to this WhatsApp Business "
                        "account. Wait a bit and try again.", None, True)
ANSWERING_KINDS = tuple(_ENVELOPES)
KINDS = ANSWERING_KINDS + ("connection_reset", "timeout_after_write")
RULE_KINDS = KINDS + ("error",)  # "error": answer a given Graph error envelope (a recorded failure replayed)

# The (code, subcode) pairs the faults answer with (the remedy catalogue must know each one).
FAULT_ERRORS: tuple[tuple[int, int | None], ...] = tuple(dict.fromkeys(
    (e[1], e[2]) for e in (*_ENVELOPES.values(), _THROTTLED_ELSEWHERE)))

_VERSION_PREFIX = re.compile(r"^/*v[0-9]+\.[0-9]+/")


class FaultError(ValueError):
    """A fault rule or rate that cannot be used; the message says what to give instead."""


@dataclass
class Fault:
    """One injected fault: its kind, and for the answering kinds the error and the headers to answer with."""
    kind: str
    error: GraphError | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def before_handler(self) -> bool:
        """True when nothing is applied: the answer (or the dropped connection) comes before the handler."""
        return self.kind != "timeout_after_write"


@dataclass
class FaultRule:
    kind: str
    method: str | None = None
    path: str | None = None          # regex searched in the path without the version prefix
    times: int | None = 1            # None: every matching call until the rules are cleared
    error: dict | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or re.search(self.path, path) is not None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "method": self.method, "path": self.path, "times": self.times,
                "error": self.error, "hits": self.hits}


def check_rate(value: Any) -> float:
    """A fault rate in [0, 1) from a flag, a form field or JSON; FaultError says what to give otherwise."""
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise FaultError(f"fault rate {value!r}: give a fraction of Graph answers in [0, 1), e.g. 0.05") from None
    if not 0 <= rate < 1:
        raise FaultError(f"fault rate {value!r}: give a fraction of Graph answers in [0, 1), e.g. 0.05 "
                         "(1 would fault every call)")
    return rate


def graph_path(path: str) -> str:
    """The request path without its version prefix and slashes: '/v25.0/123/messages' -> '123/messages'."""
    return _VERSION_PREFIX.sub("", path).strip("/")


def make_fault(kind: str, error: dict | None = None, path: str = "") -> Fault:
    """The fault of a kind, shaped as Meta answers it (a throttled call: as it is throttled on `path`)."""
    if kind == "error":
        return Fault(kind, _given_error(error or {}))
    if kind not in _ENVELOPES:
        return Fault(kind)
    envelope = _ENVELOPES[kind]
    if kind == "throttled" and path and not graph_path(path).endswith("/messages"):
        envelope = _THROTTLED_ELSEWHERE
    status, code, subcode, message, details, transient = envelope
    error_obj = GraphError(code, message, http_status=status, subcode=subcode, details=details,
                           is_transient=transient)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if kind == "throttled" else {}
    return Fault(kind, error_obj, headers)


def _given_error(error: dict) -> GraphError:
    try:
        code = int(error["code"])
        message = str(error["message"])
    except (KeyError, TypeError, ValueError):
        raise FaultError("a fault of kind 'error' needs error: {code, message, error_subcode?, type?, "
                         "http_status?, details?, is_transient?}") from None
    subcode = error.get("error_subcode", error.get("subcode"))
    return GraphError(code, message, http_status=int(error.get("http_status") or 400),
                      type=str(error.get("type") or "OAuthException"),
                      subcode=None if subcode in (None, "") else int(subcode),
                      details=None if error.get("details") is None else str(error["details"]),
                      is_transient=error.get("is_transient"))


def _fraction(*parts: Any) -> float:
    """A number in [0, 1) that depends only on the parts: the same calls draw the same faults."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FaultPlan:
    """Which Graph answers fault: the rate, the seed and the rules; counts what it injected."""

    def __init__(self, rate: float | None = None, seed: int | None = None, slow_s: float | None = None) -> None:
        self.rate = check_rate(rate or 0)
        self.seed = int(seed) if seed is not None else 0
        self.slow_s = float(slow_s) if slow_s is not None else SLOW_S
        self.webhook_rate: float | None = None  # deliveries faulted at their own rate (None: the Graph rate)
        self.rules: list[FaultRule] = []
        self.injected: collections.Counter[str] = collections.Counter()
        self._seen: collections.Counter[tuple[str, str]] = collections.Counter()
        self._draws: collections.Counter[str] = collections.Counter()

    @property
    def active(self) -> bool:
        return self.rate > 0 or bool(self.rules)

    def add_rule(self, kind: str, method: str | None = None, path: str | None = None, times: Any = 1,
                 error: dict | None = None) -> FaultRule:
        if kind not in RULE_KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(RULE_KINDS)}")
        if path is not None:
            try:
                re.compile(str(path))
            except re.error as exc:
                raise FaultError(f"path {path!r} is not a regular expression: {exc}") from None
        if times in (None, 0, "0"):
            count = None
        else:
            try:
                count = int(times)
            except (TypeError, ValueError):
                raise FaultError(f"times {times!r}: give a whole number of calls (0 or null: every call)") from None
            if count < 0:
                raise FaultError(f"times {times!r}: give a whole number of calls (0 or null: every call)")
        if kind == "error":
            _given_error(error or {})  # refuse a bad envelope now, not on the call it faults
        rule = FaultRule(kind, method.upper() if method else None, None if path is None else str(path), count,
                         dict(error) if error else None)
        self.rules.append(rule)
        return rule

    def decide(self, method: str, path: str) -> Fault | None:
        """The fault for this Graph call, if any. `path` is the request path (with or without the version)."""
        method, path = method.upper(), graph_path(path)
        for rule in self.rules:
            if rule.matches(method, path) and (rule.times is None or rule.hits < rule.times):
                rule.hits += 1
                return self._injected(make_fault(rule.kind, rule.error, path))
        if self.rate <= 0:
            return None
        self._seen[(method, path)] += 1
        n = self._seen[(method, path)]
        if _fraction(self.seed, method, path, n) >= self.rate:
            return None
        kind = KINDS[int(_fraction(self.seed, "kind", method, path, n) * len(KINDS))]
        return self._injected(make_fault(kind, path=path))

    def _injected(self, fault: Fault) -> Fault:
        self.injected[fault.kind] += 1
        return fault

    @property
    def delivery_rate(self) -> float:
        """The fraction of webhook deliveries faulted (late, twice, out of order)."""
        return self.rate if self.webhook_rate is None else self.webhook_rate

    def draw(self, stream: str) -> float:
        """The next number in [0, 1) of a named stream (webhook deliveries), from the seed."""
        self._draws[stream] += 1
        return _fraction(self.seed, stream, self._draws[stream])

    def clear(self, *, all: bool = False) -> None:
        """Remove the rules; with all=True also stop the rate-based faults."""
        self.rules.clear()
        if all:
            self.rate, self.webhook_rate = 0.0, None

    def reset(self) -> None:
        """A sandbox reset: no rules, counters from zero (the same calls fault again the same way); the rate stays."""
        self.rules.clear()
        self.injected.clear()
        self._seen.clear()
        self._draws.clear()

    def snapshot(self) -> dict:
        return {"rate": self.rate, "seed": self.seed, "slow_s": self.slow_s, "webhook_rate": self.delivery_rate,
                "rules": [r.to_dict() for r in self.rules], "injected": dict(self.injected),
                "kinds": list(KINDS)}
