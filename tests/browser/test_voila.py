"""The Voila app from `python -m helpers voila`: the steps in order, code hidden, forms and tables shown;
no developer text or parameter tables; the training page runs nothing until the trainee presses a button."""
from __future__ import annotations

import pytest

from helpers.lab import DEFAULT_PROFILE, LabSession, step_notebooks
from helpers.profiles import load_profile

PROFILE = load_profile(DEFAULT_PROFILE)


@pytest.fixture(scope="module")
def app(tmp_path_factory, notebooks_copy):
    session = LabSession(app="voila", workdir=tmp_path_factory.mktemp("voila"), notebooks_dir=notebooks_copy,
                         open_browser=False).start()
    yield session
    session.stop()


def test_home_lists_the_steps_in_order(page, expect, app, screenshot):
    page.goto(app.app_url)
    expected = [step["number"] for step in step_notebooks()]
    assert len(expected) == 16 and "07a" in expected
    expect(page.locator(".playbook-steps li.playbook-step .number")).to_have_text(expected)
    # Each step by its title (the notebook's first heading, without the number).
    expect(page.locator(".playbook-steps li.playbook-step .title").nth(expected.index("08"))).to_have_text(
        "Register the number (guide: Phase 4, step 5)")
    expect(page.locator(".playbook-steps a", has_text="Training")).to_have_attribute("href", "/voila/tree/training")
    screenshot(page, "voila-home")


def test_step_06_renders_its_form_and_the_phone_numbers_table(page, expect, app, screenshot):
    page.goto(app.app_url + "voila/render/06_phone_numbers.ipynb")

    waba_id = page.locator(".playbook-waba-id input")
    expect(waba_id).to_have_value(PROFILE["waba_id"])
    expect(page.locator(".playbook-nav a.playbook-current")).to_have_text("06 Phone numbers")
    expect(page.locator(".jp-InputArea-editor")).to_have_count(0)  # code hidden
    screenshot(page, "voila-06-form", waba_id)

    page.locator(".playbook-run").first.click()
    table = page.locator(".playbook-output table").first
    expect(table).to_contain_text("400000000000001")
    expect(page.locator(".playbook-summary")).to_contain_text("400000000000001")
    screenshot(page, "voila-06-phone-numbers-table", table)

    page.locator(".playbook-pager a", has_text="07").click()
    expect(page.locator(".playbook-nav a.playbook-current")).to_have_text("07 Migration")


def test_a_step_page_starts_with_a_short_header_and_its_form_without_developer_text(page, expect, app, screenshot):
    page.goto(app.app_url + "voila/render/08_register.ipynb")
    run = page.locator(".playbook-form .playbook-run").first
    expect(run).to_be_visible()
    expect(page.locator(".playbook-header h1")).to_contain_text("Register the number")
    expect(page.locator(".playbook-header")).to_contain_text("What:")
    expect(page.locator(".playbook-header details summary")).to_have_text("More about this step")
    expect(page.locator(".playbook-header details")).not_to_have_attribute("open", "")
    body = page.locator("#rendered_cells")
    expect(body).not_to_contain_text("interactive=True")
    expect(body).not_to_contain_text("In JupyterLab")
    # No parameters table: its rows name every parameter, api_version among them.
    expect(page.locator("table", has_text="api_version")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")
    box = run.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 1000, f"Run is below the fold: {box}"
    screenshot(page, "voila-08-above-the-fold")


def test_the_training_page_runs_nothing_until_a_trainee_breaks_wrong_pin_and_fixes_it_in_the_form(
        page, expect, app, screenshot):
    before = app.control.stats()["graph_requests"]
    page.goto(app.app_url + "voila/render/training/scenarios.ipynb")
    picker = page.locator(".playbook-training .playbook-scenario select")
    expect(picker).to_be_visible()
    expect(page.locator(".playbook-break button, button.playbook-break")).to_be_disabled()
    expect(page.locator(".playbook-drill")).to_have_count(0)
    screenshot(page, "voila-training-opened")
    assert app.control.stats()["graph_requests"] == before, app.control.stats()["recent"]

    picker.select_option(label="A wrong two-step verification PIN · step 08")
    page.locator("button.playbook-break").click()
    drill = page.locator(".playbook-drill-wrong-pin")
    expect(drill.locator(".playbook-drill-header")).to_contain_text("A wrong two-step verification PIN")
    assert app.control.stats()["graph_requests"] == before, "breaking a scenario is no Graph call"

    drill.locator(".playbook-run").click()
    output = drill.locator(".playbook-output")
    expect(output).to_contain_text("133005")
    expect(output).to_contain_text("PIN")
    expect(drill.locator(".playbook-lesson")).to_contain_text("This is what the scenario teaches: error 133005")
    expect(drill.locator(".playbook-fix-notes")).to_contain_text("904417")
    screenshot(page, "voila-training-wrong-pin-error", drill.locator(".playbook-lesson"))

    pin = drill.locator(".playbook-pin input")
    pin.fill("904417")
    pin.press("Enter")  # a Password field hands its value over on Enter (or leaving it)
    expect(drill.locator(".playbook-validation-pin")).to_contain_text("stored in $WHATSAPP_PIN")
    expect(pin).to_have_value("")
    drill.locator(".playbook-run").click()
    expect(drill.locator(".playbook-drill-status")).to_contain_text("Fixed: 08_register passes")
    expect(drill.locator(".playbook-summary")).to_contain_text("registered: status CONNECTED")
    screenshot(page, "voila-training-wrong-pin-fixed", drill.locator(".playbook-drill-status"))


@pytest.mark.parametrize("notebook", ["08_register", "10_send_test_message"])
def test_opening_a_step_page_makes_no_graph_call_until_run_is_pressed(page, expect, app, screenshot, notebook):
    before = app.control.stats()["graph_requests"]
    page.goto(app.app_url + f"voila/render/{notebook}.ipynb")
    run = page.locator(".playbook-form .playbook-run").first
    expect(run).to_be_visible()
    expect(page.locator("#rendered_cells")).to_contain_text("Press Run in the form above")
    expect(page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
    assert app.control.stats()["graph_requests"] == before, app.control.stats()["recent"]
    screenshot(page, f"voila-{notebook[:2]}-opened")

    run.click()
    expect(page.locator(".playbook-summary").first).not_to_have_text("")
    expect(page.locator(".playbook-summary").first).not_to_contain_text("Running")
    assert app.control.stats()["graph_requests"] > before, "Run made no Graph call"
    screenshot(page, f"voila-{notebook[:2]}-after-run")
