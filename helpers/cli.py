"""`python -m helpers ...`: the playbook's command line.

Each command's arguments and behaviour live beside the code they drive; this module only
wires the sub-commands together.
"""
from __future__ import annotations

import argparse
import sys

from .about import __version__


def _sandbox(commands) -> None:
    from .sandbox import cli as sandbox_cli
    sandbox_cli.add_parser(commands)


def _webhooks(commands) -> None:
    from .webhooks import cli as webhooks_cli
    webhooks_cli.add_parser(commands)


def _run(commands) -> None:
    from .runner import cli as runner_cli
    runner_cli.add_parser(commands)


def _portfolio(commands) -> None:
    from . import portfolio
    portfolio.add_parser(commands)


def _lab(commands) -> None:
    from . import lab
    lab.add_parser(commands)


def _drill(commands) -> None:
    from .training import replay
    replay.add_parser(commands)


def _explain(commands) -> None:
    from . import explain
    explain.add_parser(commands)


def _i18n(commands) -> None:
    from . import i18n_catalogue
    i18n_catalogue.add_parser(commands)


# Each sub-command and what defines it, in the order the help lists them. Running one imports only its
# own module: all of them (the catalogue tool, the training page) cost a second at every start.
SUB_COMMANDS = {"sandbox": _sandbox, "webhooks": _webhooks, "run": _run, "portfolio": _portfolio, "lab": _lab,
                "voila": _lab, "drill": _drill, "explain": _explain, "i18n": _i18n}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command, or with only `command`'s when it names one."""
    parser = argparse.ArgumentParser(prog="python -m helpers", description="WhatsApp Cloud API onboarding playbook.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    loaders = [SUB_COMMANDS[command]] if command in SUB_COMMANDS else list(dict.fromkeys(SUB_COMMANDS.values()))
    for load in loaders:
        load(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .i18n import LanguageError, current_language

    try:  # every message, help included, is in this language: a wrong PLAYBOOK_LANGUAGE stops here, plainly
        current_language()
    except LanguageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    given = sys.argv[1:] if argv is None else argv
    # The sub-command is the first word; options before it (--help, --version) take the whole parser.
    command = given[0] if given and not given[0].startswith("-") else None
    args = build_parser(command).parse_args(given)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
