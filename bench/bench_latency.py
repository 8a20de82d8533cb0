"""Batches at Meta's pace: the same sandbox batch at 0 ms and at 150 ms per Graph call, one run.

Prints each wall time, their ratio (target: at most 1.3 on 2 cores, the waiting hidden by running
customers at once), customers per minute, and the peak memory per concurrent customer (the
resident memory of the batch's process tree above the script's own, at its peak, divided by the
number of customers at once).

    .venv/bin/python bench/bench_latency.py [--customers 40] [--latency-ms 150] [--workers auto]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil

from helpers.runner import capacity, run_batch
from helpers.sandbox.fleet import write_fleet


class PeakMemory:
    """Samples the resident memory of this process and all its descendants."""

    def __init__(self, every: float = 0.25) -> None:
        self.me = psutil.Process()
        self.baseline = self._total()
        self.peak = self.baseline
        self._every, self._stop = every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for process in [self.me, *self.me.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, self._total())

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def one_batch(count: int, latency_ms: str | None, workers: int | str, tmp: Path) -> tuple[float, int, float]:
    seed, profiles = write_fleet(count, tmp / f"fleet-{latency_ms or 0}")
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = run_batch([str(p) for p in profiles], out=str(tmp / "runs"), sandbox=True, sandbox_seed=str(seed),
                           sandbox_latency_ms=latency_ms, workers=workers, progress=False)
        elapsed = time.perf_counter() - started
    passed = int((result["table"]["status"] == "passed").sum())
    assert passed == count, result["table"][result["table"]["status"] != "passed"].to_string()
    return elapsed, passed, (memory.peak - memory.baseline) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--latency-ms", default="150")
    parser.add_argument("--workers", default="auto")
    args = parser.parse_args()
    workers = capacity.parse_workers(args.workers)
    at_once = capacity.auto_workers(args.customers) if workers == "auto" else workers
    print(f"{os.cpu_count()} CPUs, {capacity.mem_available_mb():,.0f} MB available; {args.customers} sandbox "
          f"customers, --workers {args.workers} = {at_once} at once")
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        fast, _, fast_mb = one_batch(args.customers, None, workers, Path(tmp))
        print(f"0 ms per call:   {fast:6.1f} s wall, {args.customers / fast * 60:5.1f} customers/min, "
              f"peak {fast_mb:,.0f} MB")
        slow, _, slow_mb = one_batch(args.customers, args.latency_ms, workers, Path(tmp))
        print(f"{args.latency_ms} ms per call: {slow:6.1f} s wall, {args.customers / slow * 60:5.1f} customers/min, "
              f"peak {slow_mb:,.0f} MB")
    print(f"ratio {args.latency_ms} ms / 0 ms: {slow / fast:4.2f}  (target <= 1.3)")
    print(f"peak memory per concurrent customer: {max(fast_mb, slow_mb) / at_once:,.0f} MB "
          f"(capacity.PER_CUSTOMER_MB assumes {capacity.PER_CUSTOMER_MB})")


if __name__ == "__main__":
    main()
