"""How many customers a batch runs at once, and how fast it may start them.

A customer's run mostly waits on Meta (about 30 Graph calls of 100 to 300 ms each, plus webhooks),
so one CPU keeps several customers busy. `auto_workers` runs as many at once as keeps the CPUs
busy at that pace, bounded by memory (BASE_MB for the batch, PER_CUSTOMER_MB for each customer at
once, as proportional memory measured by bench/bench_latency.py) and by the number of customers.
`AppBudget` spaces customer starts per app so that the partner's app stays inside a Graph call
budget (calls per hour), whatever the number of workers.
"""
from __future__ import annotations

import math
import os
import threading
import time

from ..i18n import _

# Customers per CPU at Meta's pace: measured on 2 cores (bench/bench_latency.py), 3 per CPU left some waiting
# visible at 150 ms (ratio 1.20) and 6 per CPU lost more to 12 kernels' start-up and contention than it hid.
CUSTOMERS_PER_CPU = 4
# Peak proportional memory (PSS, bench/memory.py) of a batch, measured by bench/bench_latency.py on this
# project's 2-core CI machine (the README gives the figures): what the batch holds whatever its size (its
# process with the sandbox and receivers, the fork server, the spare kernel) and what each customer at once
# adds (its kernel, its thread's notebooks and clients).
# Measured 2026-12: 559 MB for 8 at once at 150 ms (batch process 132, fork server 41, 9 kernels 43 each).
BASE_MB = 220
PER_CUSTOMER_MB = 60
MEMORY_SHARE = 0.7           # of the memory available when the batch starts
CALLS_PER_CUSTOMER = 40      # Graph calls of one customer's whole onboarding, rounded up
DEFAULT_APP_CALLS_PER_HOUR = 300_000


def mem_available_mb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def auto_workers(customers: int, *, cpus: int | None = None, memory_mb: float | None = None) -> int:
    """Customers at once: enough to keep the CPUs busy while calls wait, within memory, at most `customers`."""
    cpus = cpus or os.cpu_count() or 1
    memory_mb = mem_available_mb() if memory_mb is None else memory_mb
    by_cpu = cpus * CUSTOMERS_PER_CPU
    by_memory = math.floor((memory_mb * MEMORY_SHARE - BASE_MB) / PER_CUSTOMER_MB) if memory_mb else by_cpu
    return max(1, min(customers, by_cpu, by_memory))


def parse_workers(value: str | int) -> int | str:
    """--workers: a positive whole number, or "auto"."""
    if isinstance(value, int) or str(value).strip().isdigit():
        number = int(value)
        if number < 1:
            raise ValueError(_("--workers must be at least 1, or auto"))
        return number
    if str(value).strip().lower() == "auto":
        return "auto"
    raise ValueError(_("--workers {value}: give a number of customers at once, or auto").format(value=repr(value)))


class AppBudget:
    """Customer starts per app, so that each app stays within `calls_per_hour` Graph calls.

    A token bucket in Graph calls: each start takes CALLS_PER_CUSTOMER; the bucket refills at
    calls_per_hour / 3600 a second and holds at most one round of `burst` starts.
    """

    def __init__(self, calls_per_hour: float = DEFAULT_APP_CALLS_PER_HOUR, *, burst: int = 1,
                 clock=time.monotonic, sleep=time.sleep) -> None:
        if calls_per_hour < CALLS_PER_CUSTOMER:
            raise ValueError(_("an app budget below {calls} calls per hour cannot start one customer").format(
                calls=CALLS_PER_CUSTOMER))
        self.rate = calls_per_hour / 3600.0
        self.capacity = float(max(1, burst) * CALLS_PER_CUSTOMER)
        self._clock, self._sleep = clock, sleep
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.waited = 0.0

    def delay(self, app_id: str) -> float:
        """Seconds until this app may start another customer (0 when it may now); takes the slot when 0."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(app_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= CALLS_PER_CUSTOMER:
                self._buckets[app_id] = (tokens - CALLS_PER_CUSTOMER, now)
                return 0.0
            self._buckets[app_id] = (tokens, now)
            return (CALLS_PER_CUSTOMER - tokens) / self.rate

    def acquire(self, app_id: str) -> None:
        """Wait until this app may start another customer, then take the slot."""
        while (wait := self.delay(app_id)) > 0:
            self.waited += wait
            self._sleep(wait)
