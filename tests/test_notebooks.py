"""Every step notebook, executed headless with papermill against a sandbox this module starts.

One customer's steps (00 to 13) run in order, each step's outputs handed to the next as the batch
runner does; then the failing paths (a wrong PIN), re-runs (idempotence), the legacy migration,
a secret scan of everything written, and the committed notebooks' shape.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import nbformat
import pytest

from helpers import steps
from helpers.peers import ENV_PEER, ENV_PEER_URL
from helpers.remedies import lookup as lookup_remedy
from notebook_fixtures import (CUSTOMERS, NOTEBOOKS, ROOT, STEP_NAMES, declared_parameters, ensure_venv_kernel,
                               environment, execute_step, find_secrets, run_steps, secret_values)

WRONG_PIN = "240913"
RECORD_KEYS = {"step", "customer", "status", "started_at", "finished_at", "duration_s", "outputs", "facts", "error",
               "graph_url", "api_version", "graph_calls"}


@pytest.fixture(scope="module", autouse=True)
def wrong_pin(sandbox):
    """The shared sandbox fixture, plus a wrong PIN some tests register with."""
    ensure_venv_kernel()
    with environment({"WRONG_PIN": WRONG_PIN}):
        yield WRONG_PIN


@pytest.fixture(scope="module")
def secrets(sandbox):
    return secret_values(sandbox.demo_env(), {"WRONG_PIN": WRONG_PIN})


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Every run folder of this module, so the secret scan covers them all."""
    return tmp_path_factory.mktemp("notebook-runs")


@pytest.fixture(scope="module")
def example_run(sandbox, runs_root):
    out_dir = runs_root / "example"
    values = {"profile": str(CUSTOMERS / "example.yaml"), "graph_url": sandbox.url}
    records = run_steps(STEP_NAMES, out_dir, values)
    yield out_dir, records
    webhook_db = (records.get("04_webhooks") or {}).get("outputs", {}).get("webhook_db")
    if webhook_db:
        steps.stop_local_receiver(webhook_db)


# ---- the committed notebooks -------------------------------------------------------------------
def test_every_step_of_the_registry_has_its_notebook():
    assert STEP_NAMES == list(steps.STEPS)


@pytest.mark.parametrize("name", STEP_NAMES)
def test_committed_notebook_has_no_outputs_and_one_parameters_cell(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: committed with outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert steps.parameters_cell(name) in tagged[0].source
    assert nb.cells[-1].source.startswith("record = step.finish("), "the last cell asserts the step's success"


@pytest.mark.parametrize("name", STEP_NAMES)
def test_inspect_notebook_shows_every_parameter_with_its_help(name):
    inferred = declared_parameters(name)
    expected = steps.notebook_parameters(name)
    assert list(inferred) == [p.name for p in expected]
    for param in expected:
        assert inferred[param.name]["help"] == param.help
        assert inferred[param.name]["inferred_type_name"] == param.type
        assert inferred[param.name]["default"] == repr(param.default)
    for shared in steps.SHARED:
        assert shared in inferred


def test_papermill_help_notebook_cli():
    result = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(NOTEBOOKS / "08_register.ipynb")],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    for param in steps.notebook_parameters("08_register"):
        assert param.name in result.stdout
    assert "6-digit two-step verification PIN" in result.stdout


# ---- one customer, every step -------------------------------------------------------------------
def test_every_step_passes_headless(example_run):
    _, records = example_run
    assert list(records) == STEP_NAMES
    failed = {name: r.get("error") for name, r in records.items() if r.get("status") != "passed"}
    assert not failed, failed
    for name, record in records.items():
        assert set(record) == RECORD_KEYS
        assert record["step"] == name and record["customer"] == "example"
        assert record["error"] is None and record["duration_s"] >= 0
        assert record["api_version"] == "v25.0" and record["graph_url"].startswith("http://127.0.0.1")


def test_records_carry_the_ids_and_facts_later_steps_use(example_run):
    _, r = example_run
    assert r["00_plan"]["facts"]["verdicts"]["throughput"] == "go"
    assert r["00_plan"]["outputs"] == {"onboarding": "new"}
    assert r["01_assets"]["facts"]["token_type"] == "SYSTEM_USER"
    assert r["01_assets"]["facts"]["waba_name"] == "Example Co"
    assert r["02_terms"]["facts"]["terms_failure_seen"] is False
    assert r["03_access_token"]["facts"]["is_valid"] is True
    assert r["03_access_token"]["facts"]["missing_scopes"] == []
    webhook = r["04_webhooks"]
    assert webhook["outputs"]["callback_url"].startswith("http://127.0.0.1:")
    assert webhook["outputs"]["webhook_db"].endswith("webhooks.sqlite")
    assert webhook["facts"]["checks_passed"] == webhook["facts"]["checks_total"] == 6
    assert webhook["facts"]["subscription_saved"] is True
    assert r["05_subscribe_waba"]["facts"]["subscribed"] is True
    assert "300000000000001" in r["05_subscribe_waba"]["facts"]["subscribed_apps"]
    numbers = r["06_phone_numbers"]
    assert numbers["outputs"]["phone_number_id"] == "400000000000001"
    assert numbers["facts"]["phone_numbers"] >= 7  # every page of the WABA
    assert numbers["facts"]["picked"]["ready_to_register"] is True
    assert r["07_migration"]["status"] == "passed" and r["07_migration"]["facts"]["skipped"] is True
    register = r["08_register"]
    assert register["facts"]["registered"] is True and register["facts"]["already_registered"] is False
    assert register["facts"]["after"]["status"] == "CONNECTED"
    assert register["facts"]["after"]["platform_type"] == "CLOUD_API"
    received = r["09_receive_message"]["facts"]
    assert received["simulated"] is True  # the sandbox peer played the consumer
    assert received["text"] == "Hello!" and received["message_id"].startswith("wamid.")
    assert received["window_ends_at"]
    sent = r["10_send_test_message"]
    assert sent["outputs"]["message_id"].startswith("wamid.")
    assert sent["facts"]["kind"] == "text" and sent["facts"]["window_open"] is True
    assert sent["facts"]["final_status"] in ("delivered", "read")
    assert sent["facts"]["statuses"][0] == "sent" and sent["facts"]["message_id_ok"] is True
    # The Solution Partner's steps, for a business on its own WABA: its system user is already assigned,
    # there is no partner credit line to attach, and the customer goes live after 11 and 12.
    assert r["07a_system_user"]["facts"]["already_assigned"] is True
    assert r["07b_credit_line"]["facts"]["skipped"] is True
    assert r["11_business_profile"]["facts"]["vertical"] == "RETAIL"
    assert r["12_templates"]["facts"]["template_status"] == "APPROVED"
    assert r["13_go_live"]["facts"]["can_send_message"] == "AVAILABLE"


def test_rerunning_subscribe_and_register_is_safe(example_run, sandbox):
    out_dir, records = example_run
    values = {"profile": str(CUSTOMERS / "example.yaml"), "graph_url": sandbox.url,
              **records["04_webhooks"]["outputs"], **records["06_phone_numbers"]["outputs"]}
    again = out_dir.parent / "example-again"
    subscribe, _, error = execute_step("05_subscribe_waba", again, values)
    assert error is None and subscribe["status"] == "passed"
    assert subscribe["facts"]["already_subscribed"] is True
    register, _, error = execute_step("08_register", again, values)
    assert error is None and register["status"] == "passed"
    assert register["facts"]["already_registered"] is True


def test_08_verifies_with_the_code_its_kernel_gets_from_the_sandbox_peer(sandbox, runs_root, monkeypatch):
    values = {"profile": str(CUSTOMERS / "example.yaml"), "graph_url": sandbox.url,
              "phone_number_id": "400000000000002"}  # NOT_VERIFIED
    # Without the peer variables the kernel has no one to read the SMS: a person is asked for the code.
    with monkeypatch.context() as env:
        env.delenv(ENV_PEER)
        env.delenv(ENV_PEER_URL)
        record, output, error = execute_step("08_register", runs_root / "verify-person", values)
    assert error is not None and record["status"] == "failed"
    assert record["facts"]["failed_action"] == "verify the code"
    assert "Code from the SMS" in record["error"]["message"] and "verification_code" in record["error"]["message"]
    # With them (the fixture's environment), the sandbox peer reads it and the number gets registered.
    record, _, error = execute_step("08_register", runs_root / "verify-sandbox", values)
    assert error is None and record["status"] == "passed", record.get("error")
    assert record["facts"]["verified_now"] is True and record["facts"]["registered"] is True


# ---- failing paths and the legacy path -------------------------------------------------------------
def test_a_wrong_pin_fails_08_with_133005_and_its_remedy(sandbox, runs_root):
    out_dir = runs_root / "bluefin-wrong-pin"
    values = {"profile": str(CUSTOMERS / "bluefin.yaml"), "graph_url": sandbox.url, "pin_env": "WRONG_PIN",
              "phone_number_id": "400000000000011"}
    record, output, error = execute_step("08_register", out_dir, values)
    assert error is not None, "papermill must mark the notebook failed"
    assert record["status"] == "failed" and record["customer"] == "bluefin"
    assert record["error"]["code"] == 133005
    assert "PIN" in record["error"]["remedy"] and record["error"]["fbtrace_id"]
    assert record["facts"]["failed_action"] == "register with the two-step verification PIN"
    shown = output.read_text(encoding="utf-8")
    assert "133005" in shown and "Two step verification PIN Mismatch" in shown  # the error table in the notebook


def test_in_korean_a_wrong_pin_fails_08_with_133005_its_korean_remedy_and_the_same_record(sandbox, runs_root):
    from helpers import i18n
    out_dir = runs_root / "bluefin-wrong-pin-ko"
    values = {"profile": str(CUSTOMERS / "bluefin.yaml"), "graph_url": sandbox.url, "pin_env": "WRONG_PIN",
              "phone_number_id": "400000000000011", "language": "ko"}
    record, output, error = execute_step("08_register", out_dir, values)
    assert error is not None and record["status"] == "failed" and record["error"]["code"] == 133005
    assert set(record) == RECORD_KEYS  # the same keys as in English: either language resumes the other
    try:
        i18n.set_language("ko")
        korean = lookup_remedy(133005).remedy
    finally:
        i18n.set_language(None)
    assert re.search(r"[\uac00-\ud7a3]", korean) and record["error"]["remedy"] == korean
    shown = output.read_text(encoding="utf-8")
    assert "133005" in shown and "Two step verification PIN Mismatch" in shown  # Meta's words stay as Meta said them
    assert korean.split(".")[0] in shown  # the remedy the engineer reads, in Korean (its first sentence)


def test_papermill_cli_ends_with_the_one_line_reason_and_shows_no_helpers_frames(sandbox, runs_root):
    out_dir = runs_root / "bluefin-wrong-pin-cli"
    out_dir.mkdir()
    output = out_dir / "08_register.ipynb"
    command = [sys.executable, "-m", "papermill", str(NOTEBOOKS / "08_register.ipynb"), str(output),
               "-p", "profile", str(CUSTOMERS / "bluefin.yaml"), "-p", "graph_url", sandbox.url,
               "-p", "pin_env", "WRONG_PIN", "-p", "phone_number_id", "400000000000011",
               "-p", "interactive", "False", "-p", "run_dir", str(out_dir), "--cwd", str(NOTEBOOKS),
               "--no-progress-bar", "-k", "python3"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=str(ROOT))
    assert result.returncode != 0
    last = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()][-1]
    assert last == "08_register failed: Two step verification PIN Mismatch (code 133005)", last
    record = json.loads((out_dir / "08_register.json").read_text(encoding="utf-8"))
    assert "helpers/" in record["error"]["traceback"], "the record keeps the full traceback"
    errors = [out for cell in json.loads(output.read_text(encoding="utf-8"))["cells"]
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert len(errors) == 1
    block = "\n".join(errors[0]["traceback"])
    assert "helpers/" not in block and "Traceback" not in block
    assert "what to do:" in block and "fbtrace_id:" in block and record["error"]["fbtrace_id"] in block
    assert lookup_remedy(133005).remedy in block


def test_headless_run_without_a_needed_id_fails_before_any_call(sandbox, runs_root):
    out_dir = runs_root / "no-waba"
    record, _, error = execute_step("06_phone_numbers", out_dir, {"graph_url": sandbox.url})
    assert error is not None and record["status"] == "failed"
    assert record["error"]["type"] == "ConfigError" and "waba_id" in record["error"]["message"]


def test_legacy_migration_moves_an_on_premises_number(sandbox, runs_root):
    out_dir = runs_root / "example-migrate"
    values = {"profile": str(CUSTOMERS / "example.yaml"), "graph_url": sandbox.url, "onboarding": "migrate",
              "phone_number_id": "400000000000004", "backup_data": sandbox.demo_env()["WHATSAPP_BACKUP_DATA"]}
    record, _, error = execute_step("07_migration", out_dir, values)
    assert error is None and record["status"] == "passed", record.get("error")
    assert record["facts"]["skipped"] is False
    assert record["facts"]["before"]["platform_type"] == "ON_PREMISE"
    assert record["facts"]["after"]["platform_type"] == "CLOUD_API"
    assert record["outputs"]["phone_number_id"] == "400000000000004"


# ---- secrets -----------------------------------------------------------------------------------------
def test_no_secret_in_any_executed_notebook_or_record(example_run, secrets, runs_root):
    # Runs after the other executions of this module: every run folder so far is scanned.
    base = runs_root
    scanned = 0
    for path in sorted(base.rglob("*")):
        if path.suffix not in (".ipynb", ".json"):
            continue
        text = path.read_text(encoding="utf-8")
        assert not find_secrets(text, secrets), f"{path.name} holds {find_secrets(text, secrets)}"
        scanned += 1
        if path.suffix == ".ipynb":
            nb = json.loads(text)
            injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
            assert injected, f"{path.name}: papermill injected no parameters"
            for name, value in nb["metadata"]["papermill"]["parameters"].items():
                if name.endswith("_env"):
                    assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", value), "only names of variables, never values"
            assert "application/vnd.jupyter.widget-state+json" not in nb["metadata"].get("widgets", {})
    assert scanned >= 2 * len(STEP_NAMES)
