"""The step glue (helpers.steps): parameters, validation before any call, actions, records, and each
step's logic against the sandbox (no kernels here; test_notebooks runs the notebooks themselves)."""
from __future__ import annotations

import json
import os

import pytest

from helpers import ConfigError, GraphAPIError, steps
from helpers.processes import pid_alive
from helpers.remedies import remedy_text
from helpers.steps import Step
from helpers.webhooks import WebhookReceiver
from fakes import FAKE_TOKEN
from notebook_fixtures import CUSTOMERS, find_secrets, secret_values

EXAMPLE = str(CUSTOMERS / "example.yaml")
BLUEFIN = str(CUSTOMERS / "bluefin.yaml")
CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens: any network call would fail with NetworkError


def start(name, tmp_path=None, **params):
    params.setdefault("interactive", False)
    if tmp_path is not None:
        params.setdefault("run_dir", str(tmp_path))
    return Step.start(name, params, show=False)


def read_record(tmp_path, name):
    return json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))


# ---- parameters ------------------------------------------------------------------------------------
def test_profile_fills_parameters_left_at_their_defaults(sb, tmp_path):
    step = start("06_phone_numbers", tmp_path, profile=BLUEFIN, graph_url=sb.url)
    assert step.customer == "bluefin"
    assert step.params["waba_id"] == "200000000000002"
    assert step.params["token_env"] == "BLUEFIN_TOKEN"  # the default WHATSAPP_TOKEN gives way to the profile
    assert step.sources["token_env"] == "profile" and step.sources["graph_url"] == "given"


def test_given_parameters_win_over_the_profile(sb, tmp_path):
    step = start("06_phone_numbers", tmp_path, profile=EXAMPLE, graph_url=sb.url, waba_id="200000000000003",
                 display_phone_number="+1 555-010-0008")
    assert step.params["waba_id"] == "200000000000003" and step.sources["waba_id"] == "given"


def test_earlier_records_in_run_dir_fill_ids(sb, tmp_path):
    (tmp_path / "06_phone_numbers.json").write_text(json.dumps(
        {"step": "06_phone_numbers", "status": "passed", "outputs": {"phone_number_id": "400000000000001"}}))
    (tmp_path / "09_receive_message.json").write_text(json.dumps(
        {"step": "09_receive_message", "status": "passed", "outputs": {"phone_number_id": "400000000000099"}}))
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    assert step.params["phone_number_id"] == "400000000000001"  # a later step's record is not "earlier"
    assert step.sources["phone_number_id"] == "earlier step"


def test_playbook_env_vars_name_the_profile_and_the_graph_url(sb, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_PROFILE", EXAMPLE)
    monkeypatch.setenv("PLAYBOOK_GRAPH_URL", sb.url)
    step = start("05_subscribe_waba", tmp_path)
    assert step.customer == "example" and step.params["graph_url"] == sb.url


@pytest.mark.parametrize("bad, fragment", [
    ({"waba_id": "20000000000000X"}, "waba_id must be digits"),
    ({"display_phone_number": "call me"}, "display_phone_number"),
    ({"api_version": "25"}, "api_version"),
    ({"token_env": "my token"}, "token_env"),
    ({"data_localization_region": "Germany"}, "2-letter"),
    ({"onboarding": "maybe"}, "onboarding"),
    ({"wait_seconds": -1}, "wait_seconds"),
])
def test_bad_input_is_refused_before_any_network_call(tmp_path, bad, fragment):
    with pytest.raises(ConfigError, match=fragment):
        start("06_phone_numbers", tmp_path, graph_url=CLOSED_PORT_URL,
              **{"waba_id": "200000000000001", "display_phone_number": "+15550100001", **bad})
    record = read_record(tmp_path, "06_phone_numbers")
    assert record["status"] == "failed" and record["error"]["type"] == "ConfigError"


def test_headless_run_lists_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("NOBODY_SET_THIS", raising=False)
    with pytest.raises(ConfigError) as info:
        start("08_register", tmp_path, graph_url=CLOSED_PORT_URL, pin_env="NOBODY_SET_THIS")
    message = str(info.value)
    assert "phone_number_id or waba_id and display_phone_number" in message
    assert "NOBODY_SET_THIS" in message


def test_interactive_run_lets_the_form_fill_what_is_missing(tmp_path):
    step = start("08_register", tmp_path, graph_url=CLOSED_PORT_URL, interactive=True)
    assert step.record["status"] == "running" and step.missing()


def test_parameters_cell_compiles_and_matches_the_registry():
    for name in steps.STEPS:
        namespace: dict = {}
        exec(compile(steps.parameters_cell(name), name, "exec"), namespace)
        for param in steps.notebook_parameters(name):
            assert namespace[param.name] == param.default


# ---- actions and records ------------------------------------------------------------------------------
def test_a_graph_error_is_recorded_shown_and_reraised(sb, tmp_path):
    step = start("05_subscribe_waba", tmp_path, profile=EXAMPLE, graph_url=sb.url, waba_id="299999999999999")
    with pytest.raises(GraphAPIError):
        steps.subscribe_waba(step)
    record = read_record(tmp_path, "05_subscribe_waba")
    assert record["status"] == "failed"
    assert record["error"]["code"] == 100 and record["error"]["subcode"] == 33
    assert "assign the WABA" in record["error"]["remedy"]
    assert record["facts"]["failed_action"] == "read the WABA's subscribed apps"
    with pytest.raises(AssertionError, match="failed earlier"):
        step.finish(True, "")


def test_finish_writes_passed_and_refuses_a_failed_check(tmp_path):
    step = start("02_terms", tmp_path)
    step.output(phone_number_id="400000000000001")
    record = step.finish(True, "fine")
    assert record["status"] == "passed" and read_record(tmp_path, "02_terms")["outputs"] == {
        "phone_number_id": "400000000000001"}
    step = start("02_terms", tmp_path)
    with pytest.raises(AssertionError, match="not good"):
        step.finish(False, "not good")
    error = read_record(tmp_path, "02_terms")["error"]
    assert {k: error[k] for k in ("type", "message", "action")} == {"type": "StepCheckFailed", "message": "not good",
                                                                     "action": "final check"}
    assert error["remedy"] == remedy_text("StepCheckFailed", where="shell")


def test_record_never_holds_a_secret_value(sb, tmp_path):
    step = start("02_terms", tmp_path, profile=EXAMPLE)
    token = os.environ["WHATSAPP_TOKEN"]
    step.fact(oops=f"the token was {token}", pin=os.environ["WHATSAPP_PIN"])
    step.finish(True, "")
    text = (tmp_path / "02_terms.json").read_text()
    assert not find_secrets(text, secret_values(sb.demo_env()))
    facts = json.loads(text)["facts"]
    assert facts["oops"] == "the token was ***" and facts["pin"] == "***"


def test_redaction_keeps_ids_that_contain_the_pins_digits(tmp_path, monkeypatch):
    from helpers.secrets_scan import contains
    pin = "000001"  # its digits occur inside every example ID (400000000000001, ...)
    monkeypatch.setenv("WHATSAPP_PIN", pin)
    monkeypatch.setenv("WHATSAPP_TOKEN", FAKE_TOKEN)  # 06 and 08 need a token set; no call is made
    step = start("06_phone_numbers", tmp_path, profile=EXAMPLE)
    step.output(phone_number_id="400000000000001")
    step.fact(waba="200000000000001", pin_typed=pin, note=f"PIN {pin} was typed", ids=[100000000000001])
    step.finish(True, "")
    text = (tmp_path / "06_phone_numbers.json").read_text()
    record = json.loads(text)
    assert record["outputs"] == {"phone_number_id": "400000000000001"}
    assert record["facts"]["waba"] == "200000000000001" and record["facts"]["ids"] == [100000000000001]
    assert record["facts"]["pin_typed"] == "***" and record["facts"]["note"] == "PIN *** was typed"
    assert not contains(text.encode(), pin)  # the scanner, same rule, finds nothing left
    # The next step takes the ID from the record and its validation accepts it.
    nxt = start("08_register", tmp_path, profile=EXAMPLE)
    assert nxt.params["phone_number_id"] == "400000000000001"


# ---- the steps against the sandbox ------------------------------------------------------------------------
def test_plan_for_a_new_customer(tmp_path):
    step = start("00_plan", tmp_path, profile=BLUEFIN)
    result = steps.plan(step)
    step.finish(result["ok"], result["verdict"])
    facts = read_record(tmp_path, "00_plan")["facts"]
    assert facts["expected_peak_mps"] == 120 and facts["verdicts"]["throughput"] == "go"
    assert "1,000" in result["throughput"].to_string() or 1000 in result["throughput"]["messages_per_second"].tolist()
    assert result["steps"].set_index("notebook").loc["07_migration", "this_customer"].startswith("skip")


def test_token_check_and_expired_token(sb, tmp_path):
    step = start("03_access_token", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    result = steps.access_token(step)
    assert result["ok"] and step.record["facts"]["type"] == "SYSTEM_USER"
    assert set(result["versions"]["version"]) == {"v25.0", "v19.0"}
    assert result["versions"].set_index("version").loc["v19.0", "status"] == "expired"
    step = start("03_access_token", tmp_path, profile=EXAMPLE, graph_url=sb.url, token_env="WHATSAPP_EXPIRED_TOKEN")
    result = steps.access_token(step)
    assert not result["ok"] and "NOT usable" in result["verdict"]


def test_embedded_signup_code_exchange_keeps_the_token_out_of_sight(sb, tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNUP_TOKEN", "")  # so that the value the code under test sets is undone too
    monkeypatch.delenv("SIGNUP_TOKEN")
    code = sb.control.signup_code("200000000000001", "300000000000001")
    step = start("03_access_token", tmp_path, profile=EXAMPLE, graph_url=sb.url, token_env="SIGNUP_TOKEN",
                 signup_code=code)
    result = steps.access_token(step)
    assert os.environ["SIGNUP_TOKEN"] and step.record["facts"]["signup_code_exchanged"] is True
    assert result["report"]["is_valid"]
    step.finish(result["ok"], result["verdict"])
    assert os.environ["SIGNUP_TOKEN"] not in (tmp_path / "03_access_token.json").read_text()


def test_webhooks_with_a_given_callback_then_subscribe_is_idempotent(sb, tmp_path):
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        step = start("04_webhooks", tmp_path, profile=EXAMPLE, graph_url=sb.url, callback_url=receiver.callback_url,
                     webhook_db=str(tmp_path / "hooks.sqlite"))
        result = steps.webhooks(step)
        assert result["ok"], result["verdict"]
        assert step.record["outputs"]["callback_url"] == receiver.callback_url
        assert step.record["facts"]["local_receiver"] is False
        first = steps.subscribe_waba(start("05_subscribe_waba", tmp_path, profile=EXAMPLE, graph_url=sb.url))
        second = steps.subscribe_waba(start("05_subscribe_waba", tmp_path, profile=EXAMPLE, graph_url=sb.url))
        assert first["ok"] and not first["already"] and second["ok"] and second["already"]


def test_webhooks_against_meta_needs_a_callback_url(tmp_path):
    step = start("04_webhooks", tmp_path, profile=EXAMPLE)  # graph.facebook.com: never contacted
    with pytest.raises(ConfigError, match="callback_url is empty"):
        steps.webhooks(step)


def test_local_receiver_is_reused_and_stopped(sb, tmp_path):
    db = tmp_path / "local.sqlite"
    first = steps.ensure_local_receiver(db, verify_token_env="WHATSAPP_VERIFY_TOKEN", app_secret_env="WHATSAPP_APP_SECRET")
    try:
        again = steps.ensure_local_receiver(db, verify_token_env="WHATSAPP_VERIFY_TOKEN",
                                            app_secret_env="WHATSAPP_APP_SECRET")
        assert again["reused"] and again["callback_url"] == first["callback_url"]
    finally:
        assert steps.stop_local_receiver(db)
    assert not pid_alive(first["pid"])


def test_phone_numbers_picks_by_display_number(sb, tmp_path):
    step = start("06_phone_numbers", tmp_path, profile=EXAMPLE, graph_url=sb.url, display_phone_number="+15550100004")
    result = steps.phone_numbers(step)
    assert step.record["outputs"]["phone_number_id"] == "400000000000004"
    assert "07_migration" in step.record["facts"]["next_step"]
    assert len(result["numbers"]) >= 7 and result["numbers"]["ready_to_register"].dtype == bool


def test_register_verifies_first_when_needed_then_is_idempotent(sb, tmp_path):
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, phone_number_id="400000000000002")
    result = steps.register(step)
    assert result["ok"] and step.record["facts"]["verified_now"] is True
    assert step.record["facts"]["before"]["code_verification_status"] == "NOT_VERIFIED"
    again = steps.register(start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url,
                                 phone_number_id="400000000000002"))
    assert again["ok"] and again["already"]


def test_register_with_a_wrong_pin_records_133005(sb, tmp_path, monkeypatch):
    monkeypatch.setenv("WRONG_PIN", "111111")
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, pin_env="WRONG_PIN")
    with pytest.raises(GraphAPIError) as info:
        steps.register(step)
    assert info.value.code == 133005
    record = read_record(tmp_path, "08_register")
    assert record["error"]["code"] == 133005 and "reset it" in record["error"]["remedy"]


def test_the_record_lists_the_graph_calls_of_each_attempt_and_shows_them(sb, tmp_path, monkeypatch):
    from helpers.steps.views import graph_calls_html
    monkeypatch.setenv("WRONG_PIN", "111111")
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, pin_env="WRONG_PIN")
    with pytest.raises(GraphAPIError):
        steps.register(step)
    failed = read_record(tmp_path, "08_register")["graph_calls"]
    assert [(c["method"], c["path"], c["status"]) for c in failed] == [
        ("GET", "/v25.0/200000000000001/phone_numbers", 200), ("POST", "/v25.0/400000000000001/register", 400)]
    assert failed[1]["error_code"] == 133005 and failed[1]["fbtrace_id"]
    assert '\\"pin\\": \\"$WRONG_PIN\\"' in failed[1]["curl"] and "111111" not in json.dumps(failed)
    # The form's retry with the right PIN: the record keeps both attempts' calls, in order.
    step.retry()
    step.update(pin_env="WHATSAPP_PIN")
    result = steps.register(step)
    step.finish(result["ok"], result["verdict"])
    calls = read_record(tmp_path, "08_register")["graph_calls"]
    assert calls[:2] == failed and [c["status"] for c in calls[2:]] == [200, 200, 200]
    assert calls[3]["path"].endswith("/register") and "$WHATSAPP_PIN" in calls[3]["curl"]
    shown = graph_calls_html(calls)
    assert "5 Graph calls" in shown and "<details" in shown and failed[1]["fbtrace_id"] in shown
    assert not find_secrets(shown + json.dumps(calls), secret_values(sb.demo_env()))


def test_terms_not_accepted_is_recognised_in_the_register_error(sb, tmp_path):
    sb.control.accept_terms("100000000000001", False)
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    with pytest.raises(GraphAPIError):
        steps.register(step)
    record = read_record(tmp_path, "08_register")
    assert record["error"]["remedy"] == steps.TERMS_REMEDY
    assert record["facts"]["terms_of_service_not_accepted"] is True
    terms = steps.terms(start("02_terms", tmp_path, profile=EXAMPLE))
    assert terms["diagnosis"]["step"] == "08_register" and terms["diagnosis"]["code"] == 200


def test_migration_is_skipped_for_new_customers(tmp_path):
    step = start("07_migration", tmp_path, profile=EXAMPLE)
    result = steps.migration(step)
    assert result["skipped"] and result["ok"] and step.record["facts"]["skipped"] is True


def test_migration_with_a_wrong_backup_password_fails(sb, tmp_path, monkeypatch):
    monkeypatch.setenv("WRONG_BACKUP_PASSWORD", "not-the-password")
    step = start("07_migration", tmp_path, profile=EXAMPLE, graph_url=sb.url, onboarding="migrate",
                 phone_number_id="400000000000004", backup_data=sb.demo_env()["WHATSAPP_BACKUP_DATA"],
                 backup_password_env="WRONG_BACKUP_PASSWORD")
    with pytest.raises(GraphAPIError):
        steps.migration(step)
    assert read_record(tmp_path, "07_migration")["status"] == "failed"


def _onboarded(sb, tmp_path, receiver):
    """Webhook saved, WABA subscribed, number registered: what 09 and 10 need."""
    common = dict(profile=EXAMPLE, graph_url=sb.url, callback_url=receiver.callback_url,
                  webhook_db=str(receiver.db_path))
    assert steps.webhooks(start("04_webhooks", tmp_path, **common))["ok"]
    assert steps.subscribe_waba(start("05_subscribe_waba", tmp_path, **common))["ok"]
    assert steps.register(start("08_register", tmp_path, **common))["ok"]
    return common


def test_receive_then_send_a_text_inside_the_window(sb, tmp_path):
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        common = _onboarded(sb, tmp_path, receiver)
        step = start("09_receive_message", tmp_path, **common, phone_number_id="400000000000001")
        received = steps.receive_message(step)
        assert step.record["facts"]["text"] == "Hello!" and received["window_ends_at"]
        step = start("10_send_test_message", tmp_path, **common, phone_number_id="400000000000001")
        sent = steps.send_test_message(step)
        assert sent["kind"] == "text" and sent["ok"]
        assert list(sent["timeline"]["status"])[:2] == ["sent", "delivered"]


def test_outside_the_window_the_template_is_sent(sb, tmp_path):
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        common = _onboarded(sb, tmp_path, receiver)
        steps.receive_message(start("09_receive_message", tmp_path, **common))
        sb.control.advance_clock(25 * 3600)
        step = start("10_send_test_message", tmp_path, **common)
        sent = steps.send_test_message(step)
        assert sent["kind"] == "template" and sent["ok"] and step.record["facts"]["window_open"] is False


@pytest.mark.filterwarnings("ignore::helpers.validate.ApiVersionWarning")
def test_an_expired_api_version_fails_03_with_what_to_set(sb, tmp_path):
    step = start("03_access_token", tmp_path, profile=EXAMPLE, graph_url=sb.url, api_version="v19.0")
    result = steps.access_token(step)
    assert not result["ok"]
    assert result["verdict"] == "NOT usable: API version v19.0 has expired (the token itself is usable)"
    with pytest.raises(AssertionError):
        step.finish(result["ok"], result["verdict"])
    error = read_record(tmp_path, "03_access_token")["error"]
    assert error["remedy"].startswith("Set api_version to v25.0") and "-p api_version v25.0" in error["remedy"]


def test_an_expiring_version_is_one_clean_line_once():
    import subprocess
    import sys

    code = ("from helpers import validate\n"
            "validate.api_version('v19.0')\nvalidate.api_version('v19.0')\n"
            "def again():\n    validate.api_version('v19.0')\nagain()\n")
    result = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=60)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: v19.0 expired on "), result.stderr


def test_an_unset_secret_says_how_to_set_it_where_the_user_is(sb, tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_PIN_VAR", raising=False)
    headless = start("08_register", tmp_path, profile=EXAMPLE, pin_env="NO_SUCH_PIN_VAR",
                     phone_number_id="400000000000001", interactive=True, graph_url=sb.url)
    headless.params["interactive"] = False  # past the start-up check: the action itself meets the unset variable
    with pytest.raises(ConfigError):
        steps.register(headless)
    error = read_record(tmp_path, "08_register")["error"]
    assert "export NO_SUCH_PIN_VAR=..." in error["remedy"] and "form" not in error["remedy"]
    assert error["message"].startswith("Environment variable NO_SUCH_PIN_VAR is not set")
    assert "password field" not in error["message"]
    assert "helpers/" in error["traceback"], "the record keeps the whole traceback"
    # Headless, the missing variable is found before the step starts: the same advice.
    with pytest.raises(ConfigError):
        start("08_register", tmp_path / "headless", profile=EXAMPLE, pin_env="NO_SUCH_PIN_VAR",
              phone_number_id="400000000000001", graph_url=sb.url)
    assert "export NO_SUCH_PIN_VAR=..." in read_record(tmp_path / "headless", "08_register")["error"]["remedy"]
    lab = start("08_register", tmp_path / "lab", profile=EXAMPLE, pin_env="NO_SUCH_PIN_VAR",
                phone_number_id="400000000000001", interactive=True, graph_url=sb.url)
    with pytest.raises(ConfigError):
        steps.register(lab)
    assert "form's password field for NO_SUCH_PIN_VAR" in read_record(tmp_path / "lab", "08_register")["error"]["remedy"]


def test_in_ipython_a_failing_step_shows_the_block_not_a_traceback(tmp_path, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.user_ns.update(run_dir=str(tmp_path))
        shown: list[list[str]] = []
        shell._showtraceback = lambda etype, value, stb: shown.append(stb)
        result = shell.run_cell("from helpers.steps import Step\n"
                                "step = Step.start('06_phone_numbers', {'interactive': False, 'run_dir': run_dir},"
                                " show=False)")
        assert result.error_in_exec is not None, "the cell still fails"
        block = shown[-1]
        assert block[0] == "06_phone_numbers failed at: check the parameters"
        assert block[1].startswith("  why:         06_phone_numbers cannot run: waba_id is empty")
        assert block[2].startswith("  what to do:  Fix the value named above in the customer profile")
        assert block[-1].startswith("06_phone_numbers failed: 06_phone_numbers cannot run: waba_id is empty")
        assert not any("helpers/" in line or "Traceback" in line for line in block)
    finally:
        InteractiveShell.clear_instance()


def test_in_ipython_an_error_outside_any_action_is_recorded_and_a_later_one_not_confused(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.user_ns.update(run_dir=str(tmp_path))
        shown: list[list[str]] = []
        shell._showtraceback = lambda etype, value, stb: shown.append(stb)
        shell.run_cell("from helpers.steps import Step\n"
                       "step = Step.start('06_phone_numbers', {'interactive': True, 'run_dir': run_dir}, show=False)")
        result = shell.run_cell("step.require('waba_id')")
        assert result.error_in_exec is not None
        assert shown[-1][1].startswith("  why:         waba_id is empty")
        assert read_record(tmp_path, "06_phone_numbers")["error"]["message"].startswith("waba_id is empty")
        # Another playbook error in a later cell shows itself, not the step's recorded failure.
        shell.run_cell("from helpers import validate\nvalidate.pin('12345')")
        assert "waba_id" not in "\n".join(shown[-1]) and "PIN" in shown[-1][1].upper()
    finally:
        InteractiveShell.clear_instance()
