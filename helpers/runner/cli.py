"""`python -m helpers run`: its arguments; the work is in batch.py, imported only when it runs
(papermill and the kernel machinery take seconds to import)."""
from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ..i18n import LanguageError, _, check_language, in_language
from .language import batch_language
from .notebooks import DEFAULT_STEP_TIMEOUT


def add_parser(commands) -> None:
    parser = commands.add_parser("run", help=_("run the playbook headless for each customer profile"),
                                 description=_("Execute the step notebooks for each customer (headless), write a run "
                                               "record per step and a summary. Exit 0 only when every customer "
                                               "passed."))
    parser.add_argument("profiles", nargs="*", metavar="PROFILE", help=_("customer profile YAML files"))
    parser.add_argument("--sandbox", action="store_true",
                        help=_("start the embedded sandbox and webhook receiver and point every run at them"))
    parser.add_argument("--sandbox-seed", metavar="FILE",
                        help=_("with --sandbox: the seed YAML to load (default: the built-in two-business seed)"))
    parser.add_argument("--out", default="runs", help=_("folder for batch folders (default: runs)"))
    parser.add_argument("--workers", default="auto",
                        help=_("customers at once, or auto (default): as many as keep the CPUs busy while Graph calls "
                               "wait, within memory (see README, Scaling)"))
    parser.add_argument("--app-calls-per-hour", type=float, default=None, metavar="N",
                        help=_("Graph call budget per app: customers start no faster than this allows "
                               "(default 300,000; about 40 calls per customer)"))
    parser.add_argument("--sandbox-latency-ms", metavar="MS",
                        help=_("with --sandbox: delay every Graph response, as Meta's ~100-300 ms (150, or 100-300)"))
    parser.add_argument("--sandbox-faults", metavar="RATE",
                        help=_("with --sandbox: replace this fraction of Graph answers (0 to <1, e.g. 0.05) by one of "
                               "Meta's transient failures; the kernels' client then waits 4 s per call "
                               "(docs/reliability.md)"))
    parser.add_argument("--sandbox-faults-seed", metavar="N",
                        help=_("with --sandbox-faults: seed of the fault choice (default 0): the same seed, the same "
                               "faults"))
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help=_("re-run each customer from its first step that did not pass in RUN_DIR"))
    parser.add_argument("--steps", help=_("only these steps, e.g. 03,05-08"))
    parser.add_argument("--language", metavar="LANG",
                        help=_("the playbook's language for every customer: en or ko (wins over the profiles' "
                               "language)"))
    parser.add_argument("--preflight-only", action="store_true",
                        help=_("only check the inputs (profiles, secrets, API version, graph_url, paths) and print "
                               "each customer's readiness; exit 0 when all are ready, 2 otherwise"))
    parser.add_argument("--timeout", type=float, default=DEFAULT_STEP_TIMEOUT,
                        help=_("wall-clock limit per step in seconds (default: 300)"))
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    # The batch's language from the start: --language, else the one all the profiles speak (the preflight,
    # the messages and the summary alike).
    if args.language is not None:
        try:
            check_language(args.language, "--language")
        except LanguageError as exc:
            print(_("error: {problem}").format(problem=exc), file=sys.stderr)
            return 2
    with in_language(args.language or _profiles_language(args.profiles)):
        return _main(args)


def _profiles_language(paths: list[str]) -> str | None:
    """The language every profile given names (or leaves to PLAYBOOK_LANGUAGE), None when they differ or one
    does not load (the preflight then says why, in the current language)."""
    import warnings

    from ..profiles import load_profile

    profiles = []
    for path in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the preflight reports them, once
                profiles.append(load_profile(path))
        except ConfigError:
            return None
    return batch_language(profiles) if profiles else None


def _main(args: argparse.Namespace) -> int:
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
        problems.append(_("--sandbox-latency-ms: {problem}").format(problem=exc))
    if args.sandbox_latency_ms and not (args.sandbox or args.sandbox_seed):
        problems.append(_("--sandbox-latency-ms delays the embedded sandbox: add --sandbox"))
    if args.sandbox_faults is not None or args.sandbox_faults_seed is not None:
        try:
            preflight.check_faults(args.sandbox or bool(args.sandbox_seed), args.sandbox_faults,
                                   args.sandbox_faults_seed)
        except ConfigError as exc:
            problems.append(str(exc))
    if args.app_calls_per_hour is not None and args.app_calls_per_hour < capacity.CALLS_PER_CUSTOMER:
        problems.append(_("--app-calls-per-hour must be at least {calls} (one customer's calls)").format(
            calls=capacity.CALLS_PER_CUSTOMER))
    for problem in problems:
        print(_("error: {problem}").format(problem=problem), file=sys.stderr)
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
                           resume=args.resume, steps=args.steps, timeout=args.timeout, language=args.language)
    except ConfigError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    print(summary.terminal(result["table"]))
    print("\n" + _("summary: {path}  (and summary.csv)").format(path=result["batch_dir"] / "summary.html"))
    if result["interrupted"]:
        print(_("interrupted: the summary shows what finished"), file=sys.stderr)
        return 130
    return 0 if result["passed"] else 1
