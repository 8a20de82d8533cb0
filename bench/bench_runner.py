"""Batch runner speed, measured against the naive way in the same script.

1. Per customer, all steps against the sandbox: the naive way (one `papermill` command-line
   process per step notebook, parameters passed from step to step through the records) versus
   `run_customer` (one kernel per customer, a spare kernel preloaded while the previous customer
   runs). Target: at least 30 times faster.
2. 100 sandbox customers, all steps, with `python -m helpers run --workers auto`-equivalent `run_batch`.
   Target: at most 90 s on 2 cores; prints the mean per customer and the speed-up per step against
   the naive way measured in (1).

    .venv/bin/python bench/bench_runner.py [--customers 100] [--workers auto] [--sequential 6]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from helpers.profiles import load_profile
from helpers.runner import capacity, run_batch, run_customer
from helpers.runner.notebooks import NOTEBOOKS_DIR, discover, parameter_names
from helpers.sandbox.fleet import write_fleet

from common import customers_at_once, sandbox_customers

PAPERMILL = Path(sys.executable).with_name("papermill")


def naive_customer(profile_path: Path, out_dir: Path, overrides: dict) -> float:
    """One papermill CLI process per step, as a script without the runner would do it."""
    values = {**load_profile(profile_path), **overrides, "profile": str(profile_path), "interactive": False,
              "run_dir": str(out_dir)}
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for notebook in discover():
        params = {k: v for k, v in values.items() if k in parameter_names(notebook)}
        params_file = out_dir / f"{notebook.stem}.params.yaml"
        params_file.write_text(yaml.safe_dump(params))
        subprocess.run([str(PAPERMILL), str(notebook), str(out_dir / f"{notebook.stem}.ipynb"), "-f", str(params_file),
                        "--no-progress-bar", "--cwd", str(NOTEBOOKS_DIR)], check=True, capture_output=True)
        record = json.loads((out_dir / f"{notebook.stem}.json").read_text())
        assert record["status"] == "passed", record
        values.update(record.get("outputs") or {})
    return time.perf_counter() - started


def per_customer(sequential: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp, \
            sandbox_customers(sequential + 1, Path(tmp)) as (profiles, overrides):
        naive = naive_customer(profiles[0], Path(tmp) / "naive" / "fleet-001", overrides)
        print(f"naive (papermill CLI per step), 1 customer, {len(discover())} steps: {naive:6.2f} s")
        times = []
        for profile in profiles[1:]:
            started = time.perf_counter()
            result = run_customer(profile, Path(tmp) / "runner", overrides=overrides)
            times.append(time.perf_counter() - started)
            assert result["status"] == "passed", result["records"]
        mean = sum(times) / len(times)
        print(f"runner, {len(times)} customers one after another: " + ", ".join(f"{t:.2f}" for t in times) + " s")
        print(f"runner mean per customer (first one included): {mean:6.2f} s")
        print(f"speed-up per customer: {naive / mean:5.1f}x  (target >= 30x)")
        return naive


def batch(count: int, workers: int | str, naive: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        seed, profiles = write_fleet(count, Path(tmp) / "fleet")
        started = time.perf_counter()
        result = run_batch([str(p) for p in profiles], out=str(Path(tmp) / "runs"), sandbox=True,
                           sandbox_seed=str(seed), workers=workers, progress=False)
        elapsed = time.perf_counter() - started
        passed = int((result["table"]["status"] == "passed").sum())
        print(f"batch of {count} customers, --workers {workers} ({customers_at_once(result)} at once): {elapsed:6.1f} s wall "
              f"(target <= 90 s), {passed}/{count} passed, mean {elapsed / count:.2f} s per customer")
        steps = len(discover())
        print(f"per step: {elapsed / count / steps * 1000:.0f} ms in the batch vs {naive / steps * 1000:.0f} ms naive: "
              f"{naive / (elapsed / count):5.1f}x  (target >= 30x)")
        assert passed == count, result["table"][result["table"]["status"] != "passed"].to_string()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--workers", default="auto")
    parser.add_argument("--sequential", type=int, default=6, help="customers run one after another for the per-customer mean")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs")
    naive = per_customer(args.sequential)
    batch(args.customers, capacity.parse_workers(args.workers), naive)


if __name__ == "__main__":
    main()
