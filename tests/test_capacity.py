"""helpers.runner.capacity: customers at once (auto) and the per-app start budget."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.runner import capacity, run_batch
from helpers.runner.capacity import CALLS_PER_CUSTOMER, AppBudget, auto_workers, parse_workers

ROOT = Path(__file__).resolve().parent.parent


def test_auto_workers_keeps_the_cpus_busy_within_memory():
    assert auto_workers(100, cpus=2, memory_mb=64_000) == 2 * capacity.CUSTOMERS_PER_CPU == 8
    assert auto_workers(3, cpus=2, memory_mb=64_000) == 3                      # never more than the customers
    small = auto_workers(100, cpus=8, memory_mb=1_000)                          # memory binds
    assert small == int((1_000 * capacity.MEMORY_SHARE - capacity.BASE_MB) // capacity.PER_CUSTOMER_MB) and small < 8 * 4
    assert auto_workers(100, cpus=2, memory_mb=10) == 1                         # at least one
    # What the README says auto picks (free memory as given): 2 cores/4 GB, 8 cores/16 GB, 8 cores/32 GB.
    assert [auto_workers(100, cpus=c, memory_mb=m) for c, m in ((2, 4096), (8, 16384), (8, 32768))] == [8, 32, 32]
    assert auto_workers(100, cpus=8, memory_mb=2048) == 20                      # 2 GB free: memory binds
    assert auto_workers(5) >= 1 and capacity.mem_available_mb() > 0             # this machine


def test_parse_workers():
    assert parse_workers("auto") == "auto" and parse_workers(" 4 ") == 4 and parse_workers(3) == 3
    for bad in ("0", "many", "-2"):
        with pytest.raises(ValueError, match="--workers"):
            parse_workers(bad)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_app_budget_spaces_starts_per_app():
    clock = FakeClock()
    # 3,600 calls an hour is one call a second: one customer every CALLS_PER_CUSTOMER seconds after a burst of 2.
    budget = AppBudget(3600, burst=2, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(4):
        budget.acquire("app-1")
        starts.append(clock.now)
    assert starts == [0.0, 0.0, CALLS_PER_CUSTOMER, 2 * CALLS_PER_CUSTOMER]
    budget.acquire("app-2")  # another app has its own budget
    assert clock.now == 2 * CALLS_PER_CUSTOMER
    with pytest.raises(ValueError):
        AppBudget(CALLS_PER_CUSTOMER - 1)


def test_cli_refuses_bad_capacity_options_before_anything_starts(tmp_path):
    cases = [(["--workers", "lots"], "error: --workers 'lots': give a number of customers at once, or auto"),
             (["--sandbox-latency-ms", "150"], "error: --sandbox-latency-ms delays the embedded sandbox: add --sandbox"),
             (["--sandbox", "--sandbox-latency-ms", "slow"], "error: --sandbox-latency-ms: latency 'slow'"),
             (["--app-calls-per-hour", "5"], f"error: --app-calls-per-hour must be at least {CALLS_PER_CUSTOMER}")]
    for extra, first_line in cases:
        done = subprocess.run([sys.executable, "-m", "helpers", "run", str(ROOT / "customers" / "example.yaml"),
                               "--out", str(tmp_path / "runs"), *extra], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines()[0].startswith(first_line), done.stderr
        assert not (tmp_path / "runs").exists()


def test_a_batch_at_metas_pace_with_auto_workers(tmp_path):
    paths = [str(ROOT / "customers" / f"{name}.yaml") for name in ("example", "bluefin")]
    result = run_batch(paths, out=str(tmp_path / "runs"), sandbox=True, sandbox_latency_ms="20-40", steps="01-03",
                       progress=False)
    assert result["passed"], result["table"].to_string()
    asked = json.loads((result["batch_dir"] / "batch.json").read_text())
    assert asked["workers"] == 2 and asked["sandbox_latency_ms"] == "20-40"  # auto: both customers at once
