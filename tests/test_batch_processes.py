"""A batch leaves nothing running: notebook 04's local receiver is stopped when the batch ends, and
the summary says so; every failure in the summary is one sentence plus what to do."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from helpers.processes import pid_alive
from helpers.remedies import remedy_text
from helpers.runner import run_batch
from helpers.runner import summary
from helpers.sandbox import Sandbox
from helpers.sandbox.peer import peer_env

CUSTOMERS = Path(__file__).resolve().parent.parent / "customers"


def test_a_batch_without_sandbox_stops_the_receiver_that_04_started(tmp_path, monkeypatch):
    with Sandbox() as sandbox:
        # As a user would run against an emulator of their own: its secrets and peer in the shell.
        for name, value in {**sandbox.demo_env(), **peer_env(sandbox.url)}.items():
            monkeypatch.setenv(name, value)
        profile = yaml.safe_load((CUSTOMERS / "example.yaml").read_text())
        profile["graph_url"] = sandbox.url
        path = tmp_path / "example.yaml"
        path.write_text(yaml.safe_dump(profile))
        result = run_batch([str(path)], out=str(tmp_path / "runs"), steps="04", workers=1, progress=False)
    assert result["passed"], result["table"].to_dict("records")
    notes = result["table"].attrs["notes"]
    assert len(notes) == 1 and notes[0].startswith("stopped the webhook receiver that example (04_webhooks) started")
    pid = int(re.search(r"pid (\d+)", notes[0]).group(1))
    assert not pid_alive(pid), "the receiver outlived the batch"
    assert notes[0] in summary.terminal(result["table"])
    assert "stopped the webhook receiver" in (result["batch_dir"] / "summary.html").read_text()
    assert not (result["batch_dir"] / "example" / "webhooks.sqlite.receiver.json").exists()


def _grid(record):
    return {"bluefin-live": {"01_assets": {"status": "passed", "duration_s": 1.0}, "08_register": record}}


def test_terminal_summary_gives_the_reason_and_what_to_do_for_each_failure_class():
    cases = {
        "MissingSecretError": ({"status": "failed", "duration_s": 0.5, "error": {
            "type": "MissingSecretError", "env_name": "BLUEFIN_PIN",
            "message": "Environment variable BLUEFIN_PIN is not set; it should hold the two-step PIN.",
            "remedy": remedy_text("MissingSecretError", where="shell", env="BLUEFIN_PIN")}},
            "export BLUEFIN_PIN=..."),
        "ConfigError": ({"status": "failed", "error": {"type": "ConfigError",
                                                        "message": "the PIN must be exactly 6 digits."}},
                        "customer profile"),
        "StepTimeout": ({"status": "timeout", "error": {"type": "StepTimeout",
                                                         "message": "the step ran longer than 5 s and was interrupted"}},
                        "--timeout"),
        "DeadKernelError": ({"status": "failed", "error": {"type": "DeadKernelError",
                                                            "message": "the kernel died while running the step"}},
                            "--resume"),
        "graph": ({"status": "failed", "error": {
            "type": "OAuthException", "code": 133005, "message": "(#133005) Two step verification PIN Mismatch",
            "title": "Two step verification PIN Mismatch", "remedy": "Use the PIN set for this number."}},
            "Use the PIN set for this number."),
    }
    for kind, (record, advice) in cases.items():
        table = summary.frame(_grid(record), ["01_assets", "08_register"])
        text = summary.terminal(table)
        lines = text.splitlines()
        why = next(line for line in lines if line.startswith("bluefin-live 08_register: "))
        what = lines[lines.index(why) + 1]
        assert what.startswith("    What to do: ") and advice in what, (kind, text)
        assert "\n" not in table.loc[0, "error_message"] and table.loc[0, "remedy"], kind
    graph = summary.frame(_grid(cases["graph"][0]), ["01_assets", "08_register"])
    assert graph.loc[0, "error_message"] == "Two step verification PIN Mismatch (code 133005)"


def test_summary_csv_and_html_hold_the_reason_and_the_remedy(tmp_path):
    record = {"status": "failed", "error": {"type": "ConfigError", "message": "the PIN must be exactly 6 digits."}}
    table = summary.write(tmp_path, _grid(record), ["01_assets", "08_register"])
    csv = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    assert csv.loc[0, "error_message"] == "the PIN must be exactly 6 digits."
    assert csv.loc[0, "remedy"] == remedy_text("ConfigError", where="shell")
    html = (tmp_path / "summary.html").read_text()
    assert "the PIN must be exactly 6 digits." in html and "What to do: Fix the value named above" in html
    assert table.attrs["notes"] == []


def test_summary_shows_skipped_as_skipped_links_what_exists_and_takes_any_step_name(tmp_path):
    steps = ["07_migration", "07a_system_user", "08_register", "11_templates"]
    (tmp_path / "batch.json").write_text('{"batch_id": "20261201-120000-ab12", "sandbox": false, '
                                         '"started_at": "2026-12-01T12:00:00+00:00"}')
    (tmp_path / "coral").mkdir()
    (tmp_path / "coral" / "07_migration.ipynb").write_text("{}")
    (tmp_path / "coral" / "07a_system_user.ipynb").write_text("{}")
    grid = {"coral": {
        "07_migration": {"status": "passed", "notebook": "07_migration.ipynb", "graph_url": "https://graph.facebook.com",
                         "facts": {"skipped": True, "reason": "onboarding is 'new'"}},
        "07a_system_user": {"status": "passed", "notebook": "07a_system_user.ipynb", "duration_s": 0.4,
                            "graph_url": "https://graph.facebook.com", "facts": {"verdict": "system user <ops> ready"}},
        "08_register": {"status": "failed", "notebook": "08_register.ipynb", "error": {
            "type": "OAuthException", "code": 133005, "message": "(#133005) Two step verification PIN Mismatch",
            "title": "Two step verification PIN Mismatch", "remedy": "Use the PIN set for this number."}},
        "11_templates": {"status": "not run"}}}
    table = summary.write(tmp_path, grid, steps)
    csv = pd.read_csv(tmp_path / "summary.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns)[:5] == ["customer", *steps]
    assert csv.loc[0, "07_migration"] == "skipped" and csv.loc[0, "status"] == "failed"
    assert table.loc[0, "failed_step"] == "08_register"
    page = (tmp_path / "summary.html").read_text()
    assert "20261201-120000-ab12" in page and "2026-12-01 12:00:00 UTC" in page
    assert "https://graph.facebook.com (Meta&#x27;s Graph API)" in page
    # Links only to notebooks that exist (08's was not written here), relative to the summary.
    assert re.findall(r"href='([^']+)'", page) == ["coral/07_migration.ipynb", "coral/07a_system_user.ipynb"]
    assert ">skipped</a>" in page and "onboarding is &#x27;new&#x27;" in page
    assert "system user &lt;ops&gt; ready" in page  # the verdict, escaped
    assert "<b>133005</b> Two step verification PIN Mismatch</div>" in page and "What to do: Use the PIN" in page
    assert "<span class='num'>07a</span> system user" in page and "<span class='num'>11</span> templates" in page
    assert "nan" not in page and "None" not in page
