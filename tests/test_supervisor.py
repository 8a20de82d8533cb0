"""helpers.supervisor with real child processes: start and readiness, early death, TERM then KILL, tags."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from helpers import supervisor
from helpers.processes import free_port, pid_alive, start_ticks
from helpers.steps import ensure_local_receiver, stop_local_receiver
from helpers.webhooks.local_receiver import receiver_state

PY = sys.executable


def _serve(port: int) -> list[str]:
    return [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"]


def test_start_waits_for_readiness_and_stop_ends_it(tmp_path):
    port = free_port()
    child = supervisor.start("web", _serve(port), log_path=tmp_path / "web.log",
                             ready=supervisor.http_ready(f"http://127.0.0.1:{port}/"), timeout=20)
    try:
        assert supervisor.http_ready(f"http://127.0.0.1:{port}/")()
        assert child.is_ours() and child.running()
        assert child.started == start_ticks(child.pid)
        assert child.pid in supervisor.tagged_processes(child.tag)
    finally:
        assert child.stop(5)
    assert not pid_alive(child.pid) and child.returncode is not None
    assert not child.stop(1), "a second stop has nothing to stop"


def test_a_child_that_dies_early_reports_its_log_tail(tmp_path):
    command = [PY, "-c", "import sys; print('boot: the port is in use'); sys.exit(3)"]
    with pytest.raises(supervisor.SupervisorError) as info:
        supervisor.start("broken", command, log_path=tmp_path / "broken.log", ready=lambda: False, timeout=20)
    text = str(info.value)
    assert "broken exited with status 3 while starting" in text
    assert text.rstrip().endswith("boot: the port is in use")


def test_a_child_never_ready_is_stopped_after_the_timeout(tmp_path):
    command = [PY, "-c", "import time; print('waiting', flush=True); time.sleep(60)"]
    started = time.monotonic()
    tag = supervisor.new_tag()
    with pytest.raises(supervisor.SupervisorError, match="not ready within 1 s") as info:
        supervisor.start("slow", command, log_path=tmp_path / "slow.log", tag=tag, ready=lambda: False, timeout=1)
    assert supervisor.tagged_processes(tag) == [], "the child that never got ready was stopped"
    assert time.monotonic() - started < 15
    assert "waiting" in str(info.value)


def test_stop_kills_a_child_that_ignores_term(tmp_path):
    ready = tmp_path / "ready"
    command = [PY, "-c", "import signal, time, pathlib, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                         f"pathlib.Path({str(ready)!r}).write_text('x'); time.sleep(120)"]
    child = supervisor.start("stubborn", command, log_path=tmp_path / "stubborn.log", ready=ready.exists, timeout=20)
    started = time.monotonic()
    assert child.stop(timeout=1.0)
    elapsed = time.monotonic() - started
    assert not pid_alive(child.pid)
    assert child.returncode == -9, "ended by SIGKILL, since it ignores SIGTERM"
    assert 0.9 <= elapsed < 10


def test_a_recycled_pid_from_a_file_never_signals_a_stranger(tmp_path):
    # A stranger: a process we did not start through the supervisor (no tag).
    stranger = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        # A state file left by a receiver that has since exited, whose PID the stranger now holds.
        forged = {"name": "webhook receiver", "pid": stranger.pid, "tag": supervisor.new_tag(),
                  "started": (start_ticks(stranger.pid) or 0) - 1, "log": None}
        assert not supervisor.stop_recorded(forged, timeout=1)
        same_start = {**forged, "started": start_ticks(stranger.pid)}
        assert not supervisor.stop_recorded(same_start, timeout=1), "same start time, but not our tag"
        time.sleep(0.2)
        assert stranger.poll() is None, "the stranger was signalled"
        # And through the local receiver's state file.
        db = tmp_path / "webhooks.sqlite"
        (tmp_path / "webhooks.sqlite.receiver.json").write_text(json.dumps({**same_start, "callback_url": "x"}))
        assert receiver_state(db) is None
        assert not stop_local_receiver(db)
        assert stranger.poll() is None
        assert not (tmp_path / "webhooks.sqlite.receiver.json").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_the_local_receiver_is_supervised_and_tagged(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISOR_TEST_VERIFY", "verify-fake-1")
    monkeypatch.setenv("SUPERVISOR_TEST_SECRET", "secret-fake-1")
    db = tmp_path / "webhooks.sqlite"
    receiver = ensure_local_receiver(db, verify_token_env="SUPERVISOR_TEST_VERIFY",
                                     app_secret_env="SUPERVISOR_TEST_SECRET")
    try:
        state = json.loads((tmp_path / "webhooks.sqlite.receiver.json").read_text())
        assert state["pid"] == receiver["pid"] and state["started"] == start_ticks(receiver["pid"])
        assert supervisor.carries_tag(receiver["pid"], state["tag"])
        assert "verify-fake-1" not in json.dumps(state)
        assert receiver_state(db)["pid"] == receiver["pid"]
    finally:
        assert stop_local_receiver(db)
    assert not pid_alive(receiver["pid"])


def test_the_receiver_runs_in_process_with_secrets_passed_in(tmp_path):
    import requests

    db = tmp_path / "inproc.sqlite"
    names = {"SUPERVISOR_INPROC_VERIFY": "verify-fake-2", "SUPERVISOR_INPROC_SECRET": "secret-fake-2"}
    assert not any(os.environ.get(n) for n in names)
    receiver = ensure_local_receiver(db, verify_token_env="SUPERVISOR_INPROC_VERIFY",
                                     app_secret_env="SUPERVISOR_INPROC_SECRET", in_process=True, secrets=names)
    try:
        assert receiver["pid"] == os.getpid() and receiver["in_process"]
        answer = requests.get(receiver["callback_url"], params={"hub.mode": "subscribe", "hub.challenge": "77",
                                                                "hub.verify_token": "verify-fake-2"}, timeout=5)
        assert answer.status_code == 200 and answer.text == "77"
        again = ensure_local_receiver(db, verify_token_env="SUPERVISOR_INPROC_VERIFY",
                                      app_secret_env="SUPERVISOR_INPROC_SECRET", in_process=True, secrets=names)
        assert again["reused"] and again["callback_url"] == receiver["callback_url"]
    finally:
        assert stop_local_receiver(db)
    with pytest.raises(requests.ConnectionError):
        requests.get(receiver["callback_url"], timeout=2)
    assert not any(os.environ.get(n) for n in names), "the secrets never went into os.environ"
