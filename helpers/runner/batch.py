"""`python -m helpers run`: every customer's steps, customers at once in threads, with a summary.

Each batch writes an immutable folder `<out>/<batch-id>/`: `batch.json` (what was asked),
`<customer>/NN_step.ipynb` + `.json` per step, and `summary.csv` / `summary.html`.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import os
import secrets as pyrandom
import shutil
import sys
import threading
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..client import TIMEOUT_ENV as GRAPH_TIMEOUT_ENV
from ..errors import ConfigError
from ..validate import ApiVersionWarning
from ..profiles import ENV_KEYS, load_profile
from ..webhooks.local_receiver import stop_receivers_started_in
from . import capacity, locks, summary
from .customer import run_customer
from .pool import KernelPool
from ..i18n import LanguageError, _, check_language, in_language
from .language import batch_language
from .preflight import check_faults
from ..secrets_scan import scan_tree, secret_values
from .notebooks import DEFAULT_STEP_TIMEOUT, NOTEBOOKS_DIR, discover, select

# Under --sandbox-faults a held ("timeout after write") answer takes FAULTS_SLOW_S, longer than the
# kernels' client waits (FAULTS_CLIENT_TIMEOUT_S): the caller cannot know the write's outcome.
FAULTS_SLOW_S = 2.5
FAULTS_CLIENT_TIMEOUT_S = 2.0


def run_batch(profile_paths: list[str], *, out: str = "runs", sandbox: bool = False, sandbox_seed: str | None = None,
              workers: int | str = "auto", sandbox_latency_ms: str | float | None = None,
              app_calls_per_hour: float = capacity.DEFAULT_APP_CALLS_PER_HOUR,
              resume: str | None = None, steps: str | None = None, timeout: float = DEFAULT_STEP_TIMEOUT,
              notebooks_dir: Path = NOTEBOOKS_DIR, progress: bool = True, sandbox_faults: float | str | None = None,
              sandbox_faults_seed: int | str | None = None, language: str | None = None) -> dict[str, Any]:
    """Validate everything, run every customer, write the summary. Nothing starts if an input is bad.

    `workers`: customers at once, or "auto" (capacity.auto_workers: the CPUs kept busy while calls
    wait, within memory). Customers start no faster than each app's `app_calls_per_hour` allows.
    `sandbox_faults`: with `sandbox`, the fraction of Graph answers the sandbox replaces by one of Meta's
    transient failures (seeded by `sandbox_faults_seed`); held answers outlast the kernels' client timeout.
    `language` (en, ko): the playbook's words for every customer, over the profiles' `language`.
    Raises LockHeld (a ConfigError) when another run on this machine holds a customer's WABA or app.
    """
    if resume and not profile_paths:
        asked = json.loads((Path(resume) / "batch.json").read_text())
        profile_paths = asked["profiles"]
    if not profile_paths:
        raise ConfigError(_("give at least one customer profile (e.g. customers/example.yaml)."))
    try:
        workers = capacity.parse_workers(workers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if timeout <= 0:
        raise ConfigError(_("--timeout must be a positive number of seconds."))
    if language is not None:
        try:
            language = check_language(language, "--language")
        except LanguageError as exc:
            raise ConfigError(str(exc)) from None
    faults = check_faults(sandbox, sandbox_faults, sandbox_faults_seed)
    if faults:
        faults["faults_slow_s"] = FAULTS_SLOW_S
    if resume and not (Path(resume) / "batch.json").is_file():
        raise ConfigError(_("--resume {resume}: not a batch folder (no batch.json).").format(resume=resume))
    profiles = {str(Path(p).resolve()): load_profile(p) for p in profile_paths}
    slugs = [p["customer"] for p in profiles.values()]
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise ConfigError(_("two profiles share the customer name {names}; each needs its own.").format(
            names=", ".join(duplicates)))
    chosen = [p.stem for p in select(discover(notebooks_dir), steps)]
    if workers == "auto":
        workers = capacity.auto_workers(len(profiles))
    try:
        budget = capacity.AppBudget(app_calls_per_hour, burst=workers)
    except ValueError as exc:
        raise ConfigError(_("--app-calls-per-hour: {problem}").format(problem=exc)) from None

    batch_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + pyrandom.token_hex(2)
    # One run per customer at a time on this machine (locks.py): taken before any folder is written or any
    # call made, held until the batch's receivers are stopped. With --sandbox the Graph URL is known once
    # the batch's own sandbox listens, so its locks are taken then (nothing has called it yet).
    held = locks.LockSet(batch_id)
    if not sandbox:
        held.acquire(locks.batch_wants(profiles.values(), chosen, [locks.graph_url_of(p) for p in profiles.values()]))
    try:
        batch_dir = Path(out) / batch_id
        batch_dir.mkdir(parents=True)
        state_path = _private_dir(Path(out), batch_id) / "sandbox-state.sqlite" if sandbox else None
        (batch_dir / "batch.json").write_text(json.dumps({
            "batch_id": batch_id, "profiles": list(profiles), "steps": chosen, "sandbox": sandbox,
            "sandbox_state": str(state_path.resolve()) if state_path else None,
            "resumed_from": str(resume) if resume else None, "timeout": timeout, "workers": workers,
            "sandbox_latency_ms": None if sandbox_latency_ms is None else str(sandbox_latency_ms),
            "sandbox_faults": faults["faults"] if faults else None,
            "sandbox_faults_seed": faults["faults_seed"] if faults else None, "language": language,
            "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}, indent=2))

        secret_names = frozenset(p[k] for p in profiles.values() for k in ENV_KEYS if p.get(k))
        # The customers' environment: the caller's, plus (with --sandbox) the sandbox's demo secrets
        # and peer settings, handed to each customer's run rather than set in our own os.environ.
        environ = dict(os.environ)
        with ExitStack() as stack:
            overrides: dict[str, dict[str, Any]] = {path: {} for path in profiles}
            if sandbox:
                overrides, demo = _start_sandbox(stack, profiles, batch_dir, state_path, sandbox_seed,
                                                 Path(resume) if resume else None, sandbox_latency_ms, faults)
                urls = [overrides[path]["graph_url"] for path in profiles]
                held.acquire(locks.batch_wants(profiles.values(), chosen, urls))
                environ.update(demo)
                if faults and faults["faults"] > 0:
                    # The sandbox holds a faulted answer FAULTS_SLOW_S; the client gives up sooner, as it would at Meta.
                    environ[GRAPH_TIMEOUT_ENV] = f"{FAULTS_CLIENT_TIMEOUT_S:g}"
                secret_names |= frozenset(n for n in demo if not n.startswith("PLAYBOOK_"))
            if language is not None:
                overrides = {path: {**given, "language": language} for path, given in overrides.items()}
            jobs = {path: dict(batch_dir=str(batch_dir), steps=steps, overrides=overrides[path], timeout=timeout,
                               resume_dir=resume, notebooks_dir=str(notebooks_dir), environ=environ,
                               held_by=batch_id)
                    for path in profiles}
            bar = tqdm(total=len(jobs), unit=_("customer"), desc=_("onboarding"), disable=not progress,
                       file=sys.stderr)
            interrupted = _run_all(jobs, profiles, workers, budget, bar)
            bar.close()
        # Nothing the steps started outlives the batch (notebook 04's local receiver); the summary says so.
        notes = stop_receivers_started_in([batch_dir / slug for slug in slugs])
        # The summary in the batch's language: --language, else the one all its customers speak.
        with in_language(batch_language(profiles.values(), language)):
            table = summary.write(batch_dir, summary.collect(batch_dir, slugs, chosen), chosen, notes=notes)
        # Every file of the batch folder (batch.json, summaries, receivers' stores, all customers) against
        # every secret of the batch: the folder is what users share.
        leaks = scan_tree(batch_dir, secret_values(environ, secret_names))
        for relpath, names in leaks.items():
            leak = _("{path} contained the value of {names}; the file was removed.").format(
                path=batch_dir / relpath, names=", ".join(names))
            print(_("error: {problem}").format(problem=leak), file=sys.stderr)
        return {"batch_dir": batch_dir, "table": table, "interrupted": interrupted, "leaks": leaks,
                "passed": bool(len(table)) and bool((table["status"] == "passed").all()) and not leaks}
    finally:
        held.release()


def _run_all(jobs: dict[str, dict[str, Any]], profiles: dict[str, dict[str, Any]], workers: int,
             budget: capacity.AppBudget, bar) -> bool:
    """Run every job, at most `workers` customers at once; True when Ctrl-C stopped the batch.

    Customers run in threads of this process: a customer's run mostly waits on its kernel and on Graph,
    so a process per customer would only hold memory. All of them share one kernel pool, so one fork
    server (one copy of the preloaded libraries) serves the whole batch; each kernel still gets only
    its own customer's secrets (KernelPool.take).
    """
    cancel = threading.Event()
    kernels = KernelPool()
    threads = cf.ThreadPoolExecutor(max_workers=min(workers, len(jobs)), thread_name_prefix="customer")
    try:
        with warnings.catch_warnings():
            # The batch already said once that a profile's api_version expires; its customers must not
            # repeat it into the progress bar.
            warnings.filterwarnings("ignore", category=ApiVersionWarning)
            # At most `workers` customers in flight, each started when its app's call budget allows.
            queue, running = list(jobs.items()), set()
            while queue or running:
                while queue and len(running) < workers:
                    path, kwargs = queue.pop(0)
                    budget.acquire(str(profiles[path].get("app_id") or "-"))
                    running.add(threads.submit(run_customer, path, pool=kernels, cancel=cancel, **kwargs))
                done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    bar.set_postfix_str(f"{result['customer']}: {summary.status_word(result['status'])}")
                    bar.update()
        return False
    except KeyboardInterrupt:
        # Queued customers never start; running ones stop at once: closing the pool stops every kernel,
        # and each run leaves the step it was in unrecorded (not run), as if it had not started.
        cancel.set()
        kernels.close()  # before the finally waits for the running customers
        return True
    finally:
        threads.shutdown(wait=True, cancel_futures=True)
        kernels.close()


def _private_dir(out: Path, batch_id: str) -> Path:
    """`<out>/.private/<batch-id>/`, readable by us only: the sandbox's state (tokens, app secret in
    clear) sits beside the batch folder, where resume finds it, not in the folder users share."""
    private = out / ".private"
    private.mkdir(mode=0o700, exist_ok=True)
    os.chmod(private, 0o700)
    folder = private / batch_id
    folder.mkdir(mode=0o700)
    return folder


def _start_sandbox(stack: ExitStack, profiles: dict[str, dict[str, Any]], batch_dir: Path, state: Path,
                   seed: str | None, resume: Path | None, latency_ms: str | float | None = None,
                   faults: dict[str, Any] | None = None):
    """Start the sandbox and one webhook receiver per app secret; point each customer at them.

    The sandbox's state is kept at `state` (outside the batch folder). A resumed batch starts
    from a copy of the earlier batch's state, on the same ports, so the webhook callbacks that
    its passed steps set up still reach a receiver. Returns the overrides per profile and the
    environment the customers need: the demo secrets and the peer settings.
    """
    from ..sandbox import Sandbox  # only for --sandbox batches: against Meta the emulator stays unloaded
    from ..sandbox.peer import peer_env
    from ..webhooks import WebhookReceiver

    earlier = json.loads((resume / "sandbox.json").read_text()) if resume and (resume / "sandbox.json").is_file() else {}
    if resume:
        asked = json.loads((resume / "batch.json").read_text())
        # Batches from before the private folder kept the state inside the batch folder.
        old_state = Path(asked.get("sandbox_state") or resume / "sandbox-state.sqlite")
        if old_state.is_file():
            shutil.copy2(old_state, state)
    sandbox = _on_port(lambda port: Sandbox(seed=seed, state_path=state, port=port, latency_ms=latency_ms,
                                            **(faults or {})),
                       earlier.get("port", 0))
    stack.callback(sandbox.stop)
    # Sandbox-only fake secrets, and the steps' SMS and consumer: this sandbox.
    demo = {**sandbox.demo_env(), **peer_env(sandbox.url)}
    receivers: dict[tuple[str, str], Any] = {}
    overrides = {}
    for path, profile in profiles.items():
        key = (profile.get("app_secret_env", ""), profile.get("verify_token_env", ""))
        if key not in receivers and all(key):
            name = f"webhooks-{len(receivers) + 1}"
            receiver = _on_port(lambda port: WebhookReceiver(batch_dir / f"{name}.sqlite", verify_token_env=key[1],
                                                             app_secret_env=key[0], port=port,
                                                             environ={**os.environ, **demo}),
                                earlier.get("receivers", {}).get(name, 0))
            stack.callback(receiver.stop)
            receivers[key] = (receiver, name)
        override: dict[str, Any] = {"graph_url": sandbox.url}
        if key in receivers:
            receiver, name = receivers[key]
            override.update(callback_url=receiver.callback_url, webhook_db=str((batch_dir / f"{name}.sqlite").resolve()))
        overrides[path] = override
    (batch_dir / "sandbox.json").write_text(json.dumps({
        "url": sandbox.url, "port": sandbox.port,
        "receivers": {name: receiver.port for receiver, name in receivers.values()}}, indent=2))
    return overrides, demo


def _on_port(make, port: int):
    """Start make(port); if that port is taken now, on a free one (a resumed batch says so)."""
    try:
        return make(port).start()
    except OSError:
        if not port:
            raise
        print(_("warning: port {port} of the resumed batch is taken; using another. Webhooks set up by the "
                "carried-over steps point at the old port: re-run step 04 (--steps 04-10) if 09 times out.").format(
                    port=port), file=sys.stderr)
        return make(0).start()
