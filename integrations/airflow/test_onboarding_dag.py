"""The onboarding DAG, run by Airflow itself (`airflow dags test`) against the sandbox: three customers,
one of them failing on purpose (a wrong PIN), records and summary checked, and no secret anywhere
under AIRFLOW_HOME (task logs, the metadata database with its XComs and rendered fields).

Run with `make test-airflow` (Airflow lives in its own environment, .venv-airflow).
"""
from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.processes import temporary_environ
from helpers.secrets_scan import scan_tree
from helpers.sandbox import Sandbox
from helpers.sandbox.peer import peer_env
from helpers.webhooks import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
DAG_FOLDER = Path(__file__).resolve().parent
CUSTOMERS = ["example", "bluefin", "coral"]
WRONG_PIN = "111111"  # Bluefin's number has another PIN: its 08 fails with 133005, which needs a person


def airflow(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("airflow")), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("airflow")
    home, runs = tmp / "airflow-home", tmp / "runs"
    with Sandbox() as sb:
        demo = sb.demo_env()
        receivers = {}
        for name, (secret, verify) in {"example": ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")}.items():
            with temporary_environ({secret: demo[secret], verify: demo[verify]}):  # read once, at start
                receivers[name] = WebhookReceiver(tmp / f"webhooks-{name}.sqlite", verify, secret).start()
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV")}
        env = {**base, **demo, "BLUEFIN_PIN": WRONG_PIN, **peer_env(sb.url),
               "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
               "PLAYBOOK_PROFILES": str(ROOT / "customers" / "*.yaml"), "PLAYBOOK_RUNS_DIR": str(runs)}
        overrides = {"*": {"graph_url": sb.url}}
        # Example and coral share an app, so one callback (the DAG's listing task refuses two); bluefin gets
        # none: its 04 starts a local receiver, as in the lab.
        for customer in ("example", "coral"):
            rx = receivers["example"]
            overrides[customer] = {"callback_url": rx.callback_url, "webhook_db": rx.db_path}
        for args in (["db", "migrate"], ["dags", "reserialize"]):
            done = airflow(args, env)
            assert done.returncode == 0, done.stderr[-3000:]
        conf = {"overrides": overrides, "profiles": [str(ROOT / "customers" / f"{c}.yaml") for c in CUSTOMERS]}
        run = airflow(["dags", "test", "whatsapp_onboarding", "-c", json.dumps(conf)], env)
        # `dags test` writes the task logs to its console: keep them with the other logs, so the scan covers them.
        (home / "logs").mkdir(parents=True, exist_ok=True)
        (home / "logs" / "dags-test.log").write_text(run.stdout + run.stderr, encoding="utf-8")
        for rx in receivers.values():
            rx.stop()
        yield {"run": run, "home": home, "runs": runs, "secrets": {k: v for k, v in env.items() if k in demo}}


def batch_dir(world) -> Path:
    (folder,) = [p for p in world["runs"].iterdir() if p.is_dir()]
    return folder


def test_airflow_ran_the_dag(world):
    run = world["run"]
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "whatsapp_onboarding" in run.stdout + run.stderr


def test_each_customer_has_its_records_and_the_failure_is_the_one_planted(world):
    folder = batch_dir(world)
    for customer in ("example", "coral"):
        records = [json.loads(p.read_text()) for p in sorted((folder / customer).glob("[0-9][0-9]*_*.json"))]
        assert records and all(r["status"] == "passed" for r in records), customer
    register = json.loads((folder / "bluefin" / "08_register.json").read_text())
    assert register["status"] == "failed" and register["error"]["code"] == 133005
    assert not (folder / ".attempts").exists()  # a wrong PIN needs a person: no retry, nothing resumed


def test_the_summary_is_built_as_the_last_task(world):
    folder = batch_dir(world)
    with open(folder / "summary.csv", newline="") as fh:
        rows = {row["customer"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(CUSTOMERS)
    assert rows["example"]["status"] == rows["coral"]["status"] == "passed" and rows["bluefin"]["status"] == "failed"
    assert (folder / "summary.html").is_file() and json.loads((folder / "batch.json").read_text())["orchestrator"] == "airflow"


def test_task_states_and_tries_in_the_metadata_database(world):
    with sqlite3.connect(world["home"] / "airflow.db") as db:
        rows = db.execute("SELECT map_index, state, try_number FROM task_instance WHERE task_id = 'onboard' "
                          "ORDER BY map_index").fetchall()
        summary = db.execute("SELECT state FROM task_instance WHERE task_id = 'summarize'").fetchall()
    profiles = sorted(str(ROOT / "customers" / f"{c}.yaml") for c in CUSTOMERS)  # list_profiles sorts them
    states = {Path(profiles[i]).stem: (state, tries) for i, state, tries in rows}
    assert states == {"bluefin": ("failed", 1), "coral": ("success", 1), "example": ("success", 1)}
    assert summary == [("success",)]  # the summary runs although a customer failed


def test_nothing_the_steps_started_outlives_the_run(world):
    import psutil
    left = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] and "webhooks" in p.info["cmdline"] and "serve" in p.info["cmdline"]
            and str(world["runs"]) in " ".join(p.info["cmdline"])]
    assert not left, left
    webhooks = json.loads((batch_dir(world) / "bluefin" / "04_webhooks.json").read_text())["outputs"]
    assert webhooks.get("webhook_db"), "bluefin's 04 should have started its own local receiver"
    assert "stopped the webhook receiver" in (batch_dir(world) / "summary.html").read_text()


def test_no_secret_anywhere_under_airflow_home_or_the_runs(world):
    secrets = world["secrets"]
    assert len(secrets) >= 8 and "WHATSAPP_TOKEN" in secrets and "BLUEFIN_PIN" in secrets
    files = [p for p in world["home"].rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files) and "onboard" in (world["home"] / "logs" / "dags-test.log").read_text()
    assert scan_tree(world["home"], secrets, remove=False) == {}
    assert scan_tree(world["runs"], secrets, remove=False) == {}
