"""Every string the playbook shows, gathered from where it is written, against each language's catalogue.

Three sources, each read where it lives (nothing copied by hand):
- Python: the literals of `_()` and `N_()` calls in helpers/ (Babel's Python extractor);
- notebooks: each markdown block of notebooks/ and notebooks/training/;
- data tables: the remedy catalogue (title and remedy of each code), the runner's own remedies, and the
  built-in training scenarios' title, description and what the trainee sees (helpers/sandbox/scenarios/).

`python -m helpers i18n update` rewrites each .po with the entries sorted, translations kept and new
entries left empty; `i18n merge DRAFT.json ...` puts a translator's drafts ({english: translation}) into it; `python -m helpers i18n check` (and tests/test_i18n.py) fails on an entry with no
translation and on a translation nothing uses any more.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import nbformat
import yaml

from . import remedies
from .i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, catalogue_path, notebook_messages, translations

HELPERS_DIR = Path(__file__).resolve().parent
NOTEBOOKS_DIR = HELPERS_DIR.parent / "notebooks"
SCENARIOS_DIR = HELPERS_DIR / "sandbox" / "scenarios"
SCENARIO_TEXTS = ("title", "description", "trainee_sees")  # what the training page shows of a built-in scenario
KEYWORDS = {"_": None, "N_": None, "gettext": None}
_PLACEHOLDER = re.compile(r"\{[a-zA-Z_][a-zA-Z0-9_]*(?:![rsa])?(?::[^{}]*)?\}")


def python_messages(root: Path = HELPERS_DIR) -> dict[str, list[str]]:
    from babel.messages.extract import extract_from_dir

    found: dict[str, list[str]] = defaultdict(list)
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(root), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True):
        if isinstance(message, str) and message:
            found[message].append(f"helpers/{filename}:{lineno}")
    return found


def notebook_prose(notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(notebooks_dir.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for block in notebook_messages(nbformat.read(path, as_version=4)):
            found[block].append(f"notebooks/{path.relative_to(notebooks_dir).as_posix()}")
    return found


def data_messages() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for entry in remedies.catalogue():
        where = f"remedies: {entry.code}" + (f"/{entry.subcode}" if entry.subcode else "")
        for text in (entry.title, entry.remedy):
            found[text].append(where)
    for own in remedies.own_catalogue():
        for text in own.texts():
            found[text].append(f"own remedies: {own.kind or 'fallback'}")
    for text in remedies.template_rejections():
        found[text].append("template rejections")
    found["the current version"].append("own remedies: ApiVersionExpired")
    for path in sorted(SCENARIOS_DIR.glob("*.yaml")):  # the built-in drills' words, as the training page shows them
        scenario = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in SCENARIO_TEXTS:
            if scenario.get(key):
                found[str(scenario[key])].append(f"scenarios: {path.stem}.{key}")
    return found


def all_messages() -> dict[str, list[str]]:
    merged: dict[str, list[str]] = defaultdict(list)
    for source in (python_messages(), notebook_prose(), data_messages()):
        for message, where in source.items():
            merged[message].extend(where)
    return dict(merged)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def check(language: str, *, extra: dict[str, str] | None = None, only: str | None = None) -> dict[str, list[str]]:
    """What is wrong with `language`'s catalogue: missing (no translation), unused, placeholders that differ.
    `extra` adds translations not yet in the .po (a draft); `only` keeps the messages used under that prefix."""
    used = all_messages()
    have = {**translations.__wrapped__(language), **(extra or {})}  # read anew: the file may have changed
    if only:
        used = {m: where for m, where in used.items() if any(w.startswith(only) for w in where)}
        have = {m: t for m, t in have.items() if m in used}
    problems = {"missing": sorted(m for m in used if m not in have),
                "unused": sorted(m for m in have if m not in used),
                "placeholders": sorted(m for m in used if m in have and placeholders(m) != placeholders(have[m]))}
    return problems


def update(language: str) -> Path:
    """Rewrite `language`'s .po: every message in use (sorted, with where it is used), translations kept."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = catalogue_path(language)
    old = {}
    if path.exists():
        with path.open("rb") as handle:
            old = {m.id: m for m in read_po(handle, locale=language, domain=DOMAIN) if m.id}
    catalog = Catalog(locale=language, domain=DOMAIN, project="WhatsApp Cloud API onboarding playbook",
                      charset="utf-8", fuzzy=False)
    for message, where in sorted(all_messages().items()):
        previous = old.get(message)
        catalog.add(message, previous.string if previous else "",
                    auto_comments=sorted(set(where))[:3], flags=previous.flags if previous else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False, sort_output=True, include_lineno=False)
    return path


def merge(language: str, drafts: dict[str, str]) -> list[str]:
    """Put the translations of `drafts` ({english: translation}) into `language`'s .po, for the entries it
    lists (run `update` first); returns the drafts' messages the .po does not list (nothing uses them)."""
    from babel.messages.pofile import read_po, write_po

    path = catalogue_path(language)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    listed = {m.id for m in catalog if m.id}
    for message in catalog:
        if message.id and drafts.get(message.id):
            message.string = drafts[message.id]
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False, sort_output=True, include_lineno=False)
    return sorted(m for m in drafts if m not in listed)


def add_parser(commands) -> None:
    parser = commands.add_parser("i18n", help="the translation catalogues: update them from the sources, or check them")
    parser.add_argument("action", choices=("update", "check", "merge"))
    parser.add_argument("drafts", nargs="*", type=Path,
                        help="merge: JSON files {english: translation} whose translations go into the .po")
    parser.add_argument("--language", default=None, help="one language (default: every language but English)")
    parser.add_argument("--extra", type=Path, help="check: a JSON file {english: translation} counted as translated")
    parser.add_argument("--only", help="check: only the messages used where this prefix says (helpers/steps/, "
                                       "notebooks/, remedies, own remedies, template rejections)")
    parser.add_argument("--list", action="store_true", help="check: print the missing messages as a JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    languages = [args.language] if args.language else [c for c in LANGUAGES if c != DEFAULT_LANGUAGE]
    status = 0
    for language in languages:
        if args.action == "update":
            print(f"{update(language)}")
        if args.action == "merge":
            drafts: dict[str, str] = {}
            for draft in args.drafts:
                drafts.update(json.loads(draft.read_text(encoding="utf-8")))
            for message in merge(language, drafts):
                print(f"{language}: not in the .po (run update, or nothing uses it): {message[:100]!r}", file=sys.stderr)
        extra = json.loads(args.extra.read_text(encoding="utf-8")) if args.extra else None
        problems = check(language, extra=extra, only=args.only)
        if args.list:
            print(json.dumps({m: "" for m in problems["missing"]}, ensure_ascii=False, indent=1))
        for kind, messages in problems.items():
            for message in messages:
                status = 1
                print(f"{language}: {kind}: {message[:100]!r}", file=sys.stderr)
        if not any(problems.values()):
            print(f"{language}: every message translated, none unused.")
    return status
