"""The Voila app from `python -m helpers voila`: the steps in order, code hidden, forms and tables shown."""
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
    assert len(expected) == 11
    expect(page.locator(".playbook-steps li.playbook-step .number")).to_have_text(expected)
    expect(page.locator(".playbook-steps a", has_text="Training")).to_have_attribute("href", "/voila/tree/training")
    screenshot(page, "voila-home")


def test_step_06_renders_its_form_and_the_phone_numbers_table(page, expect, app, screenshot):
    page.goto(app.app_url + "voila/render/06_phone_numbers.ipynb")

    waba_id = page.locator(".playbook-waba-id input")
    expect(waba_id).to_have_value(PROFILE["waba_id"])
    expect(page.locator(".playbook-nav a.playbook-current")).to_have_text("06 Phone numbers")
    expect(page.locator(".jp-InputArea-editor")).to_have_count(0)  # code hidden
    # The notebook's own table, rendered when the page ran.
    expect(page.locator("table", has_text="ready_to_register").first).to_contain_text("400000000000001")
    screenshot(page, "voila-06-form", waba_id)

    page.locator(".playbook-run").first.click()
    table = page.locator(".playbook-output table").first
    expect(table).to_contain_text("400000000000001")
    expect(page.locator(".playbook-summary")).to_contain_text("400000000000001")
    screenshot(page, "voila-06-phone-numbers-table", table)

    page.locator(".playbook-pager a", has_text="07").click()
    expect(page.locator(".playbook-nav a.playbook-current")).to_have_text("07 Migration")
