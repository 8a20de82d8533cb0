"""One run per customer at a time (helpers.runner.locks): the locks themselves, two concurrent
`helpers run` of one customer against one sandbox (the second refused before any Graph call), a
SIGKILLed batch resumed without a stale lock, the Airflow callback check, and --sandbox-faults' checks."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import yaml

from helpers.errors import ConfigError
from helpers.runner import locks, summary
from helpers.runner.preflight import check_faults
from helpers.sandbox import Sandbox, SandboxControl
from helpers.sandbox.peer import peer_env

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = yaml.safe_load((ROOT / "customers" / "example.yaml").read_text())
WABA = f"waba-{EXAMPLE['waba_id']}"
URL = "http://127.0.0.1:8999"


# -- the locks --------------------------------------------------------------------------------------------

def test_a_held_lock_names_its_holder_and_refuses_a_second_taker(tmp_path):
    lock = locks.acquire(WABA, URL, batch_id="batch-one", command="python -m helpers run x.yaml", directory=tmp_path)
    held = locks.holder(WABA, URL, tmp_path)
    assert (held.batch_id, held.pid, held.command, held.role) == ("batch-one", os.getpid(),
                                                                 "python -m helpers run x.yaml", locks.BATCH)
    with pytest.raises(locks.LockHeld) as refused:
        locks.acquire(WABA, URL, batch_id="batch-two", directory=tmp_path)
    message = str(refused.value)
    assert isinstance(refused.value, ConfigError)  # the CLI's exit 2
    assert "batch batch-one" in message and f"pid {os.getpid()}" in message and f"`kill {os.getpid()}`" in message
    assert message.startswith(f"{WABA} on 127.0.0.1:8999 is held by")
    lock.release()
    assert locks.holder(WABA, URL, tmp_path) is None
    assert Path(held.path).exists()  # the file stays; only the flock counts
    locks.acquire(WABA, URL, batch_id="batch-two", directory=tmp_path).release()


def test_locks_are_scoped_by_the_graph_host_and_port(tmp_path):
    one = locks.acquire(WABA, "http://127.0.0.1:8999", batch_id="a", directory=tmp_path)
    other = locks.acquire(WABA, "http://127.0.0.1:9000", batch_id="b", directory=tmp_path)  # another sandbox
    assert locks.holder(WABA, "http://127.0.0.1:8999/v23.0", tmp_path).batch_id == "a"  # the path does not count
    assert locks.holder(WABA, "http://127.0.0.1:9000", tmp_path).batch_id == "b"
    assert locks.scope("https://graph.facebook.com") == locks.scope("https://GRAPH.facebook.com:443/")
    assert locks.scope("https://graph.facebook.com") != locks.scope("http://127.0.0.1:8999")
    one.release()
    other.release()


def test_the_lock_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(locks.LOCK_DIR_ENV, str(tmp_path / "locks"))
    lock = locks.acquire(WABA, URL, batch_id="a")
    assert lock.path.parent == tmp_path / "locks" and (tmp_path / "locks").stat().st_mode & 0o777 == 0o700
    lock.release()
    monkeypatch.delenv(locks.LOCK_DIR_ENV)
    assert locks.lock_dir() == Path(f"/tmp/whatsapp-playbook-locks-{os.getuid()}")


def test_a_lock_dies_with_its_process(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from helpers.runner import locks
        locks.acquire({WABA!r}, {URL!r}, batch_id="doomed", directory=Path({str(tmp_path)!r}))
        print("held", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert locks.holder(WABA, URL, tmp_path).pid == child.pid
        child.kill()
        child.wait(timeout=10)
        assert locks.holder(WABA, URL, tmp_path) is None
        locks.acquire(WABA, URL, batch_id="next", directory=tmp_path).release()
    finally:
        child.kill()
        child.wait(timeout=10)


def test_a_lock_set_is_all_or_nothing(tmp_path):
    other = locks.acquire("app-3", URL, batch_id="other", directory=tmp_path)
    batch = locks.LockSet("mine", directory=tmp_path)
    with pytest.raises(locks.LockHeld, match="app-3 .* batch other"):
        batch.acquire([(WABA, URL), ("app-3", URL), (WABA, URL)])
    assert locks.holder(WABA, URL, tmp_path) is None and not batch.locks  # the WABA it took is given back
    other.release()
    with batch.acquire([(WABA, URL), ("app-3", URL), (WABA, URL)]):  # a key twice is taken once
        assert len(batch.locks) == 2 and locks.holder("app-3", URL, tmp_path).batch_id == "mine"
    assert locks.holder("app-3", URL, tmp_path) is None


def test_which_locks_a_batch_takes():
    steps_without_callback = ["01_assets", "05_subscribe_waba"]
    assert locks.batch_wants([EXAMPLE], steps_without_callback, [URL]) == [(WABA, URL)]
    for step in ("04_webhooks", "09_receive_message", "10_send_test_message"):
        assert locks.batch_wants([EXAMPLE], [step], [URL]) == [(WABA, URL), (f"app-{EXAMPLE['app_id']}", URL)]


def test_run_customer_lock_defers_to_its_batch_and_refuses_any_other(tmp_path):
    steps = ["01_assets", "04_webhooks"]
    app = f"app-{EXAMPLE['app_id']}"
    with locks.LockSet("batch-a", directory=tmp_path).acquire(locks.batch_wants([EXAMPLE], steps, [URL])):
        assert locks.customer_lock(EXAMPLE, URL, steps, batch_id="batch-a", held_by="batch-a", directory=tmp_path) is None
        with pytest.raises(locks.LockHeld, match=f"{app} .* batch batch-a"):  # the app's callback is taken
            locks.customer_lock(EXAMPLE, URL, steps, batch_id="batch-b", held_by="batch-b", directory=tmp_path)
        with pytest.raises(locks.LockHeld, match=f"{WABA} .* batch batch-a"):
            locks.customer_lock(EXAMPLE, URL, ["01_assets"], batch_id="airflow-run", directory=tmp_path)
    lock = locks.customer_lock(EXAMPLE, URL, steps, batch_id="airflow-run", directory=tmp_path)
    assert locks.holder(WABA, URL, tmp_path).role == locks.CUSTOMER
    # A customer's own lock is no batch's: a held_by naming its batch id does not let a second run in.
    with pytest.raises(locks.LockHeld):
        locks.customer_lock(EXAMPLE, URL, steps, batch_id="airflow-run", held_by="airflow-run", directory=tmp_path)
    lock.release()


# -- Airflow: profiles sharing an app must share its callback ------------------------------------------------

def test_profiles_sharing_an_app_must_name_one_callback():
    example = {"customer": "example", "app_id": "301", "callback_url": "http://127.0.0.1:7001/webhook"}
    coral = {"customer": "coral", "app_id": "301", "callback_url": "http://127.0.0.1:7002/webhook"}
    bluefin = {"customer": "bluefin", "app_id": "302"}  # alone on its app: its own local receiver is fine
    (line,) = locks.callback_conflicts([example, coral, bluefin])
    assert line.startswith("app 301 has one webhook callback, but its profiles name 2")
    assert "coral: http://127.0.0.1:7002/webhook" in line and "example: http://127.0.0.1:7001/webhook" in line
    assert locks.callback_conflicts([example, {**coral, "callback_url": example["callback_url"]}, bluefin]) == []
    # The run's conf overrides win over the profiles, as in onboard_one.
    same = {"*": {"callback_url": "http://rx.internal/webhook"}}
    assert locks.callback_conflicts([example, coral], same) == []
    assert locks.callback_conflicts([example, coral], {**same, "coral": {"callback_url": "http://other/"}})
    # Two profiles without a callback would each start their own receiver in 04: two callbacks.
    (both_local,) = locks.callback_conflicts([{"customer": "a", "app_id": "9"}, {"customer": "b", "app_id": "9"}])
    assert "a's own local receiver" in both_local and "b's own local receiver" in both_local


# -- --sandbox-faults -----------------------------------------------------------------------------------------

def test_sandbox_faults_are_checked_before_anything_starts(tmp_path):
    assert check_faults(True, None, None) is None
    assert check_faults(True, "0.05", "7") == {"faults": 0.05, "faults_seed": 7}
    with pytest.raises(ConfigError, match="add --sandbox"):
        check_faults(False, 0.05, None)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        check_faults(True, "1.5", None)
    with pytest.raises(ConfigError, match="give --sandbox-faults RATE too"):
        check_faults(True, None, 3)
    with pytest.raises(ConfigError, match="whole number"):
        check_faults(True, 0.1, "seven")
    done = subprocess.run([sys.executable, "-m", "helpers", "run", str(ROOT / "customers" / "example.yaml"),
                           "--sandbox-faults", "0.05", "--out", str(tmp_path / "runs")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--sandbox-faults injects faults into the embedded sandbox: add --sandbox" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_the_summary_header_shows_the_faults(tmp_path):
    (tmp_path / "batch.json").write_text(json.dumps({"batch_id": "b", "sandbox": True, "sandbox_faults": 0.05,
                                                     "sandbox_faults_seed": 7}))
    summary.write(tmp_path, {"example": {"01_assets": {"status": "passed"}}}, ["01_assets"])
    assert "<b>Faults:</b> 0.05 of Graph answers (seed 7)" in (tmp_path / "summary.html").read_text()
    (tmp_path / "batch.json").write_text(json.dumps({"batch_id": "b", "sandbox": True}))
    summary.write(tmp_path, {"example": {"01_assets": {"status": "passed"}}}, ["01_assets"])
    assert "Faults:" not in (tmp_path / "summary.html").read_text()


# -- real runs against one external sandbox ---------------------------------------------------------------------

@pytest.fixture
def world(tmp_path):
    """One sandbox at Meta's pace, the example customer pointed at it, and a private lock folder."""
    with Sandbox(latency_ms=150) as sandbox:
        profile = {**EXAMPLE, "graph_url": sandbox.url}
        path = tmp_path / "example.yaml"
        path.write_text(yaml.safe_dump(profile))
        env = {**os.environ, **sandbox.demo_env(), **peer_env(sandbox.url), locks.LOCK_DIR_ENV: str(tmp_path / "locks")}
        yield {"sandbox": sandbox, "profile": path, "env": env, "runs": tmp_path / "runs", "locks": tmp_path / "locks"}


def _run(world, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "helpers", "run", *args, "--out", str(world["runs"]),
                             "--workers", "1"], cwd=ROOT, env=world["env"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def _wait_for(condition, timeout: float = 120.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def test_a_second_run_of_the_same_customer_is_refused_before_any_graph_call(world):
    sandbox, url = world["sandbox"], world["sandbox"].url
    first = _run(world, str(world["profile"]), "--steps", "01-03")
    stopped: list[psutil.Process] = []
    try:
        held = _wait_for(lambda: locks.holder(WABA, url, world["locks"]), what="the first run's lock")
        assert held.pid == first.pid and held.role == locks.BATCH and "helpers run" in held.command
        # Freeze the first run (its kernels included) so every Graph call from now on would be the second's.
        stopped = _tree(first.pid)
        for process in stopped:
            process.suspend()
        time.sleep(0.5)  # a call already on the wire lands first
        requests_before = sandbox.service.graph_stats()["graph_requests"]
        writes_before = SandboxControl(url).writes()
        second = _run(world, str(world["profile"]))
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert f"is held by batch {held.batch_id} (pid {first.pid}" in err and WABA in err
        assert f"`kill {first.pid}`" in err and "nothing was started or written" in err
        assert sandbox.service.graph_stats()["graph_requests"] == requests_before
        assert SandboxControl(url).writes() == writes_before
        assert [p.name for p in world["runs"].iterdir() if not p.name.startswith(".")] == [held.batch_id]
    finally:
        for process in stopped:
            try:
                process.resume()
            except psutil.NoSuchProcess:
                pass
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert locks.holder(WABA, url, world["locks"]) is None  # released at the end


def test_a_killed_batch_leaves_no_stale_lock_and_resumes(world):
    url = world["sandbox"].url
    first = _run(world, str(world["profile"]), "--steps", "01-03", start_new_session=True)
    tree: list[psutil.Process] = []
    try:
        passed = _wait_for(lambda: [p for p in world["runs"].glob("*/example/01_assets.json")
                                    if json.loads(p.read_text()).get("status") == "passed"],
                           what="step 01's record")
        assert locks.holder(WABA, url, world["locks"]).pid == first.pid
        tree = _tree(first.pid)
        os.killpg(first.pid, signal.SIGKILL)  # the batch's whole process group, mid-run
        first.communicate(timeout=30)
        assert locks.holder(WABA, url, world["locks"]) is None
        batch_dir = passed[0].parent.parent
        assert not (batch_dir / "summary.csv").exists()  # it really died mid-run
        resumed = _run(world, "--resume", str(batch_dir))
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err[-3000:]
        (new,) = [p for p in world["runs"].iterdir() if not p.name.startswith(".") and p != batch_dir]
        carried = json.loads((new / "example" / "01_assets.json").read_text())
        assert carried.get("carried_over_from") == str(batch_dir / "example")
        assert json.loads((new / "example" / "03_access_token.json").read_text())["status"] == "passed"
    finally:
        for process in tree:  # kernels lead their own process groups: stop any the kill left behind
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
