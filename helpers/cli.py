"""`python -m helpers ...`: the playbook's command line.

Each command's arguments and behaviour live beside the code they drive; this module only
wires the sub-commands together.
"""
from __future__ import annotations

import argparse
import sys

from .about import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description="WhatsApp Cloud API onboarding playbook.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from .sandbox import cli as sandbox_cli
    sandbox_cli.add_parser(commands)

    from .webhooks import cli as webhooks_cli
    webhooks_cli.add_parser(commands)

    from .runner import cli as runner_cli
    runner_cli.add_parser(commands)

    from . import portfolio
    portfolio.add_parser(commands)

    from . import lab
    lab.add_parser(commands)

    from .training import replay
    replay.add_parser(commands)

    from . import explain
    explain.add_parser(commands)

    from . import i18n_catalogue
    i18n_catalogue.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .i18n import LanguageError, current_language

    try:  # every message, help included, is in this language: a wrong PLAYBOOK_LANGUAGE stops here, plainly
        current_language()
    except LanguageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
