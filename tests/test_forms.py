"""The step forms, headless: set `.value`, call `.click()`, read the messages, the environment and the Output."""
from __future__ import annotations

import os
import re

import ipywidgets as widgets
import pandas as pd

from helpers import forms, steps
from helpers.forms import Field, PhoneNumbersForm, RegisterForm, StepForm
from helpers.steps import Step
from notebook_fixtures import CUSTOMERS

EXAMPLE = str(CUSTOMERS / "example.yaml")
CLOSED_PORT_URL = "http://127.0.0.1:9"


def interactive_step(name, **params):
    return Step.start(name, {"interactive": True, **params}, show=False)


def message(form, name):
    return form.messages[name].value


def test_every_step_has_a_form_prefilled_from_its_parameters():
    for name in steps.STEPS:
        step = interactive_step(name, profile=EXAMPLE, graph_url=CLOSED_PORT_URL)
        form = forms.for_step(step)
        assert isinstance(form, StepForm) and "playbook-form" in form._dom_classes
        for field_name, widget in form.inputs.items():
            spec = form.fields[field_name]
            assert spec.css in widget._dom_classes
            if spec.kind in ("id", "phone") and step.params.get(field_name):
                assert widget.value == step.params[field_name]
    form = forms.for_step(interactive_step("06_phone_numbers", profile=EXAMPLE, graph_url=CLOSED_PORT_URL))
    assert isinstance(form, PhoneNumbersForm)
    assert form.inputs["waba_id"].value == "200000000000001"
    assert form.inputs["display_phone_number"].value == "+1 555-010-0001"


def test_stable_css_classes_for_browser_tests():
    form = RegisterForm(interactive_step("08_register", graph_url=CLOSED_PORT_URL))
    assert "playbook-form-08-register" in form._dom_classes
    assert "playbook-pin" in form.inputs["pin_env"]._dom_classes
    assert "playbook-token" in form.inputs["token_env"]._dom_classes
    assert "playbook-phone-number-id" in form.inputs["phone_number_id"]._dom_classes
    assert "playbook-verification-code" in form.inputs["verification_code"]._dom_classes
    assert "playbook-run" in form.run_button._dom_classes
    assert "playbook-output" in form.output._dom_classes
    assert "playbook-summary" in form.summary._dom_classes
    assert all("playbook-validation" in label._dom_classes for label in form.messages.values())
    assert isinstance(form.inputs["pin_env"], widgets.Password)


def test_ids_are_validated_as_the_user_types():
    form = forms.for_step(interactive_step("06_phone_numbers", graph_url=CLOSED_PORT_URL))
    waba = form.inputs["waba_id"]
    assert "required" in message(form, "waba_id")
    waba.value = "20000000000000x"
    assert "digits only" in message(form, "waba_id") and "playbook-invalid" in waba._dom_classes
    waba.value = "200000000000001"
    assert message(form, "waba_id") == "" and "playbook-invalid" not in waba._dom_classes
    form.inputs["display_phone_number"].value = "call me maybe"
    assert "country code" in message(form, "display_phone_number")


def test_a_typed_pin_moves_into_the_environment_and_the_field_clears(monkeypatch):
    monkeypatch.setenv("FORM_TEST_PIN", "000000")
    form = RegisterForm(interactive_step("08_register", graph_url=CLOSED_PORT_URL, pin_env="FORM_TEST_PIN"))
    pin = form.inputs["pin_env"]
    pin.value = "482913"
    assert os.environ["FORM_TEST_PIN"] == "482913"
    assert pin.value == ""
    assert "stored in $FORM_TEST_PIN" in message(form, "pin_env") and "482913" not in message(form, "pin_env")


def test_a_malformed_pin_is_refused_cleared_and_not_echoed(monkeypatch):
    monkeypatch.setenv("FORM_TEST_PIN", "000000")
    form = RegisterForm(interactive_step("08_register", graph_url=CLOSED_PORT_URL, pin_env="FORM_TEST_PIN"))
    form.inputs["pin_env"].value = "12a45"
    assert os.environ["FORM_TEST_PIN"] == "000000"
    assert form.inputs["pin_env"].value == ""
    assert "6 digits" in message(form, "pin_env") and "12a45" not in message(form, "pin_env")


def test_a_typed_token_goes_to_the_variable_the_step_names(monkeypatch):
    monkeypatch.setenv("FORM_TEST_TOKEN", "")  # so that the value the code under test sets is undone too
    monkeypatch.delenv("FORM_TEST_TOKEN")
    form = forms.for_step(interactive_step("05_subscribe_waba", graph_url=CLOSED_PORT_URL, token_env="FORM_TEST_TOKEN"))
    form.inputs["token_env"].value = "EAAG-typed-into-the-form"
    assert os.environ["FORM_TEST_TOKEN"] == "EAAG-typed-into-the-form" and form.inputs["token_env"].value == ""


def test_run_with_invalid_fields_does_not_call_the_action():
    calls = []
    step = interactive_step("05_subscribe_waba", graph_url=CLOSED_PORT_URL)
    form = StepForm(step, [Field("waba_id", "WABA ID", "id", required=True)], calls.append)
    form.inputs["waba_id"].value = "abc"
    form.run_button.click()
    assert calls == [] and "Fix the fields" in form.summary.value


def test_run_copies_the_fields_into_the_step_and_shows_the_result():
    seen = {}

    def action(step):
        seen.update(step.params)
        return {"ok": True, "verdict": "all good", "table": pd.DataFrame({"a": [1]})}

    step = interactive_step("05_subscribe_waba", graph_url=CLOSED_PORT_URL)
    form = StepForm(step, [Field("waba_id", "WABA ID", "id", required=True)], action)
    form.inputs["waba_id"].value = " 200000000000001 "
    form.run_button.click()
    assert seen["waba_id"] == "200000000000001" and step.params["waba_id"] == "200000000000001"
    assert form.result["verdict"] == "all good" and "all good" in form.summary.value


def test_a_failing_action_is_shown_not_raised():
    def action(step):
        raise RuntimeError("boom")

    form = StepForm(interactive_step("02_terms"), [], action)
    form.run_button.click()
    assert isinstance(form.error, RuntimeError) and "Failed" in form.summary.value


def test_phone_numbers_form_lists_every_number_and_picks_one(sb):
    step = interactive_step("06_phone_numbers", graph_url=sb.url)
    form = PhoneNumbersForm(step)
    form.inputs["waba_id"].value = "200000000000001"
    form.inputs["display_phone_number"].value = "+1 555-010-0001"
    form.run_button.click()
    assert form.error is None, form.error
    assert len(form.result["numbers"]) >= 7
    assert form.picker.value == "400000000000001" and len(form.picker.options) == len(form.result["numbers"])
    form.picker.value = "400000000000002"
    assert step.record["outputs"]["phone_number_id"] == "400000000000002"
    assert form.inputs["phone_number_id"].value == "400000000000002"


def test_register_form_with_a_wrong_pin_shows_133005(sb, monkeypatch):
    monkeypatch.setenv("FORM_TEST_PIN", "000000")
    step = interactive_step("08_register", graph_url=sb.url, pin_env="FORM_TEST_PIN")
    form = RegisterForm(step)
    form.inputs["phone_number_id"].value = "400000000000001"
    form.inputs["pin_env"].value = "111111"
    form.run_button.click()
    assert form.error is not None and form.error.code == 133005
    assert step.record["error"]["code"] == 133005 and "PIN" in step.record["error"]["remedy"]
    form.inputs["pin_env"].value = sb.demo_env()["WHATSAPP_PIN"]
    form.run_button.click()
    assert form.error is None and form.result["ok"], "the right PIN registers, and the earlier failure is forgotten"
    assert step.record["status"] == "running" and step.finish(True, "ok")["status"] == "passed"


def test_register_form_hands_over_the_sms_code_once(sb):
    step = interactive_step("08_register", graph_url=sb.url, phone_number_id="400000000000002")
    form = RegisterForm(step)
    steps_request = steps.ops.request_code(step.client, "400000000000002")
    assert steps_request["success"] is True
    form.inputs["verification_code"].value = sb.control.verification_code("400000000000002")
    form.run_button.click()
    assert form.error is None and form.result["ok"]
    assert form.inputs["verification_code"].value == ""
    assert step.record["facts"]["verified_now"] is True


# ---- one result per action ---------------------------------------------------------------------------
def area_text(step) -> str:
    """Everything the step's result area holds (its outputs' HTML and Markdown)."""
    return "\n".join(str(v) for output in step.result_area.outputs for v in output.get("data", {}).values())


def test_run_redraws_the_one_result_area_the_cell_showed():
    peaks = []

    def action(step):
        peaks.append(step.params["expected_peak_mps"])
        return {"ok": True, "verdict": f"peak {step.params['expected_peak_mps']:g} mps",
                "throughput": pd.DataFrame({"peak": [step.params["expected_peak_mps"]]})}

    step = interactive_step("00_plan", graph_url=CLOSED_PORT_URL, expected_peak_mps=40.0)
    form = StepForm(step, [forms.Field("expected_peak_mps", "Peak", "number")], action)
    assert form.output is step.result_area and "playbook-output" in step.result_area._dom_classes
    assert step.run(action)["verdict"] == "peak 40 mps"  # the action cell
    assert "peak 40 mps" in area_text(step) and "peak 40 mps" in form.summary.value  # the form follows the cell
    form.inputs["expected_peak_mps"].value = 500.0
    form.run_button.click()
    text = area_text(step)
    # (not a bare "40": the Styler's random table id and object addresses may hold those digits)
    assert "peak 500 mps" in text and "peak 40 mps" not in text and not re.search(r">\s*40\s*<", text), \
        "the form's Run replaced the cell's result, in the same area"
    assert form.output not in form.children, "the cell shows the area: the form does not show it a second time"
    assert peaks == [40.0, 500.0]
    assert step.finish()["facts"]["verdict"] == "peak 500 mps", "the verdict comes from the last run"


def test_the_form_shows_the_area_itself_when_no_cell_has():
    step = interactive_step("02_terms")
    form = StepForm(step, [], lambda step: {"ok": True, "verdict": "fine"})
    form.run_button.click()
    assert form.output in form.children and "fine" in area_text(step)


def test_a_failure_shows_the_error_block_once_and_the_summary_names_it():
    from helpers.errors import GraphAPIError, StepFailed

    def failing(step):
        with step.action("read the WABA"):
            raise GraphAPIError(message="(#100) Unsupported get request", code=100, subcode=33, fbtrace_id="TRACE1",
                                http_status=400)

    step = interactive_step("01_assets", graph_url=CLOSED_PORT_URL)
    form = StepForm(step, [], failing)
    assert step.run(failing) is None, "in JupyterLab the action cell does not raise: the verdict cell says it failed"
    text = area_text(step)
    assert "read the WABA failed" in text and "what to do" in text and "TRACE1" in text and "None" not in text
    assert form.summary.value.count("Failed: (#100/33) ") == 1 and "GraphAPIError" not in form.summary.value
    try:
        step.finish()
    except StepFailed as exc:
        assert getattr(exc, "_playbook_earlier", False)
    else:
        raise AssertionError("finish() after a failed action must fail the step")
    assert step.record["status"] == "failed" and step.record["error"]["code"] == 100


def test_headless_a_failure_still_raises_in_the_action_cell():
    from helpers.errors import ConfigError

    def failing(step):
        with step.action("check"):
            raise ConfigError("waba_id is empty")

    step = Step.start("02_terms", {"interactive": False}, show=False)
    try:
        step.run(failing)
    except ConfigError:
        pass
    else:
        raise AssertionError("headless, the cell must fail so that papermill marks the step failed")
    assert step.record["status"] == "failed"


def test_register_form_with_a_wrong_pin_names_code_and_title(sb, monkeypatch):
    monkeypatch.setenv("FORM_TEST_PIN", "000000")
    step = interactive_step("08_register", graph_url=sb.url, pin_env="FORM_TEST_PIN", phone_number_id="400000000000001")
    form = RegisterForm(step)
    assert "133008" in form.notes.children[0].value, "the lock is said before any attempt"
    assert form.reset_pin.layout.display == "none"
    form.inputs["pin_env"].value = "111111"
    form.run_button.click()
    assert "Failed: (#133005) Two step verification PIN Mismatch" in form.summary.value
    assert "See below" not in form.summary.value and "GraphAPIError" not in form.summary.value
    assert form.reset_pin.layout.display == "flex", "after a 133005 the form offers Set a new PIN"
    assert "Set a new PIN" in area_text(step)


def test_set_a_new_pin_then_register(sb, monkeypatch):
    scenario = sb.control.load_scenario("wrong_pin")  # the number's PIN is no longer the demo one
    monkeypatch.setenv("FORM_TEST_PIN", sb.demo_env()["WHATSAPP_PIN"])
    step = interactive_step("08_register", graph_url=sb.url, pin_env="FORM_TEST_PIN")
    form = RegisterForm(step)
    form.inputs["phone_number_id"].value = scenario.get("phone_number_id") or "400000000000001"
    form.run_button.click()
    assert form.error is not None and form.error.code == 133005
    assert form.set_new_pin() is None and "first" in form.new_pin_message.value, "no PIN typed yet: no call"
    form.new_pin.value = "12345"
    assert "6 digits" in form.new_pin_message.value and os.environ["FORM_TEST_PIN"] != "12345"
    form.new_pin.value = "246802"
    assert form.new_pin.value == "" and os.environ["FORM_TEST_PIN"] == "246802"
    form.set_pin_button.click()
    assert form.error is None, form.error
    assert form.result["ok"] and "registered" in form.summary.value
    assert step.record["facts"]["pin_reset"] is True and step.record["status"] == "running"
    assert "246802" not in step.record_json()
    number = steps.ops.get_phone_number(step.client, step.params["phone_number_id"], fields=["status"])
    assert number["status"] == "CONNECTED"
    assert step.finish()["status"] == "passed"


# ---- the app: a page never acts on its own ------------------------------------------------------------
def test_in_the_app_the_cell_makes_no_call_and_run_replaces_the_hint(monkeypatch):
    monkeypatch.setenv(steps.APP_MODE_ENV, "voila")
    calls = []

    def register(step):
        calls.append(step.name)
        return {"ok": True, "verdict": "registered"}

    step = interactive_step("08_register", graph_url=CLOSED_PORT_URL)
    assert step.acts_on_open is False
    form = StepForm(step, [], register)
    assert step.run(register) is None and calls == []
    assert "Press Run in the form above to register the number." in area_text(step)
    assert step.finish() is None and step.record["status"] == "running", "nothing to judge before Run"
    form.run_button.click()
    assert calls == ["08_register"] and "registered" in area_text(step) and "Press Run" not in area_text(step)
    monkeypatch.delenv(steps.APP_MODE_ENV)
    assert interactive_step("08_register", graph_url=CLOSED_PORT_URL).acts_on_open is True


# ---- 04: what Meta cannot reach ----------------------------------------------------------------------
def test_callback_warnings_when_the_target_is_meta():
    step = interactive_step("04_webhooks", graph_url="https://graph.facebook.com")
    assert step.talks_to_meta
    warn = lambda url: steps.callback_warnings(url, to_meta=step.talks_to_meta)  # noqa: E731
    assert len(warn("http://127.0.0.1:8080/webhook")) == 2
    assert "HTTPS with a valid certificate" in warn("http://hooks.example.com/w")[0]
    for unreachable in ("https://localhost/w", "https://10.1.2.3/w", "https://192.168.0.9/w", "https://[::1]/w",
                        "https://printer.local/w", "https://172.16.0.1/w"):
        assert len(warn(unreachable)) == 1, unreachable
    assert warn("https://hooks.example.com/webhook") == []
    form = forms.for_step(step)
    form.inputs["callback_url"].value = "http://hooks.example.com/w"
    assert "HTTPS" in message(form, "callback_url") and "playbook-invalid" not in form.inputs["callback_url"]._dom_classes


def test_no_callback_warning_against_the_sandbox(sb):
    step = interactive_step("04_webhooks", graph_url=sb.url)
    assert not step.talks_to_meta
    assert steps.callback_warnings("http://127.0.0.1:8080/webhook", to_meta=step.talks_to_meta) == []


def test_invalid_fields_get_the_red_border_css():
    form = forms.for_step(interactive_step("06_phone_numbers", graph_url=CLOSED_PORT_URL))
    assert ".playbook-invalid input" in form.css.value and "border" in form.css.value
    assert form.children[0] is form.css
