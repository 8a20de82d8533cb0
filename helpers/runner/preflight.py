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
        rows = [("customer", "ready", "problems")] + [
            (r.customer, "yes" if r.ready else "no", "; ".join(r.problems) or "-") for r in self.customers]
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        return "\n".join(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}" for row in rows)


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
            problems.append(f"--resume {resume}: cannot read {batch_json} ({_reason(exc)}); give a batch folder "
                            "written by an earlier run, e.g. runs/20250101-120000-abcd.")

    if sandbox_seed and not Path(sandbox_seed).is_file():
        problems.append(f"--sandbox-seed {sandbox_seed}: no such file; give a seed YAML (docs/sandbox.md) or leave "
                        "--sandbox-seed out for the built-in seed.")
    elif sandbox_seed or sandbox:
        from ..sandbox.seed import Seed, SeedError
        try:
            environ.update(Seed(sandbox_seed).demo_env())  # the runner exports these for --sandbox
        except SeedError as exc:
            problems.append(f"--sandbox-seed {sandbox_seed}: {exc}")

    if not profile_paths:
        problems.append("give at least one customer profile (e.g. customers/example.yaml).")

    customers: list[Readiness] = []
    seen: dict[str, str] = {}
    for path in profile_paths:
        customers.append(_check_profile(path, chosen, environ, notes))
    for readiness in customers:
        if readiness.customer in seen:
            readiness.problems.append(f"shares the customer name with {seen[readiness.customer]}; each profile needs "
                                      "its own 'customer'.")
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
        problems.extend(f"{readiness.customer}: {p}" for p in readiness.problems)
    return Preflight(customers, problems, list(dict.fromkeys(notes)))


def _check_profile(path: str, chosen: list[str], environ: Mapping[str, str], notes: list[str]) -> Readiness:
    readiness = Readiness(path, Path(path).stem)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ApiVersionWarning)  # reported below, once and without a source line
            profile = load_profile(path)
    except ConfigError as exc:
        message = str(exc)
        readiness.problems.append(message[len(f"profile {path}: "):] if message.startswith(f"profile {path}: ")
                                  else message)
        return readiness
    readiness.customer = str(profile["customer"])
    readiness.graph_url = str(profile.get("graph_url") or PARAMS["graph_url"].default)
    readiness.locks = locks.batch_wants([profile], chosen, [locks.graph_url_of(profile, environ=environ)])

    version = str(profile.get("api_version") or PARAMS["api_version"].default)
    status = version_status(version)
    if status["status"] == "expired":
        readiness.problems.append(f"api_version {status['note']}")
    elif status["status"] == "expires soon":
        notes.append(f"warning: api_version {status['note']}")

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
            readiness.problems.append(problem + _how_to_fix(param, env))
    return readiness


def _used(param: str, chosen: list[str]) -> bool:
    """A secret the profile names counts when a chosen step declares its parameter."""
    steps = PARAMS[param].steps
    return parameters.ALL in steps or any(step in steps for step in chosen)


def _how_to_fix(param: str, env: str) -> str:
    form = {"pin": "the number's 6-digit PIN"}.get(PARAMS[param].secret, f"the {PARAMS[param].what}")
    return f": export {env}=... ({form}) before the run."


def _probe(urls: set[str]) -> dict[str, str]:
    """url -> why it does not answer, for the ones that do not (any HTTP answer counts)."""
    import requests  # only when probing

    failures = {}
    for url in sorted(urls):
        try:
            requests.get(url, timeout=PROBE_TIMEOUT_S, allow_redirects=False)
        except requests.RequestException as exc:
            failures[url] = (f"graph_url {url} does not answer ({_reason(exc)}): check the URL and the network, "
                             "or run against the sandbox with --sandbox.")
    return failures


def _reason(exc: BaseException) -> str:
    import requests

    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {PROBE_TIMEOUT_S:g} s"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or host unknown"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def check_faults(sandbox: bool, rate: float | str | None, seed: int | str | None) -> dict[str, Any] | None:
    """--sandbox-faults and its seed checked: Sandbox's keyword arguments faults, faults_seed; None when off."""
    if rate is None and seed is None:
        return None
    if not sandbox:
        raise ConfigError("--sandbox-faults injects faults into the embedded sandbox: add --sandbox.")
    if rate is None:
        raise ConfigError("--sandbox-faults-seed seeds --sandbox-faults: give --sandbox-faults RATE too.")
    from ..sandbox.faults import FaultError, check_rate

    try:
        checked = check_rate(rate)
    except FaultError:
        raise ConfigError(f"--sandbox-faults {rate!r}: give the fraction of Graph answers to fault, between 0 and 1 "
                          "(below 1: 1 would fault every call), e.g. 0.05.") from None
    try:
        number = int(seed) if seed is not None else 0
    except (TypeError, ValueError):
        raise ConfigError(f"--sandbox-faults-seed {seed!r}: give a whole number, e.g. 7.") from None
    return {"faults": checked, "faults_seed": number}


def report(result: Preflight, stream: Any) -> None:
    for line in result.problems:
        print(f"error: {line}", file=stream)
    for line in result.warnings:
        print(line, file=stream)
    if result.problems:
        n = len(result.problems)
        print(f"preflight: {n} problem{'s' if n != 1 else ''}; nothing was started or written.", file=stream)
