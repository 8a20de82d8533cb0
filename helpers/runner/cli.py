"""`python -m helpers run`: its arguments; the work is in batch.py, imported only when it runs
(papermill and the kernel machinery take seconds to import)."""
from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from .notebooks import DEFAULT_STEP_TIMEOUT


def add_parser(commands) -> None:
    parser = commands.add_parser("run", help="run the playbook headless for each customer profile",
                                 description="Execute the step notebooks for each customer (headless), write a run "
                                             "record per step and a summary. Exit 0 only when every customer passed.")
    parser.add_argument("profiles", nargs="*", metavar="PROFILE", help="customer profile YAML files")
    parser.add_argument("--sandbox", action="store_true", help="start the embedded sandbox and webhook receiver and point every run at them")
    parser.add_argument("--sandbox-seed", metavar="FILE", help="with --sandbox: the seed YAML to load (default: the built-in two-business seed)")
    parser.add_argument("--out", default="runs", help="folder for batch folders (default: runs)")
    parser.add_argument("--workers", default="auto",
                        help="customers at once, or auto (default): as many as keep the CPUs busy while Graph calls "
                             "wait, within memory (see README, Scaling)")
    parser.add_argument("--app-calls-per-hour", type=float, default=None, metavar="N",
                        help="Graph call budget per app: customers start no faster than this allows "
                             "(default 300,000; about 40 calls per customer)")
    parser.add_argument("--sandbox-latency-ms", metavar="MS",
                        help="with --sandbox: delay every Graph response, as Meta's ~100-300 ms (150, or 100-300)")
    parser.add_argument("--sandbox-faults", metavar="RATE",
                        help="with --sandbox: replace this fraction of Graph answers (0 to <1, e.g. 0.05) by one of "
                             "Meta's transient failures; the kernels' client then waits 4 s per call (docs/reliability.md)")
    parser.add_argument("--sandbox-faults-seed", metavar="N",
                        help="with --sandbox-faults: seed of the fault choice (default 0): the same seed, the same faults")
    parser.add_argument("--resume", metavar="RUN_DIR", help="re-run each customer from its first step that did not pass in RUN_DIR")
    parser.add_argument("--steps", help="only these steps, e.g. 03,05-08")
    parser.add_argument("--preflight-only", action="store_true",
                        help="only check the inputs (profiles, secrets, API version, graph_url, paths) and print "
                             "each customer's readiness; exit 0 when all are ready, 2 otherwise")
    parser.add_argument("--timeout", type=float, default=DEFAULT_STEP_TIMEOUT, help="wall-clock limit per step in seconds (default: 300)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from . import capacity, preflight
    from ..sandbox.latency import Latency

    problems = []
    try:
        capacity.parse_workers(args.workers)
    except ValueError as exc:
        problems.append(str(exc))
    try:
        Latency.parse(args.sandbox_latency_ms)
    except ValueError as exc:
        problems.append(f"--sandbox-latency-ms: {exc}")
    if args.sandbox_latency_ms and not (args.sandbox or args.sandbox_seed):
        problems.append("--sandbox-latency-ms delays the embedded sandbox: add --sandbox")
    if args.sandbox_faults is not None or args.sandbox_faults_seed is not None:
        try:
            preflight.check_faults(args.sandbox or bool(args.sandbox_seed), args.sandbox_faults,
                                   args.sandbox_faults_seed)
        except ConfigError as exc:
            problems.append(str(exc))
    if args.app_calls_per_hour is not None and args.app_calls_per_hour < capacity.CALLS_PER_CUSTOMER:
        problems.append(f"--app-calls-per-hour must be at least {capacity.CALLS_PER_CUSTOMER} (one customer's calls)")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2

    # Before anything starts or is written: every problem of every profile, one line each.
    checked = preflight.run(args.profiles, steps=args.steps, sandbox=args.sandbox or bool(args.sandbox_seed),
                            sandbox_seed=args.sandbox_seed, resume=args.resume)
    preflight.report(checked, sys.stderr)
    if args.preflight_only:
        print(checked.table())
        return 0 if checked.ok else 2
    if not checked.ok:
        return 2

    from . import summary
    from .batch import run_batch

    try:
        result = run_batch(args.profiles, out=args.out, sandbox=args.sandbox or bool(args.sandbox_seed),
                           sandbox_seed=args.sandbox_seed, workers=args.workers,
                           sandbox_latency_ms=args.sandbox_latency_ms, sandbox_faults=args.sandbox_faults,
                           sandbox_faults_seed=args.sandbox_faults_seed,
                           app_calls_per_hour=args.app_calls_per_hour or capacity.DEFAULT_APP_CALLS_PER_HOUR,
                           resume=args.resume, steps=args.steps, timeout=args.timeout)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.terminal(result["table"]))
    print(f"\nsummary: {result['batch_dir'] / 'summary.html'}  (and summary.csv)")
    if result["interrupted"]:
        print("interrupted: the summary shows what finished", file=sys.stderr)
        return 130
    return 0 if result["passed"] else 1


