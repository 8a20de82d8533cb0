"""The batch runner on tiny fixture notebooks: one kernel per customer, records, timeouts,
secret scanning, environment isolation, resume and the summary."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import ConfigError
from helpers.runner import run_batch, run_customer
from helpers.runner.notebooks import discover, parameter_names, select

FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOKS = FIXTURES / "notebooks"
ALPHA = FIXTURES / "profiles" / "alpha.yaml"
BETA = FIXTURES / "profiles" / "beta.yaml"
ALPHA_SECRET = "fake-alpha-token-0001"
BETA_SECRET = "fake-beta-token-0002"


@pytest.fixture(autouse=True)
def customer_secrets(monkeypatch):
    monkeypatch.setenv("ALPHA_TOKEN", ALPHA_SECRET)
    monkeypatch.setenv("BETA_TOKEN", BETA_SECRET)


def run(tmp_path, steps, *, overrides=None, timeout=60, **kwargs):
    return run_customer(ALPHA, tmp_path, steps=steps, overrides=overrides or {}, timeout=timeout,
                        notebooks_dir=NOTEBOOKS, **kwargs)


def test_step_selection():
    steps = discover(NOTEBOOKS)
    assert [p.stem[:2] for p in select(steps, "01,03-05")] == ["01", "03", "04", "05"]
    assert select(steps, None) == steps
    with pytest.raises(ConfigError, match="--steps is empty"):
        select(steps, " ")
    for bad in ("1-", "x", "05-03", "09"):
        with pytest.raises(ConfigError):
            select(steps, bad)


def test_step_selection_with_the_inserted_steps():
    steps = discover()  # the real notebooks: 07a and 07b sit between 07 and 08
    stems = [p.stem for p in steps]
    assert stems.index("07_migration") + 1 == stems.index("07a_system_user") == stems.index("08_register") - 2
    chosen = [p.name.split("_", 1)[0] for p in select(steps, "05-08")]
    assert chosen == ["05", "06", "07", "07a", "07b", "08"]
    assert [p.name.split("_", 1)[0] for p in select(steps, "07a,12-13")] == ["07a", "12", "13"]
    assert [p.name.split("_", 1)[0] for p in select(steps, "00-07")][-1] == "07"  # 07 as the end is 07 alone
    assert [p.name.split("_", 1)[0] for p in select(steps, "7b-8")] == ["07b", "08"]
    for bad in ("07c", "08-07a", "07a-"):
        with pytest.raises(ConfigError):
            select(steps, bad)


def test_parameter_names_come_from_the_parameters_cell():
    assert parameter_names(NOTEBOOKS / "01_echo.ipynb") == {"run_dir", "value"}


def test_outputs_flow_to_later_steps_in_one_kernel_with_a_fresh_namespace(tmp_path):
    result = run(tmp_path, "01-02")
    assert result["status"] == "passed"
    first, second = result["records"]
    assert first["outputs"] == {"value": 2}
    assert second["facts"]["saw"] == 2 and second["outputs"] == {"value": 3}
    assert (tmp_path / "alpha" / "02_reads_previous.ipynb").is_file()
    executed = json.loads((tmp_path / "alpha" / "02_reads_previous.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["value"] == 2
    assert "widgets" not in executed["metadata"]


def test_each_output_notebook_numbers_its_cells_from_1_though_the_kernel_is_shared(tmp_path):
    passed = run(tmp_path / "ok", "01-02")
    failed = run(tmp_path / "bad", "01,06", overrides={"seconds": "not a number"})
    assert [r["status"] for r in passed["records"] + failed["records"]] == ["passed", "passed", "passed", "failed"]
    for path in (tmp_path / "ok" / "alpha" / "02_reads_previous.ipynb", tmp_path / "bad" / "alpha" / "06_sleep.ipynb"):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        numbers = [c["execution_count"] for c in cells if c["execution_count"] is not None]
        assert cells[0]["execution_count"] == 1 and numbers == list(range(1, len(numbers) + 1)), (path.name, numbers)
    # The runner's failure names the cell by the number the notebook shows.
    assert failed["records"][1]["error"]["message"].startswith(f"cell {numbers[-1]}: TypeError")


def test_runner_settings_win_over_what_steps_found(tmp_path):
    result = run(tmp_path, "01-02", overrides={"value": 5})
    assert result["records"][1]["facts"]["saw"] == 5


def test_kernel_gets_only_its_own_customers_secrets(tmp_path):
    result = run(tmp_path, "03", overrides={"secret_env": "ALPHA_TOKEN", "other_env": "BETA_TOKEN"})
    facts = result["records"][0]["facts"]
    assert facts == {"own": True, "other": False}


def test_plain_calls_isolate_customers_and_share_one_fork_server(tmp_path):
    """Called as the README's Airflow task calls it: no pool, no list of other customers' secrets."""
    from helpers.runner.pool import default_pool
    alpha = run_customer(ALPHA, tmp_path, steps="07", notebooks_dir=NOTEBOOKS)
    server_pid = default_pool().server_pid
    beta = run_customer(BETA, tmp_path, steps="07", notebooks_dir=NOTEBOOKS)
    assert alpha["status"] == beta["status"] == "passed"
    alpha_facts, beta_facts = alpha["records"][0]["facts"], beta["records"][0]["facts"]
    assert alpha_facts["visible"] == ["ALPHA_TOKEN"] and beta_facts["visible"] == ["BETA_TOKEN"]
    # One warm server forked both kernels: not restarted between customers.
    assert server_pid is not None and default_pool().server_pid == server_pid
    assert alpha_facts["parent_pid"] == beta_facts["parent_pid"] == server_pid


def test_kernel_environment_is_an_allow_list(tmp_path, monkeypatch):
    from helpers.runner.pool import KernelPool, kernel_environment
    monkeypatch.setenv("SOME_UNRELATED_SECRET", "fake-unrelated-0003")
    monkeypatch.setenv("PLAYBOOK_GRAPH_URL", "http://127.0.0.1:9")
    env = kernel_environment({"PATH": "/bin", "LC_ALL": "C", "JUPYTER_X": "1", "PLAYBOOK_PEER": "sandbox",
                              "ALPHA_TOKEN": "x", "AWS_SECRET_ACCESS_KEY": "y"})
    assert env == {"PATH": "/bin", "LC_ALL": "C", "JUPYTER_X": "1", "PLAYBOOK_PEER": "sandbox"}
    with KernelPool() as pool:
        result = run_customer(ALPHA, tmp_path, steps="03", notebooks_dir=NOTEBOOKS, pool=pool,
                              overrides={"secret_env": "PLAYBOOK_GRAPH_URL", "other_env": "SOME_UNRELATED_SECRET"})
        server_pid = pool.server_pid
        assert result["records"][0]["facts"] == {"own": True, "other": False}
    assert pool.server_pid is None and not Path(f"/proc/{server_pid}").exists()


def test_secrets_come_from_the_environ_given(tmp_path):
    result = run_customer(ALPHA, tmp_path, steps="07", notebooks_dir=NOTEBOOKS,
                          environ={"PATH": "/usr/bin:/bin", "ALPHA_TOKEN": "fake-given-0004", "BETA_TOKEN": "x" * 8})
    assert result["records"][0]["facts"]["visible"] == ["ALPHA_TOKEN"]


def test_a_failing_step_stops_the_customer(tmp_path):
    result = run(tmp_path, "01,04,05")
    assert [r["status"] for r in result["records"]] == ["passed", "failed", "not run"]
    assert result["status"] == "failed"
    assert not (tmp_path / "alpha" / "05_leak.ipynb").exists()


def test_a_cell_error_without_a_record_is_recorded_by_the_runner(tmp_path):
    result = run(tmp_path, "06", overrides={"seconds": "not a number"})
    record = result["records"][0]
    assert record["status"] == "failed" and record["error"]["type"] == "TypeError"


def test_a_leaked_secret_removes_the_files_and_fails_loudly(tmp_path):
    result = run(tmp_path, "05", overrides={"secret_env": "ALPHA_TOKEN"})
    record = result["records"][0]
    assert record["status"] == "failed" and record["error"]["type"] == "SecretLeak"
    assert "ALPHA_TOKEN" in record["error"]["message"] and ALPHA_SECRET not in record["error"]["message"]
    assert not (tmp_path / "alpha" / "05_leak.ipynb").exists()
    assert all(ALPHA_SECRET.encode() not in p.read_bytes() for p in (tmp_path / "alpha").rglob("*") if p.is_file())


def test_a_step_past_its_timeout_is_recorded_as_timeout(tmp_path):
    result = run(tmp_path, "01,06", overrides={"seconds": 30}, timeout=3)
    assert [r["status"] for r in result["records"]] == ["passed", "timeout"]
    assert result["records"][1]["error"]["type"] in ("CellTimeoutError", "StepTimeout")
    assert result["records"][1]["wall_s"] < 30


def test_a_dead_kernel_reports_its_real_exit_code(tmp_path):
    import signal
    from helpers.runner.pool import KernelPool
    with KernelPool() as pool:
        for code, expected in (("import os; os._exit(3)", 3), ("import os; os.kill(os.getpid(), 9)", -signal.SIGKILL)):
            kernel = pool.take({"PATH": "/usr/bin:/bin"}, {}, NOTEBOOKS)
            kernel.kc.execute(code)
            assert kernel.km.provisioner.process.wait(10) == expected
            assert kernel.exit_description() == ("exit code 3" if expected == 3 else "killed by SIGKILL")
            kernel.shutdown()
        # A kernel that dies at once (its cwd is gone) is still reaped with its status, not lost.
        server = pool._server_for({"PATH": "/usr/bin:/bin"})
        process = server.launch(str(tmp_path / "k.json"), str(tmp_path / "gone"), {"PATH": "/usr/bin:/bin"})
        assert process.wait(10) == 1


def test_launch_times_out_when_the_fork_server_does_not_answer(tmp_path):
    import sys
    import time
    from helpers.runner.forkserver import ForkServer
    silent = ForkServer({"PATH": "/usr/bin:/bin"},
                        command=[sys.executable, "-c", "import sys, time; sys.stdin.readline(); time.sleep(60)"])
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="did not answer within 0.5 s"):
        silent.launch(str(tmp_path / "k.json"), str(tmp_path), {}, timeout=0.5)
    assert time.monotonic() - started < 5 and silent.process is None  # the stuck server was stopped
    silent.close()
    # Closed is closed: a thread still launching its spare kernel must not start a new server.
    with pytest.raises(RuntimeError, match="fork server is closed"):
        silent.launch(str(tmp_path / "k.json"), str(tmp_path), {}, timeout=0.5)
    assert silent.process is None


def test_batch_summary_resume_and_exit_status(tmp_path, monkeypatch):
    first = run_batch([str(ALPHA), str(BETA)], out=str(tmp_path), steps="01,04", workers=2,
                      notebooks_dir=NOTEBOOKS, progress=False)
    assert first["passed"] is False
    table = pd.read_csv(first["batch_dir"] / "summary.csv")
    assert list(table["customer"]) == ["alpha", "beta"]
    assert set(table["status"]) == {"failed"} and set(table["failed_step"]) == {"04_fail"}
    html = (first["batch_dir"] / "summary.html").read_text()
    assert "#f8d7da" in html and "04_fail" in html

    # Resume with step 04 replaced by one that passes: 01 is carried over, not re-run.
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    for name in ("01_echo.ipynb", "06_sleep.ipynb"):
        (fixed / name).write_bytes((NOTEBOOKS / name).read_bytes())
    (fixed / "04_fail.ipynb").write_bytes((NOTEBOOKS / "02_reads_previous.ipynb").read_bytes().replace(
        b'STEP = \\"02_reads_previous\\"', b'STEP = \\"04_fail\\"'))
    second = run_batch([], out=str(tmp_path), resume=str(first["batch_dir"]), steps="01,04", workers=1,
                       notebooks_dir=fixed, progress=False)
    assert second["passed"] is True, second["table"]
    alpha_01 = json.loads((second["batch_dir"] / "alpha" / "01_echo.json").read_text())
    assert alpha_01["carried_over_from"].endswith("alpha")
    alpha_04 = json.loads((second["batch_dir"] / "alpha" / "04_fail.json").read_text())
    assert alpha_04["status"] == "passed" and alpha_04["facts"]["saw"] == 2
    # The first batch's folder is left as it was.
    assert json.loads((first["batch_dir"] / "alpha" / "04_fail.json").read_text())["status"] == "failed"


def test_the_batch_scan_covers_every_file_and_every_customers_secret(tmp_path, monkeypatch):
    # beta's token happens to equal alpha's customer name: it shows up in the summary and alpha's
    # records, which no per-customer scan looks at for beta's secrets.
    monkeypatch.setenv("BETA_TOKEN", "alpha")
    result = run_batch([str(ALPHA), str(BETA)], out=str(tmp_path), steps="01", workers=1,
                       notebooks_dir=NOTEBOOKS, progress=False)
    assert {"batch.json", "summary.csv", "summary.html", "alpha/01_echo.ipynb"} <= set(result["leaks"])
    assert result["leaks"]["summary.csv"] == ["BETA_TOKEN"]
    assert not (result["batch_dir"] / "summary.csv").exists() and result["passed"] is False


def test_bad_input_starts_nothing(tmp_path, tmp_path_factory):
    twin = tmp_path_factory.mktemp("profiles") / "alpha-copy.yaml"
    twin.write_text(ALPHA.read_text())
    with pytest.raises(ConfigError, match="share the customer name alpha"):
        run_batch([str(ALPHA), str(twin)], out=str(tmp_path), notebooks_dir=NOTEBOOKS, progress=False)
    with pytest.raises(ConfigError):
        run_batch([str(tmp_path / "missing.yaml")], out=str(tmp_path), notebooks_dir=NOTEBOOKS, progress=False)
    with pytest.raises(ConfigError):
        run_batch([str(ALPHA)], out=str(tmp_path), steps="42", notebooks_dir=NOTEBOOKS, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("data,value,found", [
    (b'{"pin": "736194"}', "736194", True),
    (b"PIN 736194\n", "736194", True),
    (b'"end_time": "2026-11-24T03:19:18.736194Z"', "736194", False),  # microseconds, by chance
    (b"id 4007361940", "736194", False),                                # inside a longer number
    (b'"text": "token=abc\\"def"', 'abc"def', True),                    # JSON-escaped form
])
def test_secret_scan_matches(data, value, found):
    from helpers.secrets_scan import contains
    assert contains(data, value) is found


def test_a_batch_runs_its_customers_in_kernels_of_one_fork_server_each_with_its_own_secrets(tmp_path):
    result = run_batch([str(ALPHA), str(BETA)], out=str(tmp_path), steps="07", workers=2,
                       notebooks_dir=NOTEBOOKS, progress=False)
    assert result["passed"], result["table"]
    facts = {name: json.loads((result["batch_dir"] / name / "07_which_tokens.json").read_text())["facts"]
             for name in ("alpha", "beta")}
    assert facts["alpha"]["visible"] == ["ALPHA_TOKEN"] and facts["beta"]["visible"] == ["BETA_TOKEN"]
    # One warm server for the whole batch (not one per customer or per worker), stopped with it.
    server = facts["alpha"]["parent_pid"]
    assert facts["beta"]["parent_pid"] == server and not Path(f"/proc/{server}").exists()
