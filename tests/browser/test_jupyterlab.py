"""JupyterLab from `python -m helpers lab`, driven in Chromium as a trainee would use it.

One lab (sandbox + webhook receiver + JupyterLab) serves the whole module.
"""
from __future__ import annotations

import re

import pytest

from helpers.lab import DEFAULT_PROFILE, LabSession
from helpers.profiles import load_profile
from helpers.remedies import lookup as lookup_remedy

PROFILE = load_profile(DEFAULT_PROFILE)
# The whole remedy, as the catalogue words it: "... reset it with POST /{PHONE_NUMBER_ID} {"pin": ...} ..."
REMEDY_133005 = lookup_remedy(133005).remedy


@pytest.fixture(scope="module")
def lab(tmp_path_factory, notebooks_copy):
    session = LabSession(app="lab", workdir=tmp_path_factory.mktemp("lab"), notebooks_dir=notebooks_copy,
                         open_browser=False).start()
    yield session
    session.stop()


def open_and_run_all(page, expect, lab: LabSession, notebook: str) -> None:
    """Open a step notebook, wait for its kernel, then Run > Run All Cells from the menu."""
    # ?reset: only this notebook, not the tabs the workspace remembers from the last test.
    page.goto(lab.app_url.replace("/lab?", f"/lab/tree/{notebook}?reset&"))
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(notebook)
    status_bar = page.locator("#jp-main-statusbar")
    expect(status_bar).to_contain_text(notebook)
    expect(status_bar).to_contain_text("Python 3 (ipykernel) | Idle")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('li[data-command="runmenu:run-all"]').click()


def test_phone_numbers_form_is_prefilled_validates_and_lists_numbers(page, expect, lab, screenshot):
    open_and_run_all(page, expect, lab, "06_phone_numbers.ipynb")

    waba_id = page.locator(".playbook-waba-id input")
    expect(waba_id).to_have_value(PROFILE["waba_id"])
    expect(page.locator(".playbook-display-phone-number input")).to_have_value(PROFILE["display_phone_number"])
    screenshot(page, "lab-06-form-prefilled", waba_id)

    message = page.locator(".playbook-validation-waba-id")
    waba_id.fill("12ab")
    expect(message).to_contain_text("digits")
    expect(page.locator(".playbook-waba-id")).to_have_class(re.compile(r"\bplaybook-invalid\b"))
    screenshot(page, "lab-06-invalid-waba-id", waba_id)

    waba_id.fill(PROFILE["waba_id"])
    expect(message).to_have_text("")
    page.locator(".playbook-run").first.click()
    table = page.locator(".playbook-output table").first
    expect(table).to_contain_text("400000000000001")
    expect(table).to_contain_text("ready_to_register")
    expect(page.locator(".playbook-summary")).to_contain_text("400000000000001")
    screenshot(page, "lab-06-phone-numbers-table", table)


def test_register_with_a_wrong_pin_shows_the_133005_remedy(page, expect, lab, screenshot):
    scenario = lab.control.load_scenario("wrong_pin")  # the number's PIN is no longer the one in WHATSAPP_PIN
    assert scenario["expected_error"]["code"] == 133005

    open_and_run_all(page, expect, lab, "08_register.ipynb")
    # The register cell fails: its outputs are the error table, then the exception ending in "What to do".
    error_table = page.locator(".jp-OutputArea-output table", has_text="133005").first
    expect(error_table).to_contain_text("Two step verification PIN Mismatch")
    screenshot(page, "lab-08-wrong-pin-remedy", error_table)
    failed_cell = page.locator(".jp-CodeCell", has=error_table)
    expect(failed_cell.locator(".jp-OutputArea")).to_contain_text(REMEDY_133005)

    # The same from the form: type another wrong PIN into the password field and press Register.
    pin = page.locator(".playbook-pin input")
    pin.fill("111111")
    pin.press("Enter")
    expect(pin).to_have_value("")  # the form moved it into the kernel's environment and cleared itself
    page.locator(".playbook-run").first.click()
    form_output = page.locator(".playbook-output").first
    expect(form_output).to_contain_text("133005")  # the form shows the error table (no traceback)
    screenshot(page, "lab-08-form-wrong-pin", form_output)
    expect(form_output).to_contain_text(REMEDY_133005)
