"""Where a customer's time goes: its 16 notebooks run one customer after another against the sandbox.

Prints the wall time per customer and the CPU it costs, split between this process (papermill,
nbclient, the sandbox and the receiver: what a batch runs in its threads) and the customer's kernel
(forked from the warm server; counted when the server reaps it). With --kernel-profile, the
functions that took longest inside the last customer's kernel (cProfile, started when the kernel is
taken and dumped before it stops).

    .venv/bin/python bench/profile_customer.py [--customers 6] [--kernel-profile] [--top 25]
"""
from __future__ import annotations

import argparse
import os
import pstats
import tempfile
import time
from pathlib import Path

from jupyter_core.utils import run_sync

from helpers.runner import run_customer
from helpers.runner.kernel import CustomerKernel
from helpers.runner.pool import KernelPool

from common import sandbox_customers

TICKS = os.sysconf("SC_CLK_TCK")


def reaped_children_cpu(pid: int) -> float:
    """CPU seconds of the reaped children of `pid` (a fork server's kernels), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICKS


def run_in(kernel: CustomerKernel, code: str) -> None:
    msg_id = kernel.kc.execute(code, silent=True, store_history=False)
    while (reply := run_sync(kernel.kc.get_shell_msg)(timeout=30))["parent_header"].get("msg_id") != msg_id:
        pass
    assert reply["content"]["status"] == "ok", reply["content"]


class ProfiledPool(KernelPool):
    """A pool whose kernels profile themselves from when they are taken; `dump` writes the stats."""

    def take(self, *args, **kwargs) -> CustomerKernel:
        kernel = super().take(*args, **kwargs)
        run_in(kernel, "import cProfile as _c, builtins as _b; _b._bench_profile = _c.Profile(); "
                       "_b._bench_profile.enable(); del _c, _b")
        original = kernel.shutdown

        def shutdown() -> None:
            if kernel.kc is not None:
                run_in(kernel, f"import builtins as _b; _b._bench_profile.disable(); "
                               f"_b._bench_profile.dump_stats({str(self.stats_path)!r}); del _b")
            original()
        kernel.shutdown = shutdown
        return kernel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=6)
    parser.add_argument("--kernel-profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-customer-") as tmp_name:
        tmp = Path(tmp_name)
        with sandbox_customers(args.customers + 1, tmp) as (profiles, overrides):
            pool = ProfiledPool() if args.kernel_profile else KernelPool()
            pool.stats_path = tmp / "kernel.prof"
            with pool:
                # The first customer starts the fork server: left out of the figures.
                assert run_customer(profiles[0], tmp / "runs", overrides=overrides, pool=pool)["status"] == "passed"
                time.sleep(0.5)  # its kernel reaped
                kernels_before, cpu_before = reaped_children_cpu(pool.server_pid), time.process_time()
                walls = []
                for profile in profiles[1:]:
                    started = time.perf_counter()
                    result = run_customer(profile, tmp / "runs", overrides=overrides, pool=pool)
                    walls.append(time.perf_counter() - started)
                    assert result["status"] == "passed", result["records"]
                time.sleep(0.5)  # the last kernel reaped
                kernels = reaped_children_cpu(pool.server_pid) - kernels_before
                here = time.process_time() - cpu_before
        count = len(walls)
        print(f"{count} customers one after another, all steps: " + ", ".join(f"{w:.2f}" for w in walls) + " s wall")
        print(f"per customer: {sum(walls) / count:.2f} s wall; CPU {here / count:.2f} s in this process "
              f"(papermill, nbclient, sandbox, receiver) + {kernels / count:.2f} s in its kernel "
              f"= {(here + kernels) / count:.2f} s, {(here + kernels) / sum(walls):.0%} of the wall time")
        if args.kernel_profile and pool.stats_path.exists():
            # The playbook's code and the libraries it calls; the kernel's own loop frames say little.
            print("\nthe last customer's kernel, by cumulative time (profiled, so slower than it runs):")
            pstats.Stats(str(pool.stats_path)).sort_stats("cumulative").print_stats(
                r"helpers/|pandas/|requests/|IPython/core/(display|formatters)", args.top)


if __name__ == "__main__":
    main()
