"""`python -m helpers explain CODE[/SUBCODE]`: what a Graph error code means and what to do, from the remedy catalogue.

For the engineer on a call who is told a code ("131047", "100/2388024", "190 463"), or one of the
playbook's own error kinds (MissingSecretError). `--all` lists the whole catalogue; `--language ko`
answers in Korean (default: PLAYBOOK_LANGUAGE, else English).
"""
from __future__ import annotations

import argparse
import re
import sys

from . import remedies
from .i18n import LanguageError, _, check_language, set_language

_CODE = re.compile(r"^\s*#?(\d+)(?:\s*[/ .:-]\s*(\d+))?\s*$")


def parse_code(text: str) -> tuple[int, int | None]:
    """'100/2388024', '100 2388024', '#131047' -> (code, subcode); ValueError saying what to type otherwise."""
    match = _CODE.match(str(text))
    if not match:
        raise ValueError(_("{text!r} is not an error code: type the code Meta gave, e.g. 131047 or 100/2388024 "
                           "(code/subcode).").format(text=text))
    return int(match.group(1)), (int(match.group(2)) if match.group(2) else None)


def explain(text: str) -> str:
    """The catalogue's answer for a code (or one of our own error kinds), as lines to print."""
    if re.match(r"^\s*[A-Za-z]", str(text)):
        own = remedies.own_remedy(text.strip())
        if not own.kind:
            raise ValueError(_("{text!r} is neither an error code nor an error kind of the playbook.").format(text=text))
        return "\n".join([f"{own.kind}: {own.title}", _("What to do: {remedy}").format(remedy=own.shell)])
    code, subcode = parse_code(text)
    exact = remedies.lookup_exact(code, subcode)
    entry = exact or remedies.lookup(code, subcode)
    if entry is None:
        raise ValueError(_("code {code} is not in the playbook's catalogue: search Meta's error code reference "
                           "(developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes) for it, and "
                           "keep the fbtrace_id for Meta's support.").format(code=code))
    label = f"{code}/{subcode}" if subcode is not None else str(code)
    lines = [f"{label}: {entry.title}", _("What to do: {remedy}").format(remedy=entry.remedy)]
    if exact is None and subcode is not None:
        lines.append(_("(subcode {subcode} has no advice of its own: this is the advice for code {code}.)").format(
            subcode=subcode, code=entry.code))
    if entry.retryable:
        lines.append(_("Transient: the client retries it by itself."))
    return "\n".join(lines)


def explain_all() -> str:
    rows = []
    for raw in remedies.catalogue():
        entry = remedies.lookup_exact(raw.code, raw.subcode)
        label = f"{raw.code}/{raw.subcode}" if raw.subcode is not None else str(raw.code)
        rows.append(f"{label:<16} {entry.title}\n{'':<16} {entry.remedy}")
    return "\n".join(rows)


def add_parser(commands) -> None:
    parser = commands.add_parser("explain", help="what a Graph error code means and what to do (e.g. explain 100/2388024)")
    parser.add_argument("code", nargs="?", help="CODE or CODE/SUBCODE as Meta gave it, or an error kind (MissingSecretError)")
    parser.add_argument("--all", action="store_true", help="every code of the catalogue")
    parser.add_argument("--language", help="en or ko (default: PLAYBOOK_LANGUAGE, else English)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.language:
            set_language(check_language(args.language, "--language"))
        if args.all:
            print(explain_all())
            return 0
        if not args.code:
            print(_("error: give a code (explain 131047, explain 100/2388024) or --all."), file=sys.stderr)
            return 2
        print(explain(args.code))
        return 0
    except (LanguageError, ValueError) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
