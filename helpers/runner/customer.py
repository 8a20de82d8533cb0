"""Run one customer's step notebooks: a profile in, records out.

`run_customer` is pure in the sense an orchestrator needs: it reads the profile and the
secrets' environment variables, writes only under `batch_dir/<customer>/`, and returns the
records. The batch CLI maps it over threads (one kernel pool for all); Airflow or Dagster can map it too.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import nbformat
import papermill
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from ..i18n import DEFAULT_LANGUAGE, _, current_language, in_language, localize_notebook
from ..profiles import ENV_KEYS, load_profile
from ..remedies import remedy_text
from . import locks
from .. import records
from .kernel import ENGINE_NAME, CustomerKernel
from .pool import KernelPool, default_pool, kernel_environment
from ..records import FAILED, JOURNAL_DIR, PASSED, TIMEOUT
from ..secrets_scan import SecretMatcher, scan_tree, secret_values
from .notebooks import DEFAULT_STEP_TIMEOUT, NOTEBOOKS_DIR, discover, parameter_names, select


def run_customer(
    profile_path: str | os.PathLike,
    batch_dir: str | os.PathLike,
    *,
    steps: str | None = None,
    overrides: dict[str, Any] | None = None,
    timeout: float = DEFAULT_STEP_TIMEOUT,
    resume_dir: str | os.PathLike | None = None,
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    pool: KernelPool | None = None,
    environ: Mapping[str, str] | None = None,
    held_by: str | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Execute the customer's steps in order in one kernel; stop at the first step that does not pass.

    `overrides` (graph_url, callback_url, webhook_db, ...) win over the profile. With
    `resume_dir`, steps that passed there are carried over (record and notebook copied,
    their outputs reused) and the run starts at the first step that did not pass.
    The kernel comes from `pool` (default: the process-wide pool) and sees only the allow-listed
    settings of `environ` (default: os.environ) plus this customer's own secrets from it.
    One run per WABA on this machine (helpers.runner.locks): the run holds the WABA's lock while it runs,
    unless `held_by` names the batch (its id) that holds it already, as run_batch does; it raises LockHeld
    (a ConfigError) before any Graph call when another run holds it, or another batch the app's callback.
    `cancel` (set on Ctrl-C by run_batch): no further step starts, and the step that was running when it
    was set leaves no record, as if it had not started (its kernel is being stopped under it).
    Returns {"customer", "profile", "status", "records"}.
    """
    profile_path = Path(profile_path).resolve()
    profile = load_profile(profile_path)
    customer = profile["customer"]
    out_dir = Path(batch_dir) / customer
    out_dir.mkdir(parents=True, exist_ok=True)
    if resume_dir is not None:
        _carry_journals(resume_dir, customer, out_dir)
    chosen = select(discover(Path(notebooks_dir)), steps)

    environ = os.environ if environ is None else environ
    pool = default_pool() if pool is None else pool
    own_names = {profile[k] for k in ENV_KEYS if profile.get(k)}
    base_env = kernel_environment(environ)
    own_secrets = {n: environ[n] for n in sorted(own_names) if n in environ}
    # Only this customer's secrets can reach its kernel, so only they are looked for in its outputs
    # (the batch scans its whole folder for every customer's afterwards).
    matcher = SecretMatcher(secret_values(environ, own_names))
    cancel = threading.Event() if cancel is None else cancel
    # What the runner sets (overrides) wins over what steps found, which wins over the profile.
    fixed = {**(overrides or {}), "profile": str(profile_path), "interactive": False, "run_dir": str(out_dir.resolve())}
    values: dict[str, Any] = {**profile, **fixed}

    # The runner's own messages (a timeout, a dead kernel, a leak) in the customer's language, as its steps' are.
    with in_language(str(values.get("language") or "") or None):
        results: list[dict[str, Any]] = []
        kernel: CustomerKernel | None = None
        # Taken just before the steps' try, so the finally always releases it; nothing above calls Graph.
        lock = locks.customer_lock(profile, locks.graph_url_of(profile, overrides, environ),
                                   [p.stem for p in chosen], batch_id=Path(batch_dir).name, held_by=held_by)
        resuming = resume_dir is not None
        # Steps the resumed batch never had (added to the playbook since, or left out by its --steps) run
        # without ending the carry-over: the passed steps after them are still carried.
        earlier_steps = _batch_steps(resume_dir) if resuming else None
        try:
            for notebook in chosen:
                stem = notebook.stem
                if cancel.is_set():
                    break
                carried = _carry_over(resume_dir, customer, stem, out_dir) if resuming else None
                new_step = carried is None and earlier_steps is not None and stem not in earlier_steps
                resuming = carried is not None or (resuming and new_step)
                if carried is not None:
                    values.update({**(carried.get("outputs") or {}), **fixed})
                    results.append(carried)
                    continue
                # The kernel's start counts against the first step's budget, so a stuck start is a timeout.
                step_started, started_at = time.monotonic(), records.now_iso()
                if kernel is None:
                    try:
                        kernel = pool.take(base_env, own_secrets, Path(notebooks_dir), timeout=timeout)
                    except Exception as exc:
                        if cancel.is_set():
                            break
                        status = TIMEOUT if isinstance(exc, TimeoutError) else FAILED
                        record = records.failure(stem, customer, status, "KernelStartError",
                                                 _("the step's kernel did not start: {problem}").format(problem=exc),
                                                 started_at=started_at,
                                                 duration_s=round(time.monotonic() - step_started, 3))
                        records.write(out_dir / f"{stem}.json", record)
                        results.append(record)
                        break
                budget = timeout - (time.monotonic() - step_started)
                record = _run_step(kernel, notebook, out_dir, values, timeout, customer, budget=budget)
                if cancel.is_set() and record["status"] != PASSED:
                    (out_dir / f"{stem}.json").unlink(missing_ok=True)  # stopped, not failed
                    break
                record = _guard_secrets(record, out_dir, stem, matcher)
                results.append(record)
                if record["status"] != PASSED:
                    break
                values.update({**(record.get("outputs") or {}), **fixed})
        finally:
            if kernel is not None:
                kernel.shutdown()
            if lock is not None:
                lock.release()
        # One record per step so far, in order (carried, passed, or the one that stopped the run): the rest did not run.
        results += [records.not_run(p.stem, customer) for p in chosen[len(results):]]
        leaks = scan_tree(out_dir, matcher)
        for relpath, names in leaks.items():  # last line of defence: nothing with a secret stays
            results.append(records.failure(Path(relpath).stem, customer, FAILED, "SecretLeak",
                                           _("{path} contained the value of {names}; the file was removed.").format(
                                               path=relpath, names=", ".join(names))))
        status = PASSED if results and all(r["status"] == PASSED for r in results) else FAILED
        return {"customer": customer, "profile": str(profile_path), "status": status, "records": results}


def _run_step(kernel: CustomerKernel, notebook: Path, out_dir: Path, values: dict[str, Any], timeout: float,
              customer: str, budget: float | None = None) -> dict[str, Any]:
    stem = notebook.stem
    record_path = out_dir / f"{stem}.json"
    output_path = out_dir / f"{stem}.ipynb"
    record_path.unlink(missing_ok=True)
    params = {k: v for k, v in values.items() if k in parameter_names(notebook)}
    started, started_at = time.monotonic(), records.now_iso()
    # Wall-clock limit for the whole step; nbclient's own timeout covers a single hung cell.
    fired = threading.Event()

    def stop_step() -> None:
        fired.set()
        _interrupt(kernel)

    timer = threading.Timer(max(timeout if budget is None else budget, 0.0), stop_step)
    timer.start()
    problem: tuple[str, str, str] | None = None
    language = str(values.get("language") or "") or current_language()
    try:
        papermill.execute_notebook(
            _notebook_in(notebook, language), str(output_path), parameters=params, engine_name=ENGINE_NAME,
            customer_kernel=kernel, progress_bar=False, store_widget_state=False,
            request_save_on_cell_execute=False,  # one write at the end, not one per cell
            execution_timeout=timeout, cwd=None, log_output=False,
        )
    except CellTimeoutError:
        problem = (TIMEOUT, "CellTimeoutError",
                   _("a cell ran longer than {seconds} s and was stopped").format(seconds=f"{timeout:g}"))
    except DeadKernelError as exc:
        problem = (FAILED, "DeadKernelError",
                   _("the kernel died while running the step ({how}): {problem}").format(
                       how=kernel.exit_description(), problem=exc))
    except papermill.PapermillExecutionError as exc:
        problem = (FAILED, exc.ename, _("cell {number}: {error}: {message}").format(
            number=exc.exec_count, error=exc.ename, message=exc.evalue))
    finally:
        timer.cancel()
    wall = round(time.monotonic() - started, 3)
    if fired.is_set() and problem:
        problem = (TIMEOUT, "StepTimeout",
                   _("the step ran longer than {seconds} s and was interrupted").format(seconds=f"{timeout:g}"))

    record = records.read(record_path)
    if problem is not None and (record is None or record.get("status") == PASSED):
        status, kind, message = problem
        record = records.failure(stem, customer, status, kind, message, started_at=started_at, duration_s=wall)
    elif problem is not None and problem[0] == TIMEOUT:
        record["status"] = TIMEOUT
    elif record is None:
        record = records.failure(stem, customer, FAILED, "MissingRecord",
                                 _("the notebook finished without writing its result record (run_dir not used?)"),
                                 started_at=started_at, duration_s=wall)
    if record.get("error") and not record["error"].get("remedy"):  # the runner's own failures: what to do
        record["error"]["remedy"] = remedy_text(record["error"].get("type"), where="shell")
    record.update(wall_s=wall, notebook=output_path.name)
    records.write(record_path, record)
    return record


@functools.lru_cache(maxsize=64)
def _localized(notebook: Path, mtime_ns: int, language: str):
    return localize_notebook(nbformat.read(str(notebook), as_version=4), language)


def _notebook_in(notebook: Path, language: str):
    """The notebook to execute: its path in English; in another language, a copy whose prose is translated
    (read and translated once per notebook and language, however many customers run it)."""
    if language == DEFAULT_LANGUAGE:
        return str(notebook)
    return copy.deepcopy(_localized(notebook, notebook.stat().st_mtime_ns, language))


def _interrupt(kernel: CustomerKernel) -> None:
    try:
        if kernel.km is not None:
            run_sync(kernel.km.interrupt_kernel)()
    except Exception:  # the kernel may already be gone
        pass


def _guard_secrets(record: dict[str, Any], out_dir: Path, stem: str, matcher: SecretMatcher) -> dict[str, Any]:
    """Scan the step's notebook and record; on a hit remove them and fail loudly."""
    leaked: dict[str, list[str]] = {}
    for path in (out_dir / f"{stem}.ipynb", out_dir / f"{stem}.json"):
        names = matcher.names_in_file(path)
        if names:
            leaked[path.name] = names
            path.unlink()
    if not leaked:
        return record
    where = "; ".join(_("{file} held {names}").format(file=name, names=", ".join(v)) for name, v in leaked.items())
    failed = records.failure(stem, record.get("customer", ""), FAILED, "SecretLeak",
                             _("secret values found in the step's output ({where}); the files were removed. "
                               "Print names of environment variables, never their values.").format(where=where),
                             started_at=record.get("started_at"), duration_s=record.get("duration_s"))
    records.write(out_dir / f"{stem}.json", failed)
    return failed


def _batch_steps(resume_dir) -> set[str] | None:
    """The steps the resumed batch chose (its batch.json), or None when it does not say."""
    try:
        steps = json.loads((Path(resume_dir) / "batch.json").read_text(encoding="utf-8")).get("steps")
    except (OSError, ValueError):
        return None
    return set(steps) if isinstance(steps, list) else None


def _carry_journals(resume_dir, customer: str, out_dir: Path) -> list[str]:
    """Copy the resumed run's write journals (`journal/<step>.json`, helpers.steps.journal) into this run,
    unless this run has its own already: a step run again then reads what its earlier writes did."""
    copied = []
    for path in sorted((Path(resume_dir) / customer / JOURNAL_DIR).glob("*.json")):
        target = out_dir / JOURNAL_DIR / path.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied.append(path.name)
    return copied


def _carry_over(resume_dir, customer: str, stem: str, out_dir: Path) -> dict[str, Any] | None:
    """The step's passed record from the run being resumed (copied into this run), else None.

    A step that passed while waiting on Meta (a template still in review) asks to run again.
    """
    if resume_dir is None:
        return None
    old_dir = Path(resume_dir) / customer
    old = records.read(old_dir / f"{stem}.json")
    if not old or old.get("status") != PASSED or (old.get("facts") or {}).get("rerun_on_resume"):
        return None
    for suffix in (".ipynb", ".json"):
        if (old_dir / f"{stem}{suffix}").exists():
            shutil.copy2(old_dir / f"{stem}{suffix}", out_dir / f"{stem}{suffix}")
    old["carried_over_from"] = str(old_dir)
    records.write(out_dir / f"{stem}.json", old)
    return old
