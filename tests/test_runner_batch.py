"""The batch runner on the real step notebooks against the embedded sandbox: three customers,
one failing on purpose (a wrong PIN), the summary, --resume after the fix, and a scan of every
file the batch wrote for every secret value."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from helpers.peers import ENV_PEER
from helpers.runner import run_batch
from helpers.sandbox import Sandbox
from notebook_fixtures import find_secrets, resumed_records

CUSTOMERS = Path(__file__).resolve().parent.parent / "customers"
WRONG_PIN = "905173"


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """example and coral as shipped; bluefin pointed at a variable holding a wrong PIN."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    for name in ("example", "coral"):
        (folder / f"{name}.yaml").write_text((CUSTOMERS / f"{name}.yaml").read_text())
    bluefin = folder / "bluefin.yaml"
    bluefin.write_text((CUSTOMERS / "bluefin.yaml").read_text().replace("pin_env: BLUEFIN_PIN", "pin_env: BLUEFIN_WRONG_PIN"))
    monkeypatch.setenv("BLUEFIN_WRONG_PIN", WRONG_PIN)
    return folder


def secret_values() -> dict[str, str]:
    with Sandbox() as sandbox:
        return {k: v for k, v in sandbox.demo_env().items() if len(v) >= 6} | {"BLUEFIN_WRONG_PIN": WRONG_PIN}


def test_wrong_pin_fails_one_customer_then_resume_completes_only_the_missing_steps(profiles, tmp_path):
    paths = [str(profiles / f"{n}.yaml") for n in ("example", "bluefin", "coral")]
    environ_before = dict(os.environ)
    first = run_batch(paths, out=str(tmp_path / "runs"), sandbox=True, workers=2, progress=False)
    # Neither the sandbox's demo secrets nor its peer settings are left in (or ever set in) ours.
    assert dict(os.environ) == environ_before and ENV_PEER not in os.environ
    # The sandbox's state (tokens in clear) is beside the batch folder, private, found by batch.json.
    state = Path(json.loads((first["batch_dir"] / "batch.json").read_text())["sandbox_state"])
    assert state.is_file() and first["batch_dir"].resolve() not in state.parents
    assert state.parent.stat().st_mode & 0o777 == 0o700 and state.parent.parent.stat().st_mode & 0o777 == 0o700
    assert not list(first["batch_dir"].rglob("sandbox-state*"))
    table = pd.read_csv(first["batch_dir"] / "summary.csv", dtype=str, keep_default_na=False).set_index("customer")
    assert first["passed"] is False
    assert table.loc["example", "status"] == "passed" and table.loc["coral", "status"] == "passed"
    assert table.loc["bluefin", "status"] == "failed"
    assert table.loc["bluefin", "failed_step"] == "08_register"
    assert str(table.loc["bluefin", "error_code"]) == "133005"
    assert '{"pin"' in table.loc["bluefin", "remedy"]
    assert table.loc["bluefin", "09_receive_message"] == "not run"
    html = (first["batch_dir"] / "summary.html").read_text()
    assert "133005" in html and "2 of 3 customers passed" in html
    assert "<a href='bluefin/08_register.ipynb' title='the output notebook'>failed</a>" in html
    assert "bluefin/09_receive_message.ipynb" not in html  # not run: no notebook to link
    received = json.loads((first["batch_dir"] / "example" / "09_receive_message.json").read_text())["facts"]
    assert received["simulated"] is True  # the kernels found the batch's sandbox as their peer
    found = json.loads((first["batch_dir"] / "example" / "06_phone_numbers.json").read_text())["outputs"]
    assert found["phone_number_id"] == "400000000000001"

    # Fix the profile and resume: bluefin re-runs from 08 only; the others are carried over whole.
    bluefin = profiles / "bluefin.yaml"
    bluefin.write_text(bluefin.read_text().replace("pin_env: BLUEFIN_WRONG_PIN", "pin_env: BLUEFIN_PIN"))
    second = run_batch([], out=str(tmp_path / "runs"), sandbox=True, workers=2, resume=str(first["batch_dir"]),
                       progress=False)
    assert second["passed"] is True, second["table"].to_string()
    records, carried, ran = resumed_records(second["batch_dir"] / "bluefin")
    assert carried == ["00_plan", "01_assets", "02_terms", "03_access_token", "04_webhooks", "05_subscribe_waba",
                       "06_phone_numbers", "07_migration", "07a_system_user", "07b_credit_line"]
    assert ran == ["08_register", "09_receive_message", "10_send_test_message", "11_business_profile",
                   "12_templates", "13_go_live"]
    assert records["10_send_test_message"]["outputs"]["message_id"].startswith("wamid.")
    assert all(json.loads(p.read_text()).get("carried_over_from")
               for p in (second["batch_dir"] / "example").glob("*.json"))

    # No secret value anywhere in the batch folders: notebooks, records, summaries, stores.
    leaks, secrets = [], secret_values()
    for path in (p for batch in (first, second) for p in batch["batch_dir"].rglob("*")):
        if path.is_file():
            leaks += [(path.name, name) for name in find_secrets(path.read_text(errors="replace"), secrets)]
    assert leaks == []


def test_bad_profile_is_refused_before_anything_starts(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("customer: bad\nwaba_id: WABA-1\n")
    with pytest.raises(ValueError, match="waba_id must be digits"):
        run_batch([str(bad)], out=str(tmp_path / "runs"), sandbox=True, progress=False)
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_leaves_a_consistent_summary(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from helpers.sandbox.fleet import write_fleet

    seed, fleet = write_fleet(4, tmp_path / "fleet")
    runs = tmp_path / "runs"
    process = subprocess.Popen([sys.executable, "-m", "helpers", "run", *map(str, fleet), "--sandbox-seed", str(seed),
                                "--out", str(runs), "--workers", "1"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               # A child inherits an ignored SIGINT (and Python then installs no handler):
                               # give it the disposition a terminal would.
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(runs.glob("*/fleet-002/*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err
    (batch,) = [p for p in runs.iterdir() if not p.name.startswith(".")]  # .private: the sandbox's state
    table = pd.read_csv(batch / "summary.csv", dtype=str, keep_default_na=False).set_index("customer")
    assert table.loc["fleet-001", "status"] == "passed"
    assert table.loc["fleet-004", "status"] == "incomplete"
    assert table.loc["fleet-004", "00_plan"] == "not run"
