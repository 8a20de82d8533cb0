"""`python -m helpers sandbox`: serve the Graph API emulator until Ctrl-C.

Prints the URL and `export NAME=value` lines for the demo secrets and for the peer variables
(helpers.peers: the steps then read the "SMS" and play the consumer through this sandbox). The
secrets are fake and only work against the sandbox, which is why printing them here is fine.
Every line printed is valid shell (the rest are # comments), so the block can be pasted or eval'd.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from ..serving import serve_forever
from ..i18n import _
from .peer import peer_env
from .faults import FaultError, FaultPlan, check_rate
from .latency import Latency
from .seed import SeedError
from .server import make_app
from .service import SandboxService


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sandbox", help=_("serve the offline Graph API emulator"),
        description=_("Serve the offline Graph API emulator (see docs/sandbox.md). Prints its URL and the "
                      "demo secrets as shell exports; serves until Ctrl-C."))
    parser.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)"))
    parser.add_argument("--port", type=int, default=8765, help=_("port (default 8765; 0 picks a free one)"))
    parser.add_argument("--seed", default=None, help=_("seed YAML (default: the built-in seed)"))
    parser.add_argument("--state", default=None, help=_("SQLite file that keeps the state across restarts"))
    parser.add_argument("--latency-ms", default=None, metavar="MS",
                        help=_("delay every Graph response, as Meta's ~100-300 ms: a fixed value (150) or a range "
                               "drawn per request (100-300)"))
    parser.add_argument("--faults", default=None, metavar="RATE",
                        help=_("replace this fraction of Graph answers, in [0, 1), with Meta's transient failures "
                               "(5xx, 131000, 130429, a dropped connection, a slow answer after the write); "
                               "e.g. 0.05. Off by default"))
    parser.add_argument("--faults-seed", default=None, metavar="N",
                        help=_("seed of the fault choice (default 0): the same seed faults the same calls"))
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        latency = Latency.parse(args.latency_ms)
    except ValueError as exc:
        print(_("sandbox: --latency-ms: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    try:
        faults = FaultPlan(check_rate(args.faults) if args.faults is not None else None,
                           _seed(args.faults_seed))
    except (FaultError, ValueError) as exc:
        print(_("sandbox: --faults: {problem}").format(problem=exc) if isinstance(exc, FaultError)
              else _("sandbox: --faults-seed: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    try:
        service = SandboxService(args.seed, args.state, latency, faults)
    except SeedError as exc:
        print(_("sandbox: {problem}").format(problem=exc), file=sys.stderr)
        return 2

    def banner(url: str) -> None:
        print("# " + _("Sandbox Graph API serving at {url}  (graph_url; control API under {control})").format(
                  url=url, control=f"{url}/_sandbox/")
              + (_("; every Graph response delayed {latency}").format(latency=latency) if latency.high_ms else "")
              + (_("; {rate} of Graph answers faulted (seed {seed})").format(rate=f"{faults.rate:g}", seed=faults.seed)
                 if faults.rate else ""))
        print("# " + _("Demo environment (sandbox-only fake values):"))
        for name, value in sorted(service.demo_env().items()):
            print(f"export {name}={shlex.quote(value)}")
        print("# " + _("graph_url for the notebooks, and the steps' peer (reads the SMS code, plays the consumer); "
                     "no secrets:"))
        print(f"export PLAYBOOK_GRAPH_URL={shlex.quote(url)}")
        for name, value in peer_env(url).items():
            print(f"export {name}={shlex.quote(value)}")
        print("# " + _("Press Ctrl-C to stop."), flush=True)

    try:
        serve_forever(make_app(service), args.host, args.port, banner=banner,
                      on_start=service.on_start, on_stop=service.on_stop)
    except OSError as exc:  # port in use, address not available
        print(_("sandbox: cannot listen on {address}: {problem}").format(address=f"{args.host}:{args.port}",
                                                                         problem=exc), file=sys.stderr)
        return 1
    return 0


def _seed(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(_("{value}: give a whole number, e.g. 7").format(value=repr(text))) from None
