"""The playbook in Korean, driven in Chromium at 1440x1000: `python -m helpers lab|voila --language ko`.

JupyterLab opens the session's Korean copies of the notebooks (their prose from the catalogue) with its own
menus in Korean (jupyterlab-language-pack-ko-kr); a form says what to fix in Korean; the Voila app's training
page breaks and fixes a drill in Korean. The expected words come from the catalogue (helpers.i18n) and from
the language pack, never typed here, and each must hold Hangul: an English fallback fails the test.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from helpers.i18n import _
from helpers.lab import LabSession, step_notebooks
from helpers.training import RIGHT_PIN, Drills

HANGUL = re.compile("[\uac00-\ud7a3]")
LANGUAGE = "ko"


def ko(message: str) -> str:
    """`message` as the Korean catalogue has it; fails when it is not translated (yet)."""
    text = _(message, LANGUAGE)
    assert HANGUL.search(text), f"no Korean in the catalogue for {message!r}: {text!r}"
    return text


def heading(message: str) -> str:
    """A markdown heading's text as a page shows it: without its leading #s."""
    return ko(message).lstrip("#").strip()


def jupyterlab_ko(message: str, context: str | None = None) -> str:
    """JupyterLab's own word for `message` in Korean, from the installed language pack."""
    spec = importlib.util.find_spec("jupyterlab_language_pack_ko_KR")
    assert spec and spec.origin, "jupyterlab-language-pack-ko-kr is not installed"
    pack = json.loads((Path(spec.origin).parent / "locale" / "ko_KR" / "LC_MESSAGES" / "jupyterlab.json")
                      .read_text(encoding="utf-8"))
    text = pack[f"{context}\x04{message}" if context else message][0]
    assert HANGUL.search(text), text
    return text


# ---- JupyterLab ---------------------------------------------------------------------------------------

@pytest.fixture(scope="class")
def lab(tmp_path_factory, notebooks_copy):
    session = LabSession(app="lab", workdir=tmp_path_factory.mktemp("lab-ko"), notebooks_dir=notebooks_copy,
                         open_browser=False, language=LANGUAGE).start()
    yield session
    session.stop()


def open_and_run_all(page, expect, lab: LabSession, notebook: str) -> None:
    """Open a notebook, wait for its kernel, then Run > Run All Cells from the (Korean) menu."""
    page.goto(lab.app_url.replace("/lab?", f"/lab/tree/{notebook}?reset&"))
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(notebook)
    status_bar = page.locator("#jp-main-statusbar")
    expect(status_bar).to_contain_text(notebook)
    expect(status_bar).to_contain_text(f"Python 3 (ipykernel) | {jupyterlab_ko('Idle')}")
    page.locator(".lm-MenuBar-itemLabel", has_text=jupyterlab_ko("Run", "menu")).first.click()
    page.locator('li[data-command="runmenu:run-all"]').click()


class TestJupyterLab:
    def test_a_korean_copy_of_step_08_runs_under_korean_menus(self, page, expect, lab, screenshot):
        # JupyterLab serves the session's Korean copies, not the notebooks it was given.
        assert lab.served_dir != lab.notebooks_dir and lab.served_dir.is_relative_to(lab.workdir), lab.served_dir
        open_and_run_all(page, expect, lab, "08_register.ipynb")
        title = page.locator(".jp-MarkdownCell h1").first
        expect(title).to_contain_text(heading("# 08 · Register the number (guide: Phase 4, step 5)"))
        menus = page.locator(".lm-MenuBar-itemLabel")
        for word in ("File", "Edit", "View", "Run", "Kernel", "Settings", "Help"):
            expect(menus.filter(has_text=jupyterlab_ko(word, "menu"))).to_have_count(1)
        expect(page.locator("#jp-main-statusbar")).to_contain_text(jupyterlab_ko("Idle"))
        # The step ran: its summary line says something, and no cell failed.
        expect(page.locator(".playbook-summary").first).not_to_have_text("")
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
        screenshot(page, "ko-lab-08-heading-and-menus", title)  # scrolled back up to the heading

        page.locator(".lm-MenuBar-itemLabel", has_text=jupyterlab_ko("Run", "menu")).first.click()
        expect(page.locator('li[data-command="runmenu:run-all"]')).to_contain_text(jupyterlab_ko("Run All Cells"))
        screenshot(page, "ko-lab-run-menu")
        page.keyboard.press("Escape")

    def test_a_korean_form_says_what_to_fix_in_korean(self, page, expect, lab, screenshot):
        expected = _("{name} must be exactly 6 digits (got {count} characters).", LANGUAGE).format(
            name=_("Two-step PIN (6 digits)", LANGUAGE), count=5)
        assert HANGUL.search(expected), f"the PIN message is not translated yet: {expected!r}"

        open_and_run_all(page, expect, lab, "08_register.ipynb")
        pin = page.locator(".playbook-pin input")
        expect(pin).to_be_visible()
        pin.fill("12345")
        pin.press("Enter")  # a Password field hands its value over on Enter (or leaving it)
        message = page.locator(".playbook-validation-pin")
        expect(message).to_contain_text(expected)
        screenshot(page, "ko-lab-08-pin-refused", pin)


# ---- the Voila app ------------------------------------------------------------------------------------

@pytest.fixture(scope="class")
def app(tmp_path_factory, notebooks_copy):
    session = LabSession(app="voila", workdir=tmp_path_factory.mktemp("voila-ko"), notebooks_dir=notebooks_copy,
                         open_browser=False, language=LANGUAGE).start()
    yield session
    session.stop()


class TestVoila:
    def test_the_home_page_is_korean(self, page, expect, app, screenshot):
        page.goto(app.app_url)
        expect(page.locator("html")).to_have_attribute("lang", LANGUAGE)
        expect(page.locator(".playbook-home h1")).to_have_text(ko("WhatsApp Cloud API onboarding: training app"))
        titles = page.locator(".playbook-steps li.playbook-step .title")
        number = [step["number"] for step in step_notebooks()].index("08")
        expect(titles.nth(number)).to_have_text(
            heading("# 08 · Register the number (guide: Phase 4, step 5)").removeprefix("08 · "))
        expect(page.locator(".playbook-steps a", has_text=ko("Training"))).to_have_attribute(
            "href", "/voila/tree/training")
        screenshot(page, "ko-voila-home")

    def test_a_korean_training_drill_breaks_wrong_pin_and_the_form_fixes_it(self, page, expect, app, screenshot):
        page.goto(app.app_url + "voila/render/training/scenarios.ipynb")
        expect(page.locator("html")).to_have_attribute("lang", LANGUAGE)
        picker = page.locator(".playbook-training .playbook-scenario select")
        expect(picker).to_be_visible()
        expect(page.locator(".playbook-header h1")).to_contain_text(
            heading("# Training: the errors you will meet, and how to fix them"))
        expect(page.locator(".playbook-nav a.playbook-home")).to_have_text(ko("Training app"))
        breaker = page.locator("button.playbook-break")
        expect(breaker).to_contain_text(ko("Break it"))
        screenshot(page, "ko-voila-training-opened")

        picker.select_option(index=list(Drills.catalogue()).index("wrong_pin"))
        breaker.click()
        drill = page.locator(".playbook-drill-wrong-pin")
        expect(drill.locator(".playbook-drill-header")).to_contain_text(HANGUL)

        drill.locator(".playbook-run").click()
        output = drill.locator(".playbook-output")
        expect(output).to_contain_text("133005")
        lesson = ko("✅ This is what the scenario teaches: {what}.").split("{what}")[0].strip()
        expect(drill.locator(".playbook-lesson")).to_contain_text(lesson)
        expect(drill.locator(".playbook-fix-notes")).to_contain_text(RIGHT_PIN)
        screenshot(page, "ko-voila-training-wrong-pin-error", drill.locator(".playbook-lesson"))

        pin = drill.locator(".playbook-pin input")
        pin.fill(RIGHT_PIN)
        pin.press("Enter")
        expect(drill.locator(".playbook-validation-pin")).to_contain_text("$WHATSAPP_PIN")
        expect(pin).to_have_value("")
        drill.locator(".playbook-run").click()
        expect(drill.locator(".playbook-drill-status")).to_contain_text(
            ko("✅ Fixed: {step} passes.").format(step="08_register"))
        expect(drill.locator(".playbook-summary")).to_contain_text("CONNECTED")
        screenshot(page, "ko-voila-training-wrong-pin-fixed", drill.locator(".playbook-drill-status"))
