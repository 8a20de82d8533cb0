"""A real failure replayed as a training drill: a failed customer's run records become a sandbox scenario.

`python -m helpers drill from-run runs/<batch-id>/<customer> [--out runs/drills]` reads the step
records of that folder (JSON, already redacted), finds the failed step's Graph error (code, subcode,
HTTP status, type, message) and writes `<out>/<name>.yaml`, a scenario that reproduces the same code
and subcode at the same step:

- when a built-in scenario teaches that very error at that step (its expected_error has the same code
  and subcode and its drill runs the same step), the replay is based on it: same setup, same drill;
- otherwise its setup is one fault rule, `- fault: {kind: error, method, path, times: 0, error: {...}}`,
  on the call that failed, with the customer's IDs generalised (`^[0-9]+/register$`), so the training
  profile's call at that step meets the recorded answer (every time, retries included, until the
  drill's fix clears the rule).

The training page lists these files from PLAYBOOK_DRILLS_DIR (the lab sets it to runs/drills) beside the
built-in drills; `replayed_spec` derives the DrillSpec of one (its lesson from helpers.remedies).
The drills themselves are in helpers.training.drills; this module builds on them.
Nothing secret is copied: the records hold none, and the values of the secrets a record names
(`$WHATSAPP_TOKEN` in its curl lines) are redacted from the YAML all the same.

    >>> path = from_run("runs/20261206-101500-ab12/bluefin")     # -> runs/drills/replay_..._08_register.yaml
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..i18n import N_, _
from ..paths import DEFAULT_DRILLS_DIR
from ..remedies import lookup
from ..sandbox.faults import graph_path
from ..sandbox.scenarios import DRILLS_DIR_ENV, SCENARIO_DIR
from ..secrets_scan import redact, secret_values
from .drills import DRILLS, STEP_SETUPS, DrillSpec, MetaFix

FAILED_STATUSES = ("failed", "timeout")
NAME_LIMIT = 80  # characters of a scenario name: the page's picker and the file name stay readable
_STEP_RECORD = re.compile(r"^[0-9]{2}[a-z]?_[a-z0-9_]+\.json$")  # NN_step.json (journals are in journal/)
_SECRET_REF = re.compile(r"\$([A-Z][A-Z0-9_]*)")


class ReplayError(ConfigError):
    """A run folder that cannot become a drill; the message says why and what to give instead."""


# ---- reading the run -------------------------------------------------------------------------------

def failed_record(folder: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The first failed step record in the customer's run folder (steps in order), and its path."""
    folder = Path(folder)
    if not folder.is_dir():
        hint = ""
        if (folder.parent / "batch.json").is_file():  # a batch folder: say which customers it has
            customers = sorted(p.name for p in folder.parent.iterdir() if p.is_dir())
            hint = " " + _("Customers in {batch}: {customers}.").format(batch=folder.parent,
                                                                       customers=", ".join(customers) or _("none"))
        raise ReplayError(_("{folder}: no such folder. Give a customer's folder of a batch, "
                            "runs/<batch-id>/<customer> (python -m helpers run writes them).").format(folder=folder)
                          + hint)
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(folder.iterdir()):
        if not _STEP_RECORD.match(path.name):
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReplayError(_("{path}: not a readable step record ({error}).").format(path=path, error=exc)) from None
        if isinstance(record, dict) and record.get("step"):
            found.append((path, record))
    if not found:
        raise ReplayError(_("{folder}: no step records (NN_step.json) in it. Give the folder of one customer "
                            "of a batch, runs/<batch-id>/<customer>, not the batch folder itself.").format(folder=folder))
    for path, record in found:
        if record.get("status") in FAILED_STATUSES:
            return path, record
    statuses = ", ".join(f"{r['step']} {r.get('status')}" for _p, r in found)
    raise ReplayError(_("{folder}: no failed step ({statuses}): there is no failure to replay.").format(
        folder=folder, statuses=statuses))


def graph_error(record: dict[str, Any]) -> dict[str, Any]:
    """The failed step's Graph error: code, subcode, http_status, type, message, details, and the call
    that answered it (method, path), or method/path None when the error did not come as a Graph answer."""
    error = record.get("error") or {}
    step = record.get("step")
    if record.get("status") == "timeout" or error.get("code") is None:
        kind = error.get("type") or ("timeout" if record.get("status") == "timeout" else _("an unknown failure"))
        raise ReplayError(_(
            "{step} failed with {kind}: {message}. It cannot be "
            "replayed: a drill replays a Graph API error (a code and subcode Meta answered), and this failure "
            "is not one (a secret leak, a timeout, a bad input or a crash are found and fixed where they "
            "happened; the record's remedy says how).").format(
                step=step, kind=kind, message=_first_line(error.get("message")) or _("no message")))
    code, subcode = int(error["code"]), _int_or_none(error.get("subcode"))
    method = path = None
    wanted = {str(code), f"{code}/{subcode}"}
    for call in reversed(record.get("graph_calls") or []):
        if str(call.get("error_code")) in wanted:
            method, path = str(call.get("method") or "").upper() or None, call.get("path")
            break
    return {"code": code, "subcode": subcode, "http_status": _int_or_none(error.get("http_status")),
            "type": error.get("type"), "message": str(error.get("message") or ""),
            "details": error.get("details") if isinstance(error.get("details"), str) else None,
            "title": error.get("title"), "method": method, "path": path}


def path_pattern(path: str) -> str:
    """The fault rule's path regex for a recorded call: IDs generalised, the rest literal, anchored.

    '/v25.0/400000000000011/register' -> '^[0-9]+/register$' (the training number's call matches too).
    """

    parts = [r"[0-9]+" if part.isdigit() else re.escape(part) for part in graph_path(path).split("/")]
    return "^" + "/".join(parts) + "$"


# ---- the scenario ----------------------------------------------------------------------------------

def scenario_name(batch: str, customer: str, step: str) -> str:
    """replay_<batch>_<customer>_<step>, lower case, [a-z0-9_] only (the sandbox's scenario names)."""
    name = re.sub(r"[^a-z0-9]+", "_", f"replay_{batch}_{customer}_{step}".lower()).strip("_")
    return name[:NAME_LIMIT].rstrip("_")


def built_in_match(step: str, code: int, subcode: int | None) -> str | None:
    """The built-in drill that teaches this (code, subcode) at this step, if one does."""

    for name, spec in DRILLS.items():
        if spec.step != step or spec.passes or not (spec.expect is None or isinstance(spec.expect, int)):
            continue  # a drill whose step passes, or stops before the call, does not reproduce a Graph error
        path = SCENARIO_DIR / f"{name}.yaml"
        expected = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("expected_error") or {}
        if expected.get("code") == code and _int_or_none(expected.get("subcode")) == subcode:
            return name
    return None


def scenario_for(record: dict[str, Any], batch: str, customer: str) -> dict[str, Any]:
    """The scenario (as the YAML holds it) that reproduces the record's failure at its step."""

    step = str(record["step"])
    error = graph_error(record)
    code, subcode = error["code"], error["subcode"]
    shown = f"{code}/{subcode}" if subcode else str(code)
    number = step.split("_", 1)[0]
    entry = lookup(code, subcode)
    call = f"{error['method']} {error['path']}" if error["method"] else STEP_CHECK
    # The YAML's words are in the language of whoever ran from-run; the training page rebuilds the title and
    # description in its reader's language from the other keys (replayed_texts).
    scenario: dict[str, Any] = {
        "name": scenario_name(batch, customer, step),
        "title": "",
        "description": "",
        "try": _("Run notebook {number} ({step}) with the training profile.").format(number=number, step=step),
        "expected_error": {"code": code, "subcode": subcode, "http_status": error["http_status"]},
        "trainee_sees": error["message"] + (f" Details: {error['details']}" if error["details"] else ""),
        "fix": entry.remedy if entry else _("Not in the playbook's catalogue: read Meta's message and details."),
        "replayed_from": {"batch": batch, "customer": customer, "step": step, "call": call,
                          "fbtrace_id": (record.get("error") or {}).get("fbtrace_id")},
    }
    if error["title"]:
        scenario["replayed_from"]["error_title"] = error["title"]
    based_on = built_in_match(step, code, subcode)
    if based_on is not None:
        built_in = yaml.safe_load((SCENARIO_DIR / f"{based_on}.yaml").read_text(encoding="utf-8"))
        scenario["based_on"] = based_on
        scenario["setup"] = built_in.get("setup") or []
    scenario.update(replayed_texts(scenario, built_in_description=built_in.get("description", "") if based_on else ""))
    if based_on is not None:
        return scenario
    if error["method"] is None:
        raise ReplayError(_(
            "{step} failed with {code}, but no Graph call of the record answered it (it came in a status "
            "webhook or from the step's own check) and no built-in scenario teaches it at this step: a fault "
            "rule replays Graph answers only, so this failure cannot be replayed.").format(step=step, code=shown))
    envelope = {"code": code, "error_subcode": subcode, "http_status": error["http_status"] or 400,
                "message": error["message"], "type": error["type"] or "OAuthException"}
    if error["details"]:
        envelope["details"] = error["details"]
    # times 0: every matching call, so the client's own retries meet it too, until the drill's fix clears it.
    scenario["setup"] = [{"fault": {"kind": "error", "method": error["method"], "path": path_pattern(error["path"]),
                                    "times": 0, "error": envelope}}]
    return scenario


STEP_CHECK = N_("the step's check")  # replayed_from.call when no Graph call answered the error


def replayed_texts(scenario: dict[str, Any], *, built_in_description: str | None = None) -> dict[str, str]:
    """A replayed scenario's title and description in the current language, from what it records
    (replayed_from, expected_error, based_on): what the YAML holds and what the training page shows.
    `built_in_description`: the description of the scenario it is based on (default: read from its file)."""

    origin = scenario["replayed_from"]
    expected = scenario.get("expected_error") or {}
    code, subcode = int(expected["code"]), _int_or_none(expected.get("subcode"))
    shown = f"{code}/{subcode}" if subcode else str(code)
    customer, batch, step = origin.get("customer"), origin.get("batch"), str(origin.get("step") or "")
    number = step.split("_", 1)[0]
    entry = lookup(code, subcode)
    error_title = _(origin["error_title"]) if origin.get("error_title") else (entry.title if entry else "")
    if error_title:
        title = _("Replayed: {customer}'s step {number} failed with {code} ({title})").format(
            customer=customer, number=number, code=shown, title=error_title)
    else:
        title = _("Replayed: {customer}'s step {number} failed with {code}").format(
            customer=customer, number=number, code=shown)
    call = origin.get("call")
    description = _("Batch {batch}, customer {customer}: step {step} failed at {call} with {code} (HTTP {http_status}). "
                    "The sandbox answers the same.").format(
        batch=batch, customer=customer, step=step, call=_(STEP_CHECK) if call == STEP_CHECK else call, code=shown,
        http_status=expected.get("http_status"))
    based_on = scenario.get("based_on")
    if based_on:
        if built_in_description is None:

            built_in = yaml.safe_load((SCENARIO_DIR / f"{based_on}.yaml").read_text(encoding="utf-8")) or {}
            built_in_description = built_in.get("description", "")
        description += " " + _("Based on the built-in scenario {name}: {description}").format(
            name=based_on, description=_(built_in_description) if built_in_description else "")
    return {"title": title, "description": description}


def from_run(folder: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the scenario of the customer folder's failure into `out` (default: PLAYBOOK_DRILLS_DIR, else
    runs/drills); returns the YAML's path. ReplayError says why a folder cannot be replayed."""

    folder = Path(folder)
    path, record = failed_record(folder)
    customer = str(record.get("customer") or folder.name)
    scenario = scenario_for(record, folder.resolve().parent.name, customer)
    text = yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=100)
    text = _redacted(text, record)
    out_dir = Path(out or os.environ.get(DRILLS_DIR_ENV, "").strip() or DEFAULT_DRILLS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{scenario['name']}.yaml"
    header = (f"# A real failure replayed as a drill: python -m helpers drill from-run {folder}\n"
              f"# from {path.name}; listed on the training page when PLAYBOOK_DRILLS_DIR is {out_dir}.\n")
    tmp = target.with_suffix(".yaml.tmp")  # the page skips a half-written file; never show one
    tmp.write_text(header + text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def _redacted(text: str, record: dict[str, Any]) -> str:
    """`text` without the value of any secret the record names ($NAME in its curl lines)."""

    names = {"WHATSAPP_TOKEN", "WHATSAPP_PIN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"}
    for call in record.get("graph_calls") or []:
        names.update(_SECRET_REF.findall(str(call.get("curl") or "")))
    return redact(text, secret_values(os.environ, names).values())


# ---- the drill of a replayed scenario -----------------------------------------------------------------

def replayed_spec(scenario: dict[str, Any]):
    """The DrillSpec of a replayed scenario: the built-in drill's when based on one, else a lesson from
    the remedy catalogue and a fix that stands in for doing what the remedy says (the rule cleared)."""
    import dataclasses


    name = str(scenario["name"])
    based_on = scenario.get("based_on")
    if based_on in DRILLS:
        return dataclasses.replace(DRILLS[based_on], scenario=name)
    origin = scenario.get("replayed_from") or {}
    expected = scenario.get("expected_error") or {}
    code, subcode = expected.get("code"), expected.get("subcode")
    entry = lookup(code, subcode)
    shown = f"{code}/{subcode}" if subcode else str(code)
    call = origin.get("call")
    where = {"customer": origin.get("customer"), "batch": origin.get("batch"),
             "call": _(STEP_CHECK) if call == STEP_CHECK else call, "code": shown}
    if entry:
        lesson = _("This failure happened for real: customer **{customer}**, batch `{batch}`, at `{call}`. "
                   "{code} *{title}*: {remedy}").format(**where, title=entry.title, remedy=entry.remedy)
    else:
        lesson = _("This failure happened for real: customer **{customer}**, batch `{batch}`, at `{call}`. "
                   "{code} is not in the playbook's catalogue: read Meta's message and details in the form."
                   ).format(**where)
    remedy = entry.remedy if entry else _("what Meta's message and details say")

    def clear(drill) -> str:
        drill.drills.control.clear_faults()
        return _("did what the remedy says for {code} (the sandbox stops answering it)").format(code=shown)

    step = str(origin.get("step") or "")
    stands_in_for = _("doing what the remedy says: “{remedy}”").format(remedy=_short(remedy))
    return DrillSpec(name, step, lesson, (MetaFix(N_("Do what the remedy says"), stands_in_for, clear),),
                     expect=code, **STEP_SETUPS.get(step, {}))


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _first_line(text: Any) -> str:
    return str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


# ---- the command -------------------------------------------------------------------------------------

def add_parser(commands) -> None:
    parser = commands.add_parser("drill", help="training drills made from real runs",
                                 description="Training drills made from real runs (docs/training.md).")
    actions = parser.add_subparsers(dest="drill_command", metavar="ACTION", required=True)
    make = actions.add_parser("from-run", help="turn a failed customer's run into a sandbox scenario (a drill)",
                              description="Write a sandbox scenario that reproduces the failed step's Graph error "
                                          "(same code and subcode, same step); the training page lists it.")
    make.add_argument("folder", help="the customer's folder of a batch: runs/<batch-id>/<customer>")
    make.add_argument("--out", default=None,
                      help="folder for the scenario (default: $PLAYBOOK_DRILLS_DIR, else runs/drills)")
    make.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        path = from_run(args.folder, args.out)
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scenario = yaml.safe_load(path.read_text(encoding="utf-8"))
    how = (_("based on the built-in scenario {name}").format(name=scenario["based_on"]) if scenario.get("based_on")
           else _("a fault rule answering the recorded error"))
    print(_("wrote {path}").format(path=path) + f"\n  {scenario['title']}\n  {how}\n"
          + _("The training page lists it when PLAYBOOK_DRILLS_DIR is {folder} (make lab and make voila set it "
              "to {default}).").format(folder=path.parent, default=DEFAULT_DRILLS_DIR))
    return 0
