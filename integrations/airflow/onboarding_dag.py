"""Onboard every customer with Airflow: one mapped task per profile, then the batch summary.

Put this file in Airflow's DAGs folder (or import `build_onboarding_dag` from your own DAG file).
The workers need this project installed (`pip install -e .` with requirements.txt) and, in their
environment, the secrets the profiles name (`token_env`, `pin_env`, ...), e.g. from a secrets
backend that exports them. Nothing secret travels through Airflow: task arguments are profile
paths, XComs are a customer's status and failed step, the run's conf holds URLs and paths.

    PLAYBOOK_PROFILES   glob of the profiles to onboard    (default customers/*.yaml)
    PLAYBOOK_RUNS_DIR   where each DAG run writes its batch (default runs/airflow)

Per run (dag run conf, all optional): `profiles` (a glob or a list), `runs_dir`, `steps` ("01-10"), `overrides`
({"*": {...}, "<customer>": {...}}: graph_url, callback_url, webhook_db for the steps).

Each customer's notebooks run in one kernel (helpers.runner.run_customer), which holds the customer's
WABA lock on its machine (helpers.runner.locks): a second run of that WABA there stops before any call.
Workers on several machines share no lock, so the listing task fails when profiles sharing an app_id
would point its one webhook callback at different receivers. A customer is retried
only when resuming is safe: its failure was transient (a timeout, a dead kernel, the network, a
Graph error Meta marks transient); the retry resumes after the steps that passed. A failure that
needs a person (a wrong PIN, a missing permission) fails the task at once, without retrying.
"""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
from pathlib import Path
from typing import Any

from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException

DAG_ID = "whatsapp_onboarding"
MAX_ACTIVE_CUSTOMERS = 4      # customers at once across the DAG (kernels are the cost)
RETRIES = 2
TRANSIENT = {"StepTimeout", "CellTimeoutError", "DeadKernelError", "NetworkError", "KernelLaunchError"}


def _settings() -> dict[str, Any]:
    run = get_current_context().get("dag_run")
    conf = (run.conf or {}) if run is not None else {}
    return {"profiles": conf.get("profiles") or os.environ.get("PLAYBOOK_PROFILES", "customers/*.yaml"),
            "runs_dir": conf.get("runs_dir") or os.environ.get("PLAYBOOK_RUNS_DIR", "runs/airflow"),
            "steps": conf.get("steps"), "overrides": conf.get("overrides") or {}}


def _batch_dir(settings: dict[str, Any]) -> Path:
    run_id = get_current_context()["run_id"]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return Path(settings["runs_dir"]) / safe


def transient(record: dict[str, Any]) -> bool:
    """Whether a failed step may simply be tried again (nothing a person must fix first)."""
    error = record.get("error") or {}
    return record.get("status") == "timeout" or error.get("type") in TRANSIENT or error.get("retryable") is True


def onboard_one(profile: str, batch_dir: Path, try_number: int, steps: str | None,
                overrides: dict[str, Any]) -> dict[str, Any]:
    """One customer; on a retry, the earlier attempt moves aside and this one resumes after its passed steps."""
    from helpers.profiles import load_profile
    from helpers.runner import run_customer

    customer = load_profile(profile)["customer"]
    resume_dir = None
    if try_number > 1 and (batch_dir / customer).is_dir():
        earlier = batch_dir / ".attempts" / f"try-{try_number - 1}"
        earlier.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(earlier / customer, ignore_errors=True)
        shutil.move(str(batch_dir / customer), str(earlier / customer))
        resume_dir = earlier
    chosen = {**overrides.get("*", {}), **overrides.get(customer, {})}
    result = run_customer(profile, batch_dir, steps=steps, overrides=chosen, resume_dir=resume_dir)
    failed = next((r for r in result["records"] if r["status"] not in ("passed", "not run")), None)
    outcome = {"customer": customer, "status": result["status"], "try": try_number,
               "failed_step": failed["step"] if failed else None,
               "reason": ((failed or {}).get("error") or {}).get("type")}
    if failed is None:
        return outcome
    message = f"{customer}: {failed['step']} {failed['status']} ({outcome['reason']}); see {batch_dir / customer}"
    raise (AirflowException if transient(failed) else AirflowFailException)(message)


def build_onboarding_dag(dag_id: str = DAG_ID, *, max_active_customers: int = MAX_ACTIVE_CUSTOMERS,
                         retries: int = RETRIES, retry_delay: dt.timedelta = dt.timedelta(seconds=30)):
    @dag(dag_id=dag_id, schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), catchup=False,
         tags=["whatsapp", "onboarding"], doc_md=__doc__)
    def onboarding():
        @task
        def list_profiles() -> list[str]:
            wanted = _settings()["profiles"]  # a glob, or a list of paths and globs
            patterns = [wanted] if isinstance(wanted, str) else list(wanted)
            paths = sorted({str(Path(p).resolve()) for pattern in patterns for p in glob.glob(pattern)})
            if not paths:
                raise AirflowFailException(f"no profile matches {wanted!r}")
            # Workers on several machines share no lock: an app's one callback must be the same for all its
            # profiles, or one customer's 04 would take the others' webhooks (README, One run per customer).
            from helpers.profiles import load_profile
            from helpers.runner.locks import callback_conflicts

            conflicts = callback_conflicts([load_profile(p) for p in paths], _settings()["overrides"])
            if conflicts:
                raise AirflowFailException("; ".join(conflicts))
            return paths

        @task(max_active_tis_per_dag=max_active_customers, retries=retries, retry_delay=retry_delay)
        def onboard(profile: str) -> dict[str, Any]:
            settings = _settings()
            context = get_current_context()
            return onboard_one(profile, _batch_dir(settings), context["ti"].try_number, settings["steps"],
                               settings["overrides"])

        @task(trigger_rule="all_done")
        def summarize(profiles: list[str]) -> dict[str, Any]:
            # Built from the records on disk, not from XCom: a failed task leaves no XCom, but its records.
            from helpers.profiles import load_profile
            from helpers.runner import summary
            from helpers.runner.notebooks import discover, select
            from helpers.webhooks.local_receiver import stop_receivers_started_in

            settings = _settings()
            batch_dir = _batch_dir(settings)
            batch_dir.mkdir(parents=True, exist_ok=True)
            customers = [load_profile(p)["customer"] for p in profiles]
            chosen = [p.stem for p in select(discover(), settings["steps"])]
            # Nothing the steps started outlives the run (notebook 04's local receiver); the summary says so.
            notes = stop_receivers_started_in([batch_dir / c for c in customers])
            table = summary.write(batch_dir, summary.collect(batch_dir, customers, chosen), chosen, notes=notes)
            (batch_dir / "batch.json").write_text(json.dumps({
                "batch_id": batch_dir.name, "profiles": profiles, "steps": chosen, "orchestrator": "airflow",
                "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}, indent=2))
            counts = table["status"].value_counts().to_dict() if len(table) else {}
            return {"batch_dir": str(batch_dir), "customers": len(customers), "statuses": counts}

        profiles = list_profiles()
        summarize(profiles).set_upstream(onboard.expand(profile=profiles))

    return onboarding()


onboarding_dag = build_onboarding_dag()
