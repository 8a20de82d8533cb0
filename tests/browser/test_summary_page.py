"""The batch summary page (summary.html) in Chromium at 1440 px: every step's column fits, a failure reads
with its code and what to do, each cell links to its output notebook."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers.runner import run_batch
from helpers.runner.notebooks import discover

CUSTOMERS = Path(__file__).resolve().parents[2] / "customers"


@pytest.fixture(scope="module")
def summary_with_a_failure(tmp_path_factory):
    """A sandbox batch of example (passes) and bluefin with a PIN nobody set (fails at 08)."""
    folder = tmp_path_factory.mktemp("profiles")
    bluefin = yaml.safe_load((CUSTOMERS / "bluefin.yaml").read_text(encoding="utf-8"))
    bluefin["pin_env"] = "SUMMARY_TEST_WRONG_PIN"
    (folder / "bluefin.yaml").write_text(yaml.safe_dump(bluefin), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("SUMMARY_TEST_WRONG_PIN", "111111")  # fake: the sandbox's bluefin PIN is another one
    try:
        result = run_batch([str(CUSTOMERS / "example.yaml"), str(folder / "bluefin.yaml")],
                           out=str(tmp_path_factory.mktemp("runs")), sandbox=True, workers=2, progress=False)
    finally:
        mp.undo()
    return result["batch_dir"] / "summary.html"


def test_the_summary_fits_1440_px_and_shows_the_failure_with_what_to_do(page, expect, summary_with_a_failure,
                                                                         screenshot):
    page.goto(summary_with_a_failure.as_uri())
    expect(page.locator("h1")).to_have_text("Onboarding batch summary")
    expect(page.locator(".about")).to_contain_text("(the sandbox)")
    expect(page.locator("thead th")).to_have_count(len(discover()) + 3)  # customer, the steps, status, total
    failed = page.locator("td.step.failed")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("133005")
    expect(failed).to_contain_text("What to do")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the window"
    # Step names wrap between words, never inside one: no header's text sticks out of its cell.
    cut = page.evaluate("[...document.querySelectorAll('thead th')].filter(th => th.scrollWidth > th.clientWidth)"
                        ".map(th => th.innerText)")
    assert cut == [], cut
    link = page.locator("td.step a").first
    target = summary_with_a_failure.parent / link.get_attribute("href")
    assert target.is_file() and target.suffix == ".ipynb"
    screenshot(page, "summary-with-a-failure")
