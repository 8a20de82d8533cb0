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


def result_area(page):
    """The step's one result area (the action cell shows it; the form's Run redraws it)."""
    return page.locator(".playbook-result").first


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
    # The form's CSS gives a refused field a red border.
    assert waba_id.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(176, 0, 32)"
    screenshot(page, "lab-06-invalid-waba-id", waba_id)

    waba_id.fill(PROFILE["waba_id"])
    expect(message).to_have_text("")
    assert waba_id.evaluate("e => getComputedStyle(e).borderTopColor") != "rgb(176, 0, 32)"
    page.locator(".playbook-run").first.click()
    table = result_area(page).locator("table").first
    expect(table).to_contain_text("400000000000001")
    expect(table).to_contain_text("ready_to_register")
    expect(page.locator(".playbook-summary")).to_contain_text("400000000000001")
    # One result per action: Run redrew the cell's result; there is no second numbers table.
    expect(page.locator("table", has_text="ready_to_register")).to_have_count(1)
    screenshot(page, "lab-06-phone-numbers-table", table)


def test_phone_numbers_readiness_columns_fit_at_1440_px(page, expect, lab, screenshot):
    open_and_run_all(page, expect, lab, "06_phone_numbers.ipynb")
    table = result_area(page).locator("table").first
    expect(table).to_contain_text("400000000000001")
    table.scroll_into_view_if_needed()
    viewport = page.viewport_size["width"]
    notebook = page.locator(".jp-NotebookPanel-notebook").first.bounding_box()
    for column in ("display_phone_number", "ready_to_register", "connected", "verified"):
        header = table.locator("th", has_text=re.compile(rf"^{column}$"))
        box = header.bounding_box()
        assert box is not None, column
        assert box["x"] >= notebook["x"] and box["x"] + box["width"] <= min(viewport, notebook["x"] + notebook["width"]), (
            f"{column} is off-screen: {box} (notebook {notebook})")
    # Nothing to scroll sideways: the table is no wider than its output area.
    widths = table.evaluate("t => [...document.querySelectorAll('.playbook-result, .playbook-result *')]"
                            ".filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')"
                            ".map(e => [e.className, e.scrollWidth, e.clientWidth])")
    assert not widths, f"something scrolls sideways: {widths}"
    screenshot(page, "lab-06-readiness-at-1440", table)

    # Every column is one click away, in the same result.
    page.locator(".playbook-all-columns").first.click()
    expect(result_area(page).locator("table").first).to_contain_text("platform_type")
    expect(page.locator("table", has_text="ready_to_register")).to_have_count(1)


@pytest.mark.parametrize("notebook", ["01_assets.ipynb", "02_terms.ipynb", "03_access_token.ipynb"])
def test_table_text_is_never_cut(page, expect, lab, notebook):
    open_and_run_all(page, expect, lab, notebook)
    expect(page.locator(".jp-CodeCell").last.locator(".jp-OutputArea")).to_contain_text("passed")
    cells = page.locator(".jp-OutputArea-output td")
    texts = cells.all_inner_texts()
    assert texts, "the step showed tables"
    cut = [t for t in texts if t.rstrip().endswith("…")]
    assert not cut, f"cut cell text in {notebook}: {cut}"
    assert not any(t.strip() in ("None", "NaN", "<NA>", "nan") for t in texts), texts


def test_expired_token_shows_the_remedy_and_no_traceback(page, expect, lab, screenshot):
    lab.control.load_scenario("expired_token")
    try:
        open_and_run_all(page, expect, lab, "03_access_token.ipynb")
        area = result_area(page)
        expect(area).to_contain_text("what to do")
        expect(page.locator(".jp-CodeCell").last.locator(".jp-OutputArea")).to_contain_text("03_access_token failed")
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
        screenshot(page, "lab-03-expired-token", area)
    finally:
        lab.control.reset()


def test_register_with_a_wrong_pin_shows_the_remedy_then_a_new_pin_registers(page, expect, lab, screenshot):
    scenario = lab.control.load_scenario("wrong_pin")  # the number's PIN is no longer the one in WHATSAPP_PIN
    assert scenario["expected_error"]["code"] == 133005

    open_and_run_all(page, expect, lab, "08_register.ipynb")
    expect(page.locator(".playbook-pin-warning")).to_contain_text("133008")  # said before any attempt
    area = result_area(page)
    error_table = area.locator("table", has_text="133005").first
    expect(error_table).to_contain_text("Two step verification PIN Mismatch")
    expect(area).to_contain_text(REMEDY_133005)
    # The verdict cell ran and says the step failed, in one line; nowhere a traceback through helpers/.
    verdict = page.locator(".jp-CodeCell").last.locator(".jp-OutputArea")
    expect(verdict).to_contain_text("08_register failed")
    notebook_text = page.locator(".jp-Notebook").inner_text()
    assert "Traceback" not in notebook_text and "helpers/" not in notebook_text
    assert "subcode None" not in notebook_text and "subcode\tNone" not in notebook_text
    expect(page.locator(".playbook-summary").first).to_contain_text("Failed: (#133005) Two step verification PIN")
    screenshot(page, "lab-08-wrong-pin-remedy", error_table)

    # The form offers a new PIN: set it on the number, then register with it.
    new_pin = page.locator(".playbook-new-pin input")
    expect(new_pin).to_be_visible()
    new_pin.fill("246802")
    new_pin.press("Enter")
    expect(new_pin).to_have_value("")  # moved into the kernel's environment, the field cleared
    expect(page.locator(".playbook-validation-new-pin")).to_contain_text("stored")
    page.locator(".playbook-set-pin").click()
    expect(page.locator(".playbook-summary").first).to_contain_text("registered")
    expect(area).to_contain_text("CONNECTED")
    expect(area.locator("table", has_text="133005")).to_have_count(0)  # the result replaced the failure
    screenshot(page, "lab-08-new-pin-registered", area)
