"""Each step checks everything it will need before its first Graph call, headless and in JupyterLab
alike: notebook 08 with a 5-digit PIN makes zero requests (a recording server on 127.0.0.1 plays
the Graph API, so any call would show in `scripted.seen`)."""
from __future__ import annotations

import pytest

from fakes import FAKE_TOKEN
from helpers import steps
from helpers.errors import ConfigError
from helpers.steps import Step
from notebook_fixtures import ensure_venv_kernel, execute_step

FIVE_DIGITS = "12345"
VALUES = {"phone_number_id": "400000000000002", "token_env": "IF_TOKEN", "pin_env": "IF_PIN"}


@pytest.fixture
def short_pin(monkeypatch):
    monkeypatch.setenv("IF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("IF_PIN", FIVE_DIGITS)


def test_notebook_08_with_a_5_digit_pin_makes_zero_graph_calls(scripted, short_pin, tmp_path):
    ensure_venv_kernel()
    record, output, error = execute_step("08_register", tmp_path, VALUES | {"graph_url": scripted.url})
    assert error is not None, "papermill must mark the notebook failed"
    assert record["status"] == "failed" and record["error"]["type"] == "ConfigError"
    assert "IF_PIN" in record["error"]["message"] and "exactly 6 digits" in record["error"]["message"]
    assert scripted.seen == []
    assert FIVE_DIGITS not in output.read_text(encoding="utf-8")


def test_interactive_08_refuses_the_pin_before_request_code(scripted, short_pin, tmp_path):
    # In JupyterLab the form may fill the PIN later, so Step.start lets it through; the action must not.
    step = Step.start("08_register", VALUES | {"graph_url": scripted.url, "run_dir": str(tmp_path)}, show=False)
    with pytest.raises(ConfigError, match="exactly 6 digits"):
        steps.register(step)
    assert scripted.seen == []
    assert step.record["facts"]["failed_action"] == "check the PIN"
