"""The preflight of `python -m helpers run`: every input checked before any kernel starts or any
folder is written, over every profile given, with every problem reported at once.

Checks, from the parameter registry (helpers.parameters): each profile loads; each secret the
chosen steps need (by the profile's `*_env` name, else the default name) is set and well-formed
(PIN: 6 digits; tokens: no whitespace); `api_version` is one Meta published and has not expired
(expiring soon: one clean warning); `--steps`, `--sandbox-seed` and `--resume` are usable; and,
no other run on this machine holds a customer's WABA or app lock (helpers.runner.locks; the batch
takes them itself); and, only when everything else is right (nothing touches the network before the
input is), each distinct `graph_url` answers one quick probe (skipped with --sandbox: the runner
starts its own).
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import parameters
from ..errors import ConfigError
from ..i18n import _, display_width
from ..parameters import PARAMS, STEPS
from ..profiles import load_profile
from ..validate import ApiVersionWarning
from ..versions import version_status
from . import locks
from .notebooks import NOTEBOOKS_DIR, discover, select

PROBE_TIMEOUT_S = 3.0


@dataclass
class Readiness:
    """One profile's preflight: who, and what is wrong (empty: ready)."""
    path: str
    customer: str
    problems: list[str] = field(default_factory=list)
    graph_url: str = ""
    locks: list[tuple[str, str]] = field(default_factory=list)   # (key, graph_url) the run would take

    @property
    def ready(self) -> bool:
        return not self.problems


@dataclass
class Preflight:
    customers: list[Readiness]
    problems: list[str]      # every problem, one line each, customer-prefixed where it is a customer's
    warnings: list[str]      # printed once each; they do not stop the run

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        """Per-customer readiness, for --preflight-only."""
        rows = [(_("customer"), _("ready"), _("problems"))] + [
            (r.customer, _("yes") if r.ready else _("no"), "; ".join(r.problems) or "-") for r in self.customers]
        widths = [max(display_width(row[i]) for row in rows) for i in range(2)]
        return "\n".join(f"{_pad(row[0], widths[0])}  {_pad(row[1], widths[1])}  {row[2]}" for row in rows)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - display_width(text), 0)


def run(profile_paths: list[str], *, steps: str | None = None, sandbox: bool = False, sandbox_seed: str | None = None,
        resume: str | None = None, notebooks_dir: Path = NOTEBOOKS_DIR,
        environ: Mapping[str, str] | None = None, probe: bool = True) -> Preflight:
    """Check everything `run_batch` would be given; no folder is written, no kernel started."""
    problems: list[str] = []
    notes: list[str] = []
    environ = dict(os.environ if environ is None else environ)

    try:
        chosen = [p.stem for p in select(discover(notebooks_dir), steps)]
    except ConfigError as exc:
        problems.append(str(exc))
        chosen = []

    if resume:
        batch_json = Path(resume) / "batch.json"
        try:
            asked = json.loads(batch_json.read_text(encoding="utf-8"))
            if not profile_paths:
                profile_paths = list(asked.get("profiles") or [])
        except (OSError, ValueError) as exc:
            problems.append(_("--resume {resume}: cannot read {path} ({reason}); give a batch folder "
                              "written by an earlier run, e.g. runs/20250101-120000-abcd.").format(
                                  resume=resume, path=batch_json, reason=_reason(exc)))

    if sandbox_seed and not Path(sandbox_seed).is_file():
        problems.append(_("--sandbox-seed {seed}: no such file; give a seed YAML (docs/sandbox.md) or leave "
                          "--sandbox-seed out for the built-in seed.").format(seed=sandbox_seed))
    elif sandbox_seed or sandbox:
        from ..sandbox.seed import Seed, SeedError
        try:
            environ.update(Seed(sandbox_seed).demo_env())  # the runner exports these for --sandbox
        except SeedError as exc:
            problems.append(_("--sandbox-seed {seed}: {problem}").format(seed=sandbox_seed, problem=exc))

    if not profile_paths:
        problems.append(_("give at least one customer profile (e.g. customers/example.yaml)."))

    customers: list[Readiness] = []
    seen: dict[str, str] = {}
    for path in profile_paths:
        customers.append(_check_profile(path, chosen, environ, notes))
    for readiness in customers:
        if readiness.customer in seen:
            readiness.problems.append(_("shares the customer name with {other}; each profile needs "
                                        "its own 'customer'.").format(other=seen[readiness.customer]))
        seen.setdefault(readiness.customer, readiness.path)

    # Another run of a customer's WABA or app on this machine (locks.py): refused now, before any call. An
    # embedded sandbox is the batch's own, so nobody else can hold its locks.
    if not sandbox:
        for readiness in customers:
            readiness.problems.extend(str(refused) for refused in locks.refusals(readiness.locks))

    if probe and not sandbox and not problems and all(r.ready for r in customers):
        for url, failure in _probe({r.graph_url for r in customers if r.graph_url}).items():
            for readiness in customers:
                if readiness.graph_url == url:
                    readiness.problems.append(failure)

    for readiness in customers:
        problems.extend(_("{customer}: {problem}").format(customer=readiness.customer, problem=p)
                        for p in readiness.problems)
    return Preflight(customers, problems, list(dict.fromkeys(notes)))


def _check_profile(path: str, chosen: list[str], environ: Mapping[str, str], notes: list[str]) -> Readiness:
    readiness = Readiness(path, Path(path).stem)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ApiVersionWarning)  # reported below, once and without a source line
            profile = load_profile(path)
    except ConfigError as exc:
        message = str(exc)
        prefix = _("profile {path}: {problem}").format(path=path, problem="")  # load_profile's, in its language
        readiness.problems.append(message[len(prefix):] if message.startswith(prefix) else message)
        return readiness
    readiness.customer = str(profile["customer"])
    readiness.graph_url = str(profile.get("graph_url") or PARAMS["graph_url"].default)
    readiness.locks = locks.batch_wants([profile], chosen, [locks.graph_url_of(profile, environ=environ)])

    version = str(profile.get("api_version") or PARAMS["api_version"].default)
    status = version_status(version)
    if status["status"] == "expired":
        readiness.problems.append(_("api_version {note}").format(note=status["note"]))
    elif status["status"] == "expires soon":
        notes.append(_("warning: api_version {note}").format(note=status["note"]))

    needed: dict[str, None] = {}
    for step in chosen:
        spec = STEPS[step]
        if spec.applies(profile):
            needed.update(dict.fromkeys(spec.secrets))
    needed.update(dict.fromkeys(k for k in parameters.SECRET_ENV_PARAMS if profile.get(k) and _used(k, chosen)))
    for param in needed:
        env = str(profile.get(param) or PARAMS[param].default)
        problem = parameters.secret_problem(param, env, environ)
        if problem:
            readiness.problems.append(_how_to_fix(problem, param, env))
    return readiness


def _used(param: str, chosen: list[str]) -> bool:
    """A secret the profile names counts when a chosen step declares its parameter."""
    steps = PARAMS[param].steps
    return parameters.ALL in steps or any(step in steps for step in chosen)


def _how_to_fix(problem: str, param: str, env: str) -> str:
    """The problem and what to run: the `export NAME=...` line is the same in every language."""
    if PARAMS[param].secret == "pin":
        form = _("the number's 6-digit PIN")
    else:
        form = _("the {what}").format(what=_(PARAMS[param].what))
    return _("{problem}: export {env}=... ({form}) before the run.").format(problem=problem, env=env, form=form)


def _probe(urls: set[str]) -> dict[str, str]:
    """url -> why it does not answer, for the ones that do not (any HTTP answer counts)."""
    import requests  # only when probing

    failures = {}
    for url in sorted(urls):
        try:
            requests.get(url, timeout=PROBE_TIMEOUT_S, allow_redirects=False)
        except requests.RequestException as exc:
            failures[url] = _("graph_url {url} does not answer ({reason}): check the URL and the network, "
                              "or run against the sandbox with --sandbox.").format(url=url, reason=_reason(exc))
    return failures


def _reason(exc: BaseException) -> str:
    import requests

    if isinstance(exc, FileNotFoundError):
        return _("no such file")
    if isinstance(exc, requests.Timeout):
        return _("no answer within {seconds} s").format(seconds=f"{PROBE_TIMEOUT_S:g}")
    if isinstance(exc, requests.ConnectionError):
        return _("connection refused or host unknown")
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def check_faults(sandbox: bool, rate: float | str | None, seed: int | str | None) -> dict[str, Any] | None:
    """--sandbox-faults and its seed checked: Sandbox's keyword arguments faults, faults_seed; None when off."""
    if rate is None and seed is None:
        return None
    if not sandbox:
        raise ConfigError(_("--sandbox-faults injects faults into the embedded sandbox: add --sandbox."))
    if rate is None:
        raise ConfigError(_("--sandbox-faults-seed seeds --sandbox-faults: give --sandbox-faults RATE too."))
    from ..sandbox.faults import FaultError, check_rate

    try:
        checked = check_rate(rate)
    except FaultError:
        raise ConfigError(_("--sandbox-faults {rate}: give the fraction of Graph answers to fault, between 0 and 1 "
                            "(below 1: 1 would fault every call), e.g. 0.05.").format(rate=repr(rate))) from None
    try:
        number = int(seed) if seed is not None else 0
    except (TypeError, ValueError):
        raise ConfigError(_("--sandbox-faults-seed {seed}: give a whole number, e.g. 7.").format(seed=repr(seed))) from None
    return {"faults": checked, "faults_seed": number}


def report(result: Preflight, stream: Any) -> None:
    for line in result.problems:
        print(_("error: {problem}").format(problem=line), file=stream)
    for line in result.warnings:
        print(line, file=stream)
    if result.problems:
        n = len(result.problems)
        print(_("preflight: 1 problem; nothing was started or written.") if n == 1 else
              _("preflight: {count} problems; nothing was started or written.").format(count=n), file=stream)
