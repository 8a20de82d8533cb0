"""A real failure replayed as a drill (helpers.training.replay): a step fails against the sandbox and writes its record,
`python -m helpers drill from-run` turns the customer's folder into a scenario, a fresh sandbox loads it and
the same step fails with the same code and subcode; the training page's drill of it is fixed and passes.
And every folder that cannot be replayed is refused with what to do, before anything is written."""
from __future__ import annotations

import json

import pytest
import yaml

from helpers import ConfigError, GraphAPIError, lab
from helpers.cli import main
from helpers.lab import DEFAULT_PROFILE, LabSession
from helpers.remedies import lookup
from helpers.training.replay import ReplayError, from_run, path_pattern, replayed_spec, scenario_name
from helpers import records
from helpers.sandbox import Sandbox
from helpers.sandbox.scenarios import DRILLS_DIR_ENV, SCENARIO_DIR, catalogue
from helpers.steps import Step
from helpers import steps
from helpers.training import DRILLS, MetaFix, drill_specs, Drills
from notebook_fixtures import CUSTOMERS, find_secrets

BLUEFIN = str(CUSTOMERS / "bluefin.yaml")
EXAMPLE = str(CUSTOMERS / "example.yaml")
BATCH = "20261206-101500-ab12"
NOT_REGISTERED = {"code": 133010, "message": "(#133010) Account not registered", "http_status": 400,
                  "type": "OAuthException"}


def run_step(name: str, folder, graph_url: str, profile: str, action=None):
    """The step as a batch runs it (headless, its record in the customer's folder); the error, if any."""
    step = Step.start(name, {"interactive": False, "run_dir": str(folder), "profile": profile,
                             "graph_url": graph_url}, show=False)
    try:
        (action or getattr(steps, name.split("_", 1)[1]))(step)
    except Exception as exc:  # the record holds it; the test looks at both
        return exc
    step.finish(True, "")
    return None


@pytest.fixture
def drills_dir(tmp_path, monkeypatch):
    out = tmp_path / "drills"
    monkeypatch.setenv(DRILLS_DIR_ENV, str(out))
    monkeypatch.delenv("PLAYBOOK_GRAPH_TIMEOUT", raising=False)
    return out


def test_a_failure_no_built_in_scenario_teaches_replays_as_a_fault_rule_at_the_same_step(sb, tmp_path, drills_dir,
                                                                                          capsys):
    # bluefin's register meets 133010 for real: its record is what the batch would have written.
    sb.control.add_fault("error", method="POST", path="register$", times=0, error=NOT_REGISTERED)
    folder = tmp_path / "runs" / BATCH / "bluefin"
    error = run_step("06_phone_numbers", folder, sb.url, BLUEFIN) or run_step("08_register", folder, sb.url, BLUEFIN)
    assert isinstance(error, GraphAPIError) and error.code == 133010
    assert main(["drill", "from-run", str(folder)]) == 0
    printed = capsys.readouterr().out
    path = drills_dir / f"replay_{BATCH.replace('-', '_')}_bluefin_08_register.yaml"
    assert f"wrote {path}" in printed and "a fault rule" in printed

    scenario = yaml.safe_load(path.read_text())
    assert "based_on" not in scenario
    assert scenario["expected_error"] == {"code": 133010, "subcode": None, "http_status": 400}
    assert scenario["replayed_from"]["customer"] == "bluefin" and scenario["replayed_from"]["step"] == "08_register"
    (rule,) = [entry["fault"] for entry in scenario["setup"]]
    assert rule["kind"] == "error" and rule["method"] == "POST" and rule["path"] == "^[0-9]+/register$"
    assert rule["error"]["code"] == 133010 and rule["error"]["message"] == NOT_REGISTERED["message"]
    text = path.read_text()
    assert find_secrets(text, {k: v for k, v in sb.demo_env().items() if len(v) >= 4}) == [], "a secret reached the drill"

    # A fresh sandbox lists it beside the built-in scenarios and answers the same, at the training number's step.
    with Sandbox() as fresh:
        assert scenario["name"] in {s["name"] for s in fresh.control.scenarios()}
        fresh.control.load_scenario(scenario["name"])
        env = {**fresh.demo_env()}
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            again = run_step("08_register", tmp_path / "replayed", fresh.url, str(DEFAULT_PROFILE))
    assert isinstance(again, GraphAPIError) and (again.code, again.subcode) == (133010, None)
    record = json.loads((tmp_path / "replayed" / "08_register.json").read_text())
    assert record["status"] == "failed" and record["error"]["code"] == 133010


def test_a_failure_a_built_in_scenario_teaches_is_based_on_it(sb, tmp_path, drills_dir):
    sb.control.load_scenario("wrong_pin")  # example's number has a PIN nobody told the batch
    folder = tmp_path / "runs" / BATCH / "example"
    error = run_step("08_register", folder, sb.url, EXAMPLE)
    assert isinstance(error, GraphAPIError) and error.code == 133005
    path = from_run(folder)
    scenario = yaml.safe_load(path.read_text())
    built_in = yaml.safe_load((SCENARIO_DIR / "wrong_pin.yaml").read_text())
    assert scenario["based_on"] == "wrong_pin" and scenario["setup"] == built_in["setup"]
    assert scenario["expected_error"]["code"] == 133005

    spec = replayed_spec(scenario)
    assert spec.scenario == scenario["name"] and spec.fixes == DRILLS["wrong_pin"].fixes and spec.step == "08_register"
    with Sandbox() as fresh:
        fresh.control.load_scenario(scenario["name"])
        with pytest.MonkeyPatch.context() as patch:
            for key, value in fresh.demo_env().items():
                patch.setenv(key, value)
            again = run_step("08_register", tmp_path / "replayed", fresh.url, str(DEFAULT_PROFILE))
    assert isinstance(again, GraphAPIError) and again.code == 133005


def test_the_replayed_drill_is_listed_broken_met_with_its_remedy_fixed_and_passes(sandbox, tmp_path, drills_dir,
                                                                                  monkeypatch):
    for name, value in sandbox.demo_env().items():
        monkeypatch.setenv(name, value)
    sandbox.control.reset()
    sandbox.control.add_fault("error", method="POST", path="register$", times=0, error=NOT_REGISTERED)
    folder = tmp_path / "runs" / BATCH / "example"
    run_step("08_register", folder, sandbox.url, EXAMPLE)
    name = yaml.safe_load(from_run(folder).read_text())["name"]
    sandbox.control.reset()

    assert name in drill_specs() and name in Drills.catalogue() and set(DRILLS) < set(drill_specs())
    found = Drills(graph_url=sandbox.url, profile=str(DEFAULT_PROFILE), run_dir=str(tmp_path / "training"))
    try:
        drill = found.start(name)
        (fix,) = drill.spec.fixes
        assert isinstance(fix, MetaFix)
        drill.form.run_button.click()
        assert drill.record["observed_code"] == 133010, drill.form.summary.value
        assert drill.record["remedy"] == lookup(133010).remedy
        assert "happened for real" in drill.lesson.value and "example" in drill.lesson.value
        drill.form.run_button.click()  # without the fix: still failing
        assert "Still failing: 133010" in drill.status.value
        drill.apply_fixes()
        assert sandbox.control.faults()["rules"] == [], "the fix clears the replayed answer"
        drill.form.run_button.click()
        assert drill.record["status"] == "passed" and drill.record["fix_worked"], drill.status.value
    finally:
        found.close()


# ---- what cannot be replayed ------------------------------------------------------------------------

def _write(folder, *recs):
    folder.mkdir(parents=True, exist_ok=True)
    for rec in recs:
        records.write(folder / f"{rec['step']}.json", rec)


def test_a_missing_folder_a_batch_folder_and_a_run_without_failure_are_refused(tmp_path, drills_dir, capsys):
    batch = tmp_path / "runs" / BATCH
    _write(batch / "example", {**records.new("06_phone_numbers", "example"), "status": "passed"},
           records.not_run("08_register", "example"))
    (batch / "batch.json").write_text("{}")
    with pytest.raises(ReplayError, match="no such folder.*Customers in .*: example"):
        from_run(batch / "exampel")
    with pytest.raises(ReplayError, match="no step records.*not the batch folder"):
        from_run(batch)
    with pytest.raises(ReplayError, match="no failed step .*06_phone_numbers passed"):
        from_run(batch / "example")
    assert main(["drill", "from-run", str(batch / "example")]) == 2
    assert "error: " in capsys.readouterr().err
    assert not drills_dir.exists(), "nothing written for a refused folder"


@pytest.mark.parametrize("status, kind, message", [
    ("failed", "SecretLeak", "the value of $WHATSAPP_TOKEN appeared in 06_phone_numbers.ipynb"),
    ("timeout", "StepTimeout", "the step did not finish within 600 s"),
])
def test_a_failure_that_is_not_a_graph_error_says_it_cannot_be_replayed_and_why(tmp_path, drills_dir, status, kind,
                                                                                message):
    folder = tmp_path / "runs" / BATCH / "example"
    _write(folder, records.failure("06_phone_numbers", "example", status, kind, message))
    with pytest.raises(ReplayError, match=f"failed with {kind}.*cannot be replayed.*not one"):
        from_run(folder)


def test_a_bad_input_failure_made_for_real_cannot_be_replayed(tmp_path, drills_dir):
    folder = tmp_path / "runs" / BATCH / "example"
    with pytest.raises(ConfigError):  # refused before any call: the record says ConfigError
        Step.start("06_phone_numbers", {"interactive": False, "run_dir": str(folder), "graph_url": "http://127.0.0.1:9",
                                        "waba_id": "20000000000000X", "display_phone_number": "+15550100001"},
                   show=False)
    assert records.read(folder / "06_phone_numbers.json")["error"]["type"] == "ConfigError"
    with pytest.raises(ReplayError, match="ConfigError.*cannot be replayed"):
        from_run(folder)


def test_a_status_webhook_failure_no_built_in_teaches_cannot_be_a_fault_rule(tmp_path, drills_dir):
    rec = records.new("09_receive_message", "example", status="failed")
    rec["error"] = {"type": "WebhookStatusFailed", "code": 131026, "message": "Message undeliverable"}
    folder = tmp_path / "runs" / BATCH / "example"
    _write(folder, rec)
    with pytest.raises(ReplayError, match="no Graph call of the record answered it"):
        from_run(folder)


def test_names_and_paths_are_what_the_sandbox_accepts():
    assert scenario_name("2026-12-06T10:15 Z", "Blue Fin", "07a_system_user") == \
        "replay_2026_12_06t10_15_z_blue_fin_07a_system_user"
    assert len(scenario_name("b" * 200, "c", "08_register")) <= 80
    assert path_pattern("/v25.0/200000000000002/message_templates") == "^[0-9]+/message_templates$"
    assert path_pattern("/v25.0/debug_token") == "^debug_token$"


def test_the_lab_points_the_sandbox_and_the_kernels_at_the_drills_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(DRILLS_DIR_ENV, raising=False)
    assert lab.ENV_DRILLS_DIR == DRILLS_DIR_ENV
    assert LabSession().drills_dir == lab.REPO_ROOT / "runs" / "drills"
    session = LabSession(drills_dir=tmp_path / "mine", workdir=tmp_path / "work")
    try:
        assert session.kernel_environment()[DRILLS_DIR_ENV] == str(tmp_path / "mine")
        assert session.describe()["drills_dir"] == str(tmp_path / "mine")
    finally:
        session.stop()
    # A drill file the page can read is listed; a half-written one hides nothing else.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "broken.yaml").write_text("name: [unclosed")
    monkeypatch.setenv(DRILLS_DIR_ENV, str(tmp_path / "mine"))
    assert set(DRILLS) <= set(catalogue()) and set(drill_specs()) == set(DRILLS)
