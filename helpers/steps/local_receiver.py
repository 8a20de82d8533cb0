"""The local webhook receiver: a detached `python -m helpers webhooks serve` process per webhook store.

Notebook 04 starts one against the sandbox when callback_url is empty. It outlives the kernel;
its pid and URL are kept next to the store (`<webhook_db>.receiver.json`), so a later run
reuses it, and `stop_local_receiver(webhook_db)` stops it.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from .. import validate
from .._processes import free_port, pid_alive
from .step import ROOT, Step

LOCAL_RUNS = ROOT / "runs" / "local"


def default_webhook_db(step: Step) -> Path:
    run_dir = step.params.get("run_dir")
    base = Path(run_dir) if run_dir else LOCAL_RUNS / step.customer
    return base / "webhooks.sqlite"


def webhook_db_path(step: Step) -> Path:
    return Path(step.params["webhook_db"]) if step.params.get("webhook_db") else default_webhook_db(step)


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
                          startup_timeout: float = 30.0) -> dict[str, Any]:
    """A webhook receiver (`python -m helpers webhooks serve`) for db_path, detached so it outlives the kernel.

    Reuses one already serving that store with the current verify token. Returns
    {callback_url, webhook_db, pid, reused, log}. Secrets reach it through the environment only.
    """
    db_path = Path(db_path).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    verify_token = validate.secret_from_env(verify_token_env, "webhook verify token")
    validate.secret_from_env(app_secret_env, "app secret")
    state_path = _receiver_state_path(db_path)
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if pid_alive(int(state["pid"])) and _handshake_ok(state["callback_url"], verify_token):
                return {**state, "reused": True}
        except (OSError, ValueError, KeyError):
            pass
        stop_local_receiver(db_path)
    port = free_port()
    log_path = db_path.with_name(db_path.name + ".receiver.log")
    command = [sys.executable, "-m", "helpers", "webhooks", "serve", "--port", str(port), "--host", "127.0.0.1",
               "--verify-token-env", verify_token_env, "--app-secret-env", app_secret_env, "--db", str(db_path)]
    with open(log_path, "ab") as log:  # cwd=ROOT: `python -m helpers` finds the package from there
        process = subprocess.Popen(command, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    callback_url = f"http://127.0.0.1:{port}/webhook"
    deadline = time.monotonic() + startup_timeout
    while not _handshake_ok(callback_url, verify_token, timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.terminate()
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-800:] if log_path.exists() else ""
            raise RuntimeError(f"the local webhook receiver did not start on port {port}. Its log ({log_path}) ends:\n{tail}")
        time.sleep(0.1)
    state = {"pid": process.pid, "port": port, "callback_url": callback_url, "webhook_db": str(db_path),
             "log": str(log_path)}
    state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return {**state, "reused": False}


def stop_local_receiver(db_path: str | Path, timeout: float = 5.0) -> bool:
    """Stop the receiver that ensure_local_receiver started for db_path; True if one was stopped."""
    state_path = _receiver_state_path(Path(db_path).resolve())
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError):
        return False
    stopped = False
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            stopped = True
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    state_path.unlink(missing_ok=True)
    return stopped
