"""The step forms, headless: set `.value`, call `.click()`, read the messages, the environment and the Output."""
from __future__ import annotations

import os

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
