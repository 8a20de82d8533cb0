"""A real failure replayed as a drill, in the Voila app in Chromium at 1440x1000: a batch's register failed with
133010; `python -m helpers drill from-run` made it a scenario in the lab's drills folder; the training page lists
it beside the built-in drills; Break it, Run shows the error with its remedy, the fix, Run again passes. And a
fault drill: Run passes through the fault, and the page says what the playbook did.
Screenshots also go to /tmp/h/drills_shots/ when that folder's parent exists (a person looks at them)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from helpers import steps
from helpers.processes import temporary_environ
from helpers.lab import LabSession
from helpers.remedies import lookup
from helpers.training.replay import from_run
from helpers.sandbox import Sandbox
from helpers.steps import Step

from notebook_fixtures import CUSTOMERS

BATCH = "20261206-101500-ab12"
SHOTS = Path("/tmp/h/drills_shots")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> tuple[Path, dict]:
    """The drills folder holding one drill made from a real failed record of example's 08_register."""
    root = tmp_path_factory.mktemp("replay")
    folder = root / "runs" / BATCH / "example"
    with Sandbox() as sb, temporary_environ(sb.demo_env()):
        sb.control.add_fault("error", method="POST", path="register$", times=0,
                             error={"code": 133010, "message": "(#133010) Account not registered",
                                    "http_status": 400, "type": "OAuthException"})
        step = Step.start("08_register", {"interactive": False, "run_dir": str(folder), "graph_url": sb.url,
                                          "profile": str(CUSTOMERS / "example.yaml")}, show=False)
        with pytest.raises(Exception):
            steps.register(step)
    path = from_run(folder, root / "drills")
    return path.parent, yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def app(tmp_path_factory, notebooks_copy, replayed):
    drills_dir, _scenario = replayed
    session = LabSession(app="voila", workdir=tmp_path_factory.mktemp("voila"), notebooks_dir=notebooks_copy,
                         open_browser=False, drills_dir=drills_dir).start()
    yield session
    session.stop()


@pytest.fixture
def shot(screenshot):
    def take(page, name: str, locator=None) -> Path:
        path = screenshot(page, name, locator)
        if SHOTS.parent.is_dir():
            SHOTS.mkdir(exist_ok=True)
            shutil.copy(path, SHOTS / path.name)
        return path
    return take


def _open_training(page, expect, app):
    page.goto(app.app_url + "voila/render/training/scenarios.ipynb")
    picker = page.locator(".playbook-training .playbook-scenario select")
    expect(picker).to_be_visible()
    return picker


def test_the_replayed_failure_is_listed_broken_met_with_its_remedy_fixed_and_passes(page, expect, app, replayed,
                                                                                   shot):
    _dir, scenario = replayed
    picker = _open_training(page, expect, app)
    label = f"{scenario['title']} · step 08"
    labels = [text.replace("\xa0", " ") for text in picker.locator("option").all_inner_texts()]  # ipywidgets: nbsp
    assert label in labels and "A wrong two-step verification PIN · step 08" in labels, labels
    assert labels.index(label) > labels.index("A wrong two-step verification PIN · step 08"), "after the built-in"

    picker.select_option(label=label)
    page.locator("button.playbook-break").click()
    drill = page.locator(".playbook-drill-" + scenario["name"].replace("_", "-"))
    expect(drill.locator(".playbook-drill-header")).to_contain_text("Replayed: example's step 08")
    shot(page, "replayed-drill-broken", drill.locator(".playbook-drill-header"))

    drill.locator(".playbook-run").click()
    output = drill.locator(".playbook-output")
    expect(output).to_contain_text("133010")
    expect(output).to_contain_text(lookup(133010).remedy[:60])
    lesson = drill.locator(".playbook-lesson")
    expect(lesson).to_contain_text("This is what the scenario teaches: error 133010")
    expect(lesson).to_contain_text("This failure happened for real: customer example")
    expect(drill.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
    expect(drill.locator(".playbook-output")).not_to_contain_text("Traceback")
    shot(page, "replayed-drill-error", lesson)

    fix = drill.locator("button.playbook-fix", has_text="Do what the remedy says")
    expect(fix).to_be_visible()
    fix.click()
    expect(drill.locator(".playbook-drill-status")).to_contain_text("did what the remedy says for 133010")
    assert app.control.faults()["rules"] == [], "the fix cleared the replayed answer"
    drill.locator(".playbook-run").click()
    expect(drill.locator(".playbook-drill-status")).to_contain_text("Fixed: 08_register passes")
    expect(drill.locator(".playbook-summary")).to_contain_text("registered: status CONNECTED")
    shot(page, "replayed-drill-fixed", drill.locator(".playbook-drill-status"))


def test_a_fault_drill_passes_through_and_says_what_the_playbook_did(page, expect, app, shot):
    picker = _open_training(page, expect, app)
    picker.select_option(label="Meta's fault: register applied, its answer too slow · step 08")
    page.locator("button.playbook-break").click()
    drill = page.locator(".playbook-drill-fault-timeout-after-write")
    expect(drill.locator(".playbook-drill-header")).to_contain_text("read its Graph calls")
    drill.locator(".playbook-run").click()
    expect(drill.locator(".playbook-drill-status")).to_contain_text("passes through the fault")
    lesson = drill.locator(".playbook-lesson")
    expect(lesson).to_contain_text("The sandbox injected timeout_after_write")
    expect(lesson).to_contain_text("read the number back")
    assert app.control.writes()["register"] == {"400000000000001": 1}, "no second register call"
    shot(page, "fault-drill-timeout-after-write", lesson)
