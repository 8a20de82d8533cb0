"""The local webhook receiver: a supervised, detached `python -m helpers webhooks serve` per webhook store.

Notebook 04 starts one against the sandbox when callback_url is empty. It outlives the kernel;
its pid, start time, tag and URL are kept next to the store (`<webhook_db>.receiver.json`), so a
later run reuses it, and `stop_local_receiver(webhook_db)` stops it (helpers.supervisor checks the
PID is still that process first). `in_process=True` runs it on a thread of the caller instead.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping

import requests

from .. import supervisor, validate
from ..processes import free_port
from ..i18n import N_, _
from .receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]  # the checkout: `python -m helpers` runs from there
# Where a step run outside any run folder keeps its webhook store (runs/local/<customer>/).
LOCAL_RUNS = ROOT / "runs" / "local"


def _receiver_state_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".receiver.json")


def _handshake_ok(callback_url: str, verify_token: str, timeout: float = 2.0) -> bool:
    try:
        answer = requests.get(callback_url, params={"hub.mode": "subscribe", "hub.verify_token": verify_token,
                                                    "hub.challenge": "4711"}, timeout=timeout)
        return answer.status_code == 200 and answer.text == "4711"
    except requests.RequestException:
        return False


def ensure_local_receiver(db_path: str | Path, *, verify_token_env: str, app_secret_env: str,
                          startup_timeout: float = 30.0, in_process: bool = False,
                          secrets: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A webhook receiver for db_path: a supervised `python -m helpers webhooks serve`, detached so it
    outlives the kernel, or (in_process=True) a thread of this process that lives as long as it does.

    Reuses one already serving that store with the current verify token. Returns
    {callback_url, webhook_db, pid, reused, log}. Secrets reach a detached receiver through its
    environment only; an in-process one takes them from `secrets` ({env name: value}) when given,
    else from os.environ.
    """
    db_path = Path(db_path).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    given = dict(secrets or {})
    verify_token = given.get(verify_token_env) or validate.secret_from_env(verify_token_env, N_("webhook verify token"))
    app_secret = given.get(app_secret_env) or validate.secret_from_env(app_secret_env, N_("app secret"))
    if in_process:
        return _in_process(db_path, verify_token_env, app_secret_env, verify_token, app_secret)
    state_path = _receiver_state_path(db_path)
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if supervisor.Child.from_state(state).is_ours() and _handshake_ok(state["callback_url"], verify_token):
                return {**state, "reused": True}
        except (OSError, ValueError, KeyError, TypeError):
            pass
        stop_local_receiver(db_path)
    port = free_port()
    log_path = db_path.with_name(db_path.name + ".receiver.log")
    callback_url = f"http://127.0.0.1:{port}/webhook"
    command = [sys.executable, "-m", "helpers", "webhooks", "serve", "--port", str(port), "--host", "127.0.0.1",
               "--verify-token-env", verify_token_env, "--app-secret-env", app_secret_env, "--db", str(db_path)]
    env = {**os.environ, verify_token_env: verify_token, app_secret_env: app_secret}
    try:  # cwd=ROOT: `python -m helpers` finds the package from there
        child = supervisor.start("webhook receiver", command, log_path=log_path, env=env, cwd=ROOT,
                                 ready=lambda: _handshake_ok(callback_url, verify_token, timeout=1.0),
                                 timeout=startup_timeout, append_log=True)
    except supervisor.SupervisorError as exc:
        raise supervisor.SupervisorError(_("the local webhook receiver did not start on port {port}: {error}").format(
            port=port, error=exc)) from None
    state = {**child.state(), "port": port, "callback_url": callback_url, "webhook_db": str(db_path),
             "log": str(log_path)}
    state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return {**state, "reused": False}


# In-process receivers of this process, by store: they stop with it (or with stop_local_receiver).
_IN_PROCESS: dict[Path, Any] = {}


def _in_process(db_path: Path, verify_token_env: str, app_secret_env: str, verify_token: str,
                app_secret: str) -> dict[str, Any]:
    receiver = _IN_PROCESS.get(db_path)
    if receiver is not None and _handshake_ok(receiver.callback_url, verify_token):
        return {**_in_process_state(receiver, db_path), "reused": True}
    if receiver is not None:
        receiver.stop()
    receiver = WebhookReceiver(db_path, verify_token_env=verify_token_env, app_secret_env=app_secret_env,
                               verify_token=verify_token, app_secret=app_secret).start()
    _IN_PROCESS[db_path] = receiver
    return {**_in_process_state(receiver, db_path), "reused": False}


def _in_process_state(receiver: Any, db_path: Path) -> dict[str, Any]:
    return {"pid": os.getpid(), "port": receiver.port, "callback_url": receiver.callback_url,
            "webhook_db": str(db_path), "log": None, "in_process": True}


def receiver_state(db_path: str | Path) -> dict[str, Any] | None:
    """The detached receiver recorded for db_path, if it is still running and ours; else None."""
    try:
        state = json.loads(_receiver_state_path(Path(db_path).resolve()).read_text(encoding="utf-8"))
        return state if supervisor.Child.from_state(state).is_ours() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stop_local_receiver(db_path: str | Path, timeout: float = 5.0) -> bool:
    """Stop the receiver that ensure_local_receiver started for db_path; True if one was stopped.

    A detached one is signalled only if the recorded PID is still that very process (same start
    time, carrying the supervisor's tag): a PID reused by another process is left alone.
    """
    db_path = Path(db_path).resolve()
    receiver = _IN_PROCESS.pop(db_path, None)
    if receiver is not None:
        receiver.stop()
        return True
    state_path = _receiver_state_path(db_path)
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    stopped = supervisor.stop_recorded(state, timeout) if isinstance(state, dict) else False
    state_path.unlink(missing_ok=True)
    return stopped


def stop_receivers_started_in(run_dirs: list[Path]) -> list[str]:
    """Stop the detached receivers that the steps recorded in these run folders started; say what was done.

    A receiver the step only reused (it ran before, e.g. from JupyterLab) is left running, with
    the command that stops it: it was not ours to stop.
    """
    notes = []
    for run_dir in run_dirs:
        for path in sorted(Path(run_dir).glob("[0-9][0-9]*_*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            facts, outputs = record.get("facts") or {}, record.get("outputs") or {}
            db = outputs.get("webhook_db")
            if not facts.get("local_receiver") or not db:
                continue
            state = receiver_state(db)
            if state is None:
                continue
            who = f"{record.get('customer') or Path(run_dir).name} ({path.stem})"
            if facts.get("receiver_reused") or record.get("carried_over_from"):
                notes.append(_("left running: the webhook receiver for {who}, pid {pid}, was started before this "
                               "batch; stop it with: python -m helpers webhooks stop --db {db}").format(
                    who=who, pid=state["pid"], db=db))
            elif stop_local_receiver(db):
                notes.append(_("stopped the webhook receiver that {who} started (pid {pid})").format(
                    who=who, pid=state["pid"]))
    return notes
