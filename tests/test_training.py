"""The training drills, headless against a sandbox, done the way a trainee does them on the training page:
Break it, Run in the step's own form (the expected error, with its remedy), the fix through the form's
widgets (a value typed into a field, or a "Fix it" button standing in for Meta's side), Run again (passes).
And the training notebook: nothing runs when it opens."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest

from helpers import steps
from helpers.lab import DEFAULT_PROFILE
from helpers.remedies import lookup as lookup_remedy
from helpers.sandbox.faults import KINDS
from helpers.sandbox.scenarios import catalogue
from helpers.training import DRILLS, FAULT_DRILLS, FormFix, MetaFix, Drills

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING = REPO_ROOT / "notebooks" / "training" / "scenarios.ipynb"
LAB_ENV = ("PLAYBOOK_PROFILE", "PLAYBOOK_SANDBOX_URL", "PLAYBOOK_GRAPH_URL", "PLAYBOOK_CALLBACK_URL",
           "PLAYBOOK_WEBHOOK_DB", "PLAYBOOK_RUN_DIR", "PLAYBOOK_PEER", "PLAYBOOK_PEER_URL", "PLAYBOOK_DRILLS_DIR",
           "PLAYBOOK_GRAPH_TIMEOUT")


@pytest.fixture
def drills(sandbox, tmp_path, monkeypatch):
    """Drills on the module's sandbox, outside any lab: the kernel's secrets, a run folder of its own."""
    for name in LAB_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in sandbox.demo_env().items():
        monkeypatch.setenv(name, value)  # a fix may replace one (the token, the PIN): restored after the test
    found = Drills(graph_url=sandbox.url, profile=str(DEFAULT_PROFILE), run_dir=str(tmp_path))
    yield found
    found.close()


def test_every_sandbox_scenario_has_one_drill_and_its_text_names_the_step_it_runs():
    scenarios = catalogue()
    assert set(DRILLS) == set(scenarios), "one DRILLS entry per scenario YAML"
    for name, spec in DRILLS.items():
        number = spec.step.split("_", 1)[0]
        assert f"notebook {number}" in scenarios[name]["try"].lower(), (name, "the scenario's text names another step")
        assert spec.fixes or spec.passes, name  # a fault drill has nothing to fix: the step rides through
        for fix in spec.fixes:
            assert isinstance(fix, (FormFix, MetaFix)), name
            if isinstance(fix, MetaFix):  # says what it stands in for, on the button's side
                assert fix.stands_in_for and fix.label, name


@pytest.mark.parametrize("name", [name for name, spec in DRILLS.items() if not spec.passes])
def test_each_drill_is_broken_fails_as_taught_is_fixed_through_the_form_and_passes(drills, sandbox, name):
    scenario = {s["name"]: s for s in sandbox.control.scenarios()}[name]
    drill = drills.start(name)
    assert drill.fix_box.layout.display == "none", "the fix is shown once the error was met"

    drill.form.run_button.click()
    expected = scenario["expected_error"]
    if isinstance(drill.expected, int):
        assert drill.expected == expected["code"], name
        assert drill.record["observed_code"] == expected["code"], (name, drill.form.summary.value)
        if expected.get("subcode"):
            assert drill.record["observed_subcode"] == expected["subcode"], name
        catalogued = lookup_remedy(expected["code"], expected.get("subcode"))
        if name == "terms_not_accepted":  # (#200) is generic: the step recognises the Terms in the details
            assert drill.record["remedy"] == steps.TERMS_REMEDY
        elif catalogued is not None:
            assert drill.record["remedy"] == catalogued.remedy, name
    assert drill.record["observed"] == drill.expected, (name, drill.form.summary.value)
    assert drill.record["remedy"], name
    assert "This is what the scenario teaches" in drill.lesson.value, name
    assert drill.fix_box.layout.display == "flex", name
    assert "#b00020" in drill.form.summary.value, "the form's summary shows the failure in red"

    drill.apply_fixes()
    drill.form.run_button.click()
    assert drill.record["status"] == "passed", (name, drill.form.summary.value, drill.status.value)
    assert drill.record["fix_worked"] is True and drill.record["fix"], name
    assert "Fixed" in drill.status.value and "#1e7e34" in drill.form.summary.value, name
    step_record = json.loads((drills.run_dir / name / f"{drill.spec.step}.json").read_text())
    assert step_record["status"] == "passed", name
    written = json.loads((drills.records_dir / f"{name}.json").read_text())
    assert written["status"] == "passed" and written["expected"] == drill.expected, name

    # A new token went through the form's Access token field: into the variable, never into a record or widget.
    secrets = [os.environ[v] for v in ("WHATSAPP_TOKEN", "WHATSAPP_PIN") if len(os.environ.get(v, "")) >= 4]
    shown = json.dumps(written) + json.dumps(step_record) + drill.lesson.value + drill.status.value
    shown += "".join(getattr(w, "value", "") or "" for w in drill.form.inputs.values() if isinstance(
        getattr(w, "value", ""), str))
    for value in secrets:
        assert value not in shown, f"{name}: a secret value reached a record or a widget"


# The sandbox's ledger key each fault drill's write has (a count above 1 would be a doubled write).
FAULT_WRITES = {"fault_something_went_wrong": ("message_send", "400000000000006>16505550100"),
                "fault_throttled": ("message_send", "400000000000006>16505550100"),
                "fault_connection_reset": ("register", "400000000000001"),
                "fault_timeout_after_write": ("register", "400000000000001")}


def test_every_injectable_fault_kind_is_a_drill_the_step_rides_through():
    assert {spec.scenario for spec in FAULT_DRILLS} == {f"fault_{kind}" for kind in KINDS}
    for spec in FAULT_DRILLS:
        assert spec.passes and spec.expect == "passed" and not spec.fixes, spec.scenario
        assert "retried" in spec.lesson or "read the number back" in spec.lesson, spec.scenario


@pytest.mark.parametrize("name", [spec.scenario for spec in FAULT_DRILLS])
def test_each_fault_drill_meets_its_fault_once_and_the_step_passes_with_no_write_doubled(drills, sandbox, name):
    drill = drills.start(name)
    assert "read its Graph calls" in drill.header.value, "the trainee is told where to look"
    drill.form.run_button.click()
    assert drill.record["status"] == "passed", (name, drill.form.summary.value, drill.status.value)
    (rule,) = sandbox.control.faults()["rules"]
    assert rule["kind"] == name.removeprefix("fault_") and rule["hits"] == 1, rule
    assert "rode through" in drill.record["fix"] and "Look at the Graph calls" in drill.lesson.value
    calls = drill.step.record["graph_calls"]
    faulted = [c for c in calls if c.get("status") in (None, 0, 500, 503) or str(c.get("error_code")).startswith("130429")]
    assert faulted, (name, calls)  # the form's calls table shows the fault the step rode through
    if name in FAULT_WRITES:
        kind, key = FAULT_WRITES[name]
        assert sandbox.control.writes()[kind] == {key: 1}, name
    assert os.environ.get("PLAYBOOK_GRAPH_TIMEOUT") == ("3" if name == "fault_timeout_after_write" else None)
    written = json.loads((drills.records_dir / f"{name}.json").read_text())
    assert written["status"] == "passed" and written["observed"] == "passed"


def test_wrong_pin_a_wrong_guess_still_fails_then_the_right_pin_typed_into_the_form_passes(drills):
    drill = drills.start("wrong_pin")
    drill.form.run_button.click()
    assert drill.record["observed_code"] == 133005
    assert "133008" in drill.lesson.value, "the lesson warns that guessing locks the number"
    assert "904417" in drill.fix_notes.value, "the handover note gives the right PIN"

    pin = drill.form.inputs["pin_env"]
    pin.value = "111111"
    assert pin.value == "", "the PIN field never keeps what was typed"
    drill.form.run_button.click()
    assert "Still failing: 133005" in drill.status.value
    assert drill.record["status"] == "running"

    pin.value = "904417"
    drill.form.run_button.click()
    assert drill.record["status"] == "passed", drill.form.summary.value
    assert os.environ["WHATSAPP_PIN"] == "904417"


def test_a_meta_side_fix_is_a_button_that_says_what_it_stands_in_for(drills):
    drill = drills.start("register_rate_limit")
    drill.form.run_button.click()
    assert drill.record["observed_code"] == 133016
    (button,) = drill.fix_buttons.values()
    assert button.description.startswith("Fix it: ") and "clock" in button.tooltip
    drill.form.run_button.click()  # retrying without the fix: still limited
    assert "Still failing: 133016" in drill.status.value
    button.click()
    assert "waited out the 72-hour window" in drill.status.value
    drill.form.run_button.click()
    assert drill.record["status"] == "passed"


def test_breaking_a_scenario_restores_the_secrets_an_earlier_drill_replaced(drills, sandbox):
    drill = drills.start("wrong_pin")
    drill.form.inputs["pin_env"].value = "904417"
    assert os.environ["WHATSAPP_PIN"] == "904417"
    drills.start("terms_not_accepted")
    assert os.environ["WHATSAPP_PIN"] == sandbox.demo_env()["WHATSAPP_PIN"]


def test_the_committed_training_notebook_has_no_outputs_and_declares_its_parameters():
    nb = nbformat.read(TRAINING, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    declared = papermill.inspect_notebook(str(TRAINING))
    assert {"graph_url", "profile", "run_dir", "callback_url", "webhook_db"} <= set(declared)


def test_opening_the_training_notebook_breaks_nothing_and_calls_no_graph_api(sandbox, tmp_path, monkeypatch):
    for name in LAB_ENV:
        monkeypatch.delenv(name, raising=False)
    before = sandbox.control.stats()["graph_requests"]
    output = tmp_path / "scenarios.ipynb"
    papermill.execute_notebook(str(TRAINING), str(output), kernel_name="python3", cwd=str(TRAINING.parent),
                               progress_bar=False, start_timeout=60, execution_timeout=120,
                               parameters={"graph_url": sandbox.url, "profile": str(DEFAULT_PROFILE),
                                           "run_dir": str(tmp_path)})
    assert sandbox.control.stats()["graph_requests"] == before, sandbox.control.stats()["recent"]
    assert not list((tmp_path / "training").glob("*.json")), "no drill ran"
    nb = nbformat.read(output, as_version=4)
    shown = [output for cell in nb.cells for output in cell.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown), "the picker"
    whole = nbformat.writes(nb)
    for name, value in sandbox.demo_env().items():
        if len(value) >= 4 and name != "WHATSAPP_BACKUP_DATA":
            assert value not in whole, f"the value of {name} leaked into the output notebook"
