"""Batches at Meta's pace: the same sandbox batch at 0 ms and at 150 ms per Graph call, one run.

Prints each wall time, their ratio (target: at most 1.3 on 2 cores, the waiting hidden by running
customers at once), customers per minute, and the peak memory per concurrent customer: the
proportional set size (PSS, bench/memory.py) of the whole process tree (this process, which runs
the batch, its sandbox and receivers, the fork server and every kernel) at its peak, divided by the
number of customers at once, against the naive way measured in the same run (one papermill
process and a fresh kernel for one customer's step).

    .venv/bin/python bench/bench_latency.py [--customers 40] [--latency-ms 150] [--workers auto]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.runner import capacity, run_batch
from helpers.runner.notebooks import NOTEBOOKS_DIR, discover
from helpers.sandbox.fleet import write_fleet

from common import customers_at_once
from memory import MB, PeakPss

EXAMPLE_PROFILE = NOTEBOOKS_DIR.parent / "customers" / "example.yaml"


def one_batch(count: int, latency_ms: str | None, workers: int | str, tmp: Path) -> tuple[float, PeakPss, int]:
    seed, profiles = write_fleet(count, tmp / f"fleet-{latency_ms or 0}")
    with PeakPss() as memory:
        started = time.perf_counter()
        result = run_batch([str(p) for p in profiles], out=str(tmp / "runs"), sandbox=True, sandbox_seed=str(seed),
                           sandbox_latency_ms=latency_ms, workers=workers, progress=False)
        elapsed = time.perf_counter() - started
    passed = int((result["table"]["status"] == "passed").sum())
    assert passed == count, result["table"][result["table"]["status"] != "passed"].to_string()
    return elapsed, memory, customers_at_once(result)


def naive_customer_pss(tmp: Path) -> int:
    """Peak PSS of one customer the naive way: a `papermill` process running a step in a fresh kernel."""
    notebook = discover()[0]
    with PeakPss(every=0.05) as memory:
        subprocess.run([str(Path(sys.executable).with_name("papermill")), str(notebook), str(tmp / "naive.ipynb"),
                        "-p", "profile", str(EXAMPLE_PROFILE), "-p", "run_dir", str(tmp / "naive"),
                        "--no-progress-bar", "--cwd", str(NOTEBOOKS_DIR)], check=True, capture_output=True)
    return memory.peak - memory.before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--latency-ms", default="150")
    parser.add_argument("--workers", default="auto")
    args = parser.parse_args()
    workers = capacity.parse_workers(args.workers)
    print(f"{os.cpu_count()} CPUs, {capacity.mem_available_mb():,.0f} MB available; {args.customers} sandbox "
          f"customers, --workers {args.workers}")
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        naive = naive_customer_pss(Path(tmp))
        fast, fast_mem, at_once = one_batch(args.customers, None, workers, Path(tmp))
        print(f"{at_once} at once; 0 ms per call:   {fast:6.1f} s wall, {args.customers / fast * 60:5.1f} customers/min, "
              f"peak PSS {fast_mem.peak / MB:,.0f} MB (RSS {fast_mem.peak_rss / MB:,.0f} MB)")
        slow, slow_mem, _ = one_batch(args.customers, args.latency_ms, workers, Path(tmp))
        print(f"{at_once} at once; {args.latency_ms} ms per call: {slow:6.1f} s wall, {args.customers / slow * 60:5.1f} customers/min, "
              f"peak PSS {slow_mem.peak / MB:,.0f} MB (RSS {slow_mem.peak_rss / MB:,.0f} MB)")
    print(f"ratio {args.latency_ms} ms / 0 ms: {slow / fast:4.2f}  (target <= 1.3)")
    worst = max(fast_mem, slow_mem, key=lambda memory: memory.peak)
    per_customer = worst.peak / at_once / MB
    print(f"at the peak: {worst.breakdown()}")
    print(f"peak PSS of the whole process tree per concurrent customer: {per_customer:,.0f} MB (goal <= 150); "
          f"the naive way (a papermill process and a fresh kernel per customer): {naive / MB:,.0f} MB, "
          f"{naive / MB / per_customer:4.1f}x as much")
    print(f"--workers auto sizes from {capacity.BASE_MB} MB + {capacity.PER_CUSTOMER_MB} MB per customer at once "
          f"(capacity.py); measured: {worst.peak / MB:,.0f} MB for {at_once} at once")


if __name__ == "__main__":
    main()
