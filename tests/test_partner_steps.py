"""The Solution Partner's steps (07a system user, 07b credit line, 11 business profile, 12 templates,
13 go-live, and 08 with a coexistence number): their operations over the wire against the sandbox,
each notebook headless under papermill (passing, already done, and a failure with its remedy), their
forms used headless, and a batch with them: one customer without a credit line, and the resume of a
batch folder written before these steps existed."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import operations as ops, steps
from helpers.processes import temporary_environ
from helpers.client import GraphClient
from helpers.errors import ConfigError, GraphAPIError
from helpers.forms import for_step
from helpers.remedies import lookup as lookup_remedy, template_rejection
from helpers.runner import run_batch
from helpers.sandbox import Sandbox
from helpers.sandbox.peer import peer_env
from helpers.sandbox.seed import DEFAULT_SEED
from notebook_fixtures import CUSTOMERS, ensure_venv_kernel, execute_step, resumed_records, run_steps
from sandbox_fixtures import DEMO_PHONE, EXAMPLE_BUSINESS, EXAMPLE_WABA

CORAL = str(CUSTOMERS / "coral.yaml")
CORAL_WABA, CORAL_PHONE, CORAL_LIVE_PHONE, COEXISTENCE_PHONE = (
    "200000000000004", "400000000000021", "400000000000022", "400000000000023")
CREDIT_LINE, PARTNER_USER = "610000000000001", "500000000000001"
CORAL_BUSINESS = "100000000000004"
GRANULAR = ["MANAGE_TEMPLATES", "MANAGE_PHONE", "MANAGE_BILLING"]


@pytest.fixture(scope="module", autouse=True)
def kernel():
    ensure_venv_kernel()


def client(sandbox, token_env: str = "WHATSAPP_TOKEN") -> GraphClient:
    return GraphClient(graph_url=sandbox.url, token_env=token_env, max_retries=0, sleep=lambda s: None)


def coral(sandbox, **more):
    return {"profile": CORAL, "graph_url": sandbox.url, **more}


def seed_with(tmp_path: Path, change) -> Path:
    """The default seed with `change(seed)` applied, written to tmp_path."""
    seed = yaml.safe_load(Path(DEFAULT_SEED).read_text(encoding="utf-8"))
    change(seed)
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed, sort_keys=False), encoding="utf-8")
    return path


def coral_waba(seed: dict) -> dict:
    return next(w for b in seed["businesses"] for w in b.get("wabas") or [] if w["id"] == CORAL_WABA)


def no_credit_lines(seed: dict) -> None:
    for business in seed["businesses"]:
        business.pop("extended_credits", None)
        for waba in business.get("wabas") or []:  # clients seeded with the partner's line attached lose it too
            if waba.pop("credit_line", None):
                waba["payment_method"] = "none"


# ---- the operations, over the wire -------------------------------------------------------------
def test_credit_line_operations(sb):
    partner = client(sb)
    assert [line["id"] for line in ops.list_credit_lines(partner, EXAMPLE_BUSINESS)] == [CREDIT_LINE]
    with pytest.raises(ConfigError, match="waba_currency must be one of"):
        ops.share_credit_line(partner, CREDIT_LINE, waba_id=CORAL_WABA, waba_currency="CHF")  # before any call
    answer = ops.share_credit_line(partner, CREDIT_LINE, waba_id=CORAL_WABA, waba_currency="eur")
    assert answer["waba_id"] == CORAL_WABA and answer["allocation_config_id"].isdigit()
    # Meta's model: the share creates a receiving credential, and the WABA is funded by it (not by the line's id).
    credential = ops.receiving_credential(partner, answer["allocation_config_id"])
    assert credential.isdigit() and credential != CREDIT_LINE
    assert ops.get_waba(partner, CORAL_WABA, fields=("primary_funding_id",))["primary_funding_id"] == credential
    shares = ops.credit_allocations(partner, CREDIT_LINE, receiving_business_id=CORAL_BUSINESS)
    assert [(s["id"], s["receiving_credential"]["id"]) for s in shares] == [(answer["allocation_config_id"], credential)]
    with pytest.raises(GraphAPIError) as refused:  # the credit line of another business
        ops.share_credit_line(client(sb, "BLUEFIN_TOKEN"), CREDIT_LINE, waba_id=CORAL_WABA, waba_currency="EUR")
    assert refused.value.code == 100


def test_assigned_user_operations(sb):
    partner = client(sb)
    before = ops.list_assigned_users(partner, CORAL_WABA, business_id=EXAMPLE_BUSINESS)
    assert PARTNER_USER not in [u["id"] for u in before]
    assert ops.assign_user(partner, CORAL_WABA, user_id=PARTNER_USER, tasks=["manage"]) == {"success": True}
    after = {u["id"]: u for u in ops.list_assigned_users(partner, CORAL_WABA, business_id=EXAMPLE_BUSINESS)}
    assert after[PARTNER_USER]["tasks"] == ["MANAGE"] and after[PARTNER_USER]["business"]["id"] == EXAMPLE_BUSINESS
    with pytest.raises(ConfigError):
        ops.assign_user(partner, CORAL_WABA, user_id=PARTNER_USER, tasks=[])


def test_business_profile_operations(sb):
    coral_client = client(sb, "CORAL_TOKEN")
    assert ops.get_business_profile(coral_client, CORAL_LIVE_PHONE)["vertical"] == "UNDEFINED"
    ops.set_business_profile(coral_client, CORAL_LIVE_PHONE, about="Dental care", websites=["https://coral.example"],
                             vertical="HEALTH", email="")
    profile = ops.get_business_profile(coral_client, CORAL_LIVE_PHONE)
    assert (profile["about"], profile["websites"], profile["vertical"]) == ("Dental care", ["https://coral.example"], "HEALTH")
    assert "email" not in profile  # an empty value is left out, not sent
    with pytest.raises(GraphAPIError) as refused:
        ops.set_business_profile(coral_client, CORAL_LIVE_PHONE, vertical="DENTIST")
    assert refused.value.code == 100
    with pytest.raises(ConfigError, match="not business profile fields"):
        ops.set_business_profile(coral_client, CORAL_LIVE_PHONE, photo="x")


def test_template_operations_and_the_review_on_the_sandbox_clock(sb):
    customer = client(sb)
    created = ops.create_message_template(customer, EXAMPLE_WABA, name="order_shipped", language="en_US",
                                          body="Order {{1}} ships on {{2}}.")
    assert created["status"] == "PENDING" and created["category"] == "UTILITY"
    (row,) = ops.list_message_templates(customer, EXAMPLE_WABA, name="order_shipped")
    assert row["status"] == "PENDING"
    sb.control.advance_clock(61)
    (row,) = ops.list_message_templates(customer, EXAMPLE_WABA, name="order_shipped")
    assert row["status"] == "APPROVED" and row["id"] == created["id"]
    assert {"hello_world", "order_shipped"} <= {t["name"] for t in ops.list_message_templates(customer, EXAMPLE_WABA)}


def test_health_status_operation(sb):
    health = ops.get_health_status(client(sb), DEMO_PHONE)
    assert health["can_send_message"] == "BLOCKED"
    (phone,) = [e for e in health["entities"] if e["entity_type"] == "PHONE_NUMBER"]
    assert phone["errors"][0]["error_code"] == 133010 and "register" in phone["errors"][0]["possible_solution"]
    assert [e["entity_type"] for e in health["entities"]] == ["PHONE_NUMBER", "WABA", "BUSINESS", "APP"]


# ---- 07a and 07b ---------------------------------------------------------------------------------
def test_07a_assigns_the_partner_system_user_then_finds_it_assigned(sb, tmp_path):
    record, output, error = execute_step("07a_system_user", tmp_path / "first", coral(sb))
    assert error is None and record["status"] == "passed", record.get("error")
    assert record["facts"]["already_assigned"] is False and record["facts"]["tasks"] == ["MANAGE"]
    assert record["outputs"]["system_user_id"] == PARTNER_USER  # the partner token's own user
    assert "assign system user 500000000000001 with MANAGE" in [a["action"] for a in record["facts"]["actions"]]
    again, _, error = execute_step("07a_system_user", tmp_path / "again", coral(sb))
    assert error is None and again["status"] == "passed" and again["facts"]["already_assigned"] is True
    assert all(not a["action"].startswith("assign") for a in again["facts"]["actions"])


def test_07a_refuses_an_unknown_system_user_with_the_remedy(sb, tmp_path):
    record, output, error = execute_step("07a_system_user", tmp_path, coral(sb, system_user_id="500000000000011"))
    assert error is not None and record["status"] == "failed"
    assert record["error"]["code"] == 100 and record["error"]["remedy"] == lookup_remedy(100).remedy
    assert record["facts"]["failed_action"].startswith("assign system user 500000000000011")


def test_07b_shares_and_attaches_then_finds_it_attached(sb, tmp_path):
    record, output, error = execute_step("07b_credit_line", tmp_path / "first", coral(sb))
    assert error is None and record["status"] == "passed", record.get("error")
    facts = record["facts"]
    assert (facts["skipped"], facts["already_attached"], facts["credit_line_id"], facts["currency"]) == (
        False, False, CREDIT_LINE, "EUR")
    assert facts["allocation_config_id"] and facts["primary_funding_id"] == facts["receiving_credential_id"] != CREDIT_LINE
    assert ops.receiving_credential(client(sb), facts["allocation_config_id"]) == facts["primary_funding_id"]
    assert record["outputs"]["credit_line_id"] == CREDIT_LINE
    again, _, error = execute_step("07b_credit_line", tmp_path / "again", coral(sb))
    assert error is None and again["facts"]["already_attached"] is True
    assert again["facts"]["allocation_config_id"] == facts["allocation_config_id"]  # found again, not created again


def test_07b_is_skipped_for_a_business_on_its_own_waba(sb, tmp_path):
    record, _, error = execute_step("07b_credit_line", tmp_path, {"profile": str(CUSTOMERS / "bluefin.yaml"),
                                                                  "graph_url": sb.url})
    assert error is None and record["status"] == "passed"
    assert record["facts"]["skipped"] is True and "own WABA" in record["facts"]["reason"]


def test_07b_refuses_a_wrong_currency_before_any_call(sb, tmp_path):
    record, _, error = execute_step("07b_credit_line", tmp_path, coral(sb, waba_currency="CHF"))
    assert error is not None and record["status"] == "failed"
    assert record["error"]["type"] == "ConfigError" and "USD, EUR, INR, IDR, GBP, AUD" in record["error"]["message"]
    assert record["facts"]["failed_action"] == "check the parameters" and "actions" not in record["facts"]


def test_07b_without_a_credit_line_on_the_partner_fails_with_what_to_do(tmp_path):
    seed = seed_with(tmp_path, no_credit_lines)
    with Sandbox(seed=seed) as sandbox, temporary_environ({**sandbox.demo_env(), **peer_env(sandbox.url)}):
        record, _, error = execute_step("07b_credit_line", tmp_path / "run", coral(sandbox))
    assert error is not None and record["status"] == "failed"
    assert record["facts"]["failed_action"] == "find the partner's credit line"
    assert "no extended credit line" in record["error"]["message"] and "131042" in record["error"]["message"]


def test_a_multi_partner_waba_needs_granular_tasks_and_manage_billing(tmp_path):
    seed = seed_with(tmp_path, lambda s: coral_waba(s).update(partner_tasks=GRANULAR))
    with Sandbox(seed=seed) as sandbox, temporary_environ({**sandbox.demo_env(), **peer_env(sandbox.url)}):
        partner = client(sandbox)
        with pytest.raises(GraphAPIError) as refused:  # billing before the partner's user has MANAGE_BILLING
            ops.share_credit_line(partner, CREDIT_LINE, waba_id=CORAL_WABA, waba_currency="EUR")
        assert refused.value.code == 200 and "MANAGE_BILLING" in refused.value.details
        record, _, error = execute_step("07a_system_user", tmp_path / "manage", coral(sandbox))
        assert error is not None and record["error"]["code"] == 200
        assert "Multi-Partner Solution" in record["error"]["remedy"] and "MANAGE_BILLING" in record["error"]["remedy"]
        record, _, error = execute_step("07a_system_user", tmp_path / "granular", coral(sandbox, assigned_tasks=GRANULAR))
        assert error is None and record["status"] == "passed" and record["facts"]["tasks"] == GRANULAR
        record, _, error = execute_step("07b_credit_line", tmp_path / "credit", coral(sandbox))
        assert error is None and record["status"] == "passed", record.get("error")


# ---- 08 with a coexistence number ----------------------------------------------------------------------
def test_08_never_registers_a_coexistence_number(sb, tmp_path):
    record, output, error = execute_step("08_register", tmp_path, coral(sb, phone_number_id=COEXISTENCE_PHONE))
    assert error is None and record["status"] == "passed", record.get("error")
    assert record["facts"]["coexistence"] is True and record["facts"]["register_skipped"] is True
    assert [a["action"] for a in record["facts"]["actions"]] == ["check the PIN", "read the number"]
    assert "WhatsApp Business app" in record["facts"]["verdict"] and "20 messages/s" in record["facts"]["verdict"]


# ---- 11 business profile -----------------------------------------------------------------------------
def test_11_sets_the_profile_then_finds_it_set(sb, tmp_path):
    record, output, error = execute_step("11_business_profile", tmp_path / "first", coral(sb, phone_number_id=CORAL_LIVE_PHONE))
    assert error is None and record["status"] == "passed", record.get("error")
    assert record["facts"]["set_fields"] == ["about", "address", "description", "email", "vertical", "websites"]
    assert record["facts"]["vertical"] == "HEALTH"
    again, _, error = execute_step("11_business_profile", tmp_path / "again", coral(sb, phone_number_id=CORAL_LIVE_PHONE))
    assert error is None and again["facts"]["already_set"] is True and again["facts"]["set_fields"] == []


def test_11_refuses_a_long_about_and_three_websites_before_any_call(sb, tmp_path):
    record, _, error = execute_step("11_business_profile", tmp_path / "about",
                                    coral(sb, phone_number_id=CORAL_LIVE_PHONE, business_about="x" * 140))
    assert error is not None and record["error"]["type"] == "ConfigError" and "at most 139" in record["error"]["message"]
    assert "Fix the value named above" in record["error"]["remedy"]
    sites = ["https://a.example", "https://b.example", "https://c.example"]
    record, _, error = execute_step("11_business_profile", tmp_path / "sites",
                                    coral(sb, phone_number_id=CORAL_LIVE_PHONE, business_websites=sites))
    assert error is not None and "at most 2" in record["error"]["message"] and "actions" not in record["facts"]


# ---- 12 templates -------------------------------------------------------------------------------------
def test_12_creates_the_first_template_and_waits_for_its_approval(sb, tmp_path):
    before = sb.control.now()
    record, output, error = execute_step("12_templates", tmp_path / "first", coral(sb))
    assert error is None and record["status"] == "passed", record.get("error")
    facts = record["facts"]
    assert (facts["first_template"], facts["template_status"], facts["created"]) == ("appointment_reminder", "APPROVED", True)
    assert facts["rerun_on_resume"] is False and facts["approved"] == 2
    assert 60 <= sb.control.now() - before < 120  # the sandbox clock moved past the review, not much further
    again, _, error = execute_step("12_templates", tmp_path / "again", coral(sb))
    assert error is None and again["facts"]["created"] is False and again["facts"]["template_status"] == "APPROVED"


def test_12_still_pending_after_the_wait_passes_and_asks_to_run_again(sb, tmp_path):
    record, _, error = execute_step("12_templates", tmp_path, coral(sb, template_wait_seconds=0))
    assert error is None and record["status"] == "passed"
    assert record["facts"]["template_status"] == "PENDING" and record["facts"]["rerun_on_resume"] is True
    assert "still in review" in record["facts"]["verdict"]


def test_12_a_rejected_template_fails_with_the_reason_and_what_to_change(sb, tmp_path):
    promotional = "Hallo {{1}}, 20% discount on your next check-up!"
    record, output, error = execute_step("12_templates", tmp_path, coral(sb, first_template_body=promotional))
    assert error is not None and record["status"] == "failed"
    assert record["error"]["type"] == "TemplateRejected" and record["error"]["rejected_reason"] == "INCORRECT_CATEGORY"
    assert template_rejection("INCORRECT_CATEGORY") in record["error"]["remedy"]
    assert "INCORRECT_CATEGORY" in output.read_text(encoding="utf-8")


def test_template_rejected_scenario_rejects_every_new_template(sb, tmp_path):
    sb.control.load_scenario("template_rejected")
    record, _, error = execute_step("12_templates", tmp_path, {"profile": str(CUSTOMERS / "example.yaml"),
                                                               "graph_url": sb.url})
    assert error is not None and record["error"]["rejected_reason"] == "INVALID_FORMAT"


# ---- 13 go-live -----------------------------------------------------------------------------------------
def test_13_blocked_fails_with_metas_possible_solution(sb, tmp_path):
    record, output, error = execute_step("13_go_live", tmp_path, coral(sb, phone_number_id=CORAL_PHONE))
    assert error is not None and record["status"] == "failed"
    assert record["error"]["type"] == "HealthStatusBlocked" and record["error"]["code"] == 133010
    assert record["error"]["remedy"] == "Register the phone number with POST /{PHONE_NUMBER_ID}/register."
    assert record["facts"]["can_send_message"] == "BLOCKED"
    assert record["facts"]["blocking"][0]["entity_type"] == "PHONE_NUMBER"
    assert "#f8d7da" in output.read_text(encoding="utf-8")  # the blocked row, coloured


def test_13_a_waba_without_a_payment_method_is_blocked_141006_then_available_once_the_line_is_attached(sb, tmp_path):
    record, output, error = execute_step("13_go_live", tmp_path / "blocked", coral(sb, phone_number_id=CORAL_LIVE_PHONE))
    assert error is not None and record["status"] == "failed"
    assert record["error"]["type"] == "HealthStatusBlocked" and record["error"]["code"] == 141006
    assert record["facts"]["entities"][f"WABA {CORAL_WABA}"] == "BLOCKED"
    assert "payment method" in record["error"]["remedy"]  # Meta's possible solution
    assert "#f8d7da" in output.read_text(encoding="utf-8")
    ops.share_credit_line(client(sb), CREDIT_LINE, waba_id=CORAL_WABA, waba_currency="EUR")
    record, _, error = execute_step("13_go_live", tmp_path / "available", coral(sb, phone_number_id=CORAL_LIVE_PHONE))
    assert error is None and record["facts"]["can_send_message"] == "AVAILABLE"
    # Calling over SIP is not set up on any sandbox number: Meta reports it beside messaging, and it blocks nothing here.
    assert record["facts"]["entities"][f"PHONE_NUMBER {CORAL_LIVE_PHONE}"] == "AVAILABLE"


# ---- one customer through every new step, in Meta's order ----------------------------------------------
def test_coral_runs_every_step_in_order(sb, tmp_path):
    names = [p.stem for p in sorted((CUSTOMERS.parent / "notebooks").glob("[0-9][0-9]*_*.ipynb"))]
    assert names.index("07a_system_user") < names.index("07b_credit_line") < names.index("08_register")
    assert names[-3:] == ["11_business_profile", "12_templates", "13_go_live"]
    records = run_steps(names, tmp_path, coral(sb))
    failed = {n: r.get("error") for n, r in records.items() if r.get("status") != "passed"}
    try:
        assert list(records) == names and not failed, failed
        assert records["13_go_live"]["facts"]["can_send_message"] == "AVAILABLE"
        assert records["12_templates"]["facts"]["template_status"] == "APPROVED"
    finally:
        db = (records.get("04_webhooks") or {}).get("outputs", {}).get("webhook_db")
        if db:
            steps.stop_local_receiver(db)


# ---- the forms, headless ---------------------------------------------------------------------------------
def form_for(name: str, sandbox, **params):
    step = steps.Step.start(name, {"profile": CORAL, "graph_url": sandbox.url, "interactive": True, **params},
                            show=False)
    return for_step(step)


def test_the_new_forms_validate_and_run_headless(sb):
    form = form_for("07b_credit_line", sb)
    assert form.inputs["waba_currency"].value == "EUR"
    form.run_button.click()
    assert form.error is None and form.result["ok"] is True and form.step.record["facts"]["credit_line_id"] == CREDIT_LINE

    form = form_for("11_business_profile", sb, phone_number_id=CORAL_LIVE_PHONE)
    form.inputs["business_about"].value = "x" * 140
    assert "at most 139" in form.messages["business_about"].value
    form.inputs["business_websites"].value = "https://a.example, https://b.example, https://c.example"
    assert "at most 2" in form.messages["business_websites"].value
    form.run_button.click()
    assert form.result is None  # refused before any call
    form.inputs["business_about"].value = "Open Monday to Friday"
    form.inputs["business_websites"].value = "https://coral-dental.example"
    form.inputs["business_vertical"].value = "health"
    form.run_button.click()
    assert form.error is None and form.result["ok"] is True
    assert ops.get_business_profile(client(sb, "CORAL_TOKEN"), CORAL_LIVE_PHONE)["about"] == "Open Monday to Friday"

    form = form_for("07a_system_user", sb)
    form.inputs["assigned_tasks"].value = "MANAGE, NOT_A_TASK"
    assert "NOT_A_TASK is not a WABA task" in form.messages["assigned_tasks"].value
    form.inputs["assigned_tasks"].value = "MANAGE"
    form.run_button.click()
    assert form.error is None and form.result["ok"] is True

    form = form_for("12_templates", sb)
    form.inputs["first_template_body"].value = "Hallo {{2}}"
    assert "in order" in form.messages["first_template_body"].value
    form = form_for("13_go_live", sb, phone_number_id=CORAL_LIVE_PHONE)
    form.run_button.click()
    assert form.result["can_send_message"] == "AVAILABLE"  # the credit line the first form attached


# ---- a batch with the new steps ----------------------------------------------------------------------------
def test_a_batch_stops_the_customer_without_a_credit_line_at_07b(tmp_path):
    """Meta orders the credit line before registration: without one the customer stops there, with the reason."""
    seed = seed_with(tmp_path, no_credit_lines)
    paths = [CORAL, str(CUSTOMERS / "bluefin.yaml")]
    result = run_batch(paths, out=str(tmp_path / "runs"), sandbox=True, sandbox_seed=str(seed), workers=2,
                       progress=False)
    table = pd.read_csv(result["batch_dir"] / "summary.csv", dtype=str, keep_default_na=False).set_index("customer")
    assert table.loc["bluefin", "status"] == "passed" and table.loc["bluefin", "13_go_live"] == "passed"
    assert table.loc["coral", "status"] == "failed" and table.loc["coral", "failed_step"] == "07b_credit_line"
    assert table.loc["coral", "08_register"] == "not run"
    record = json.loads((result["batch_dir"] / "coral" / "07b_credit_line.json").read_text())
    assert "no extended credit line" in record["error"]["message"]


def test_resume_of_a_batch_written_before_the_new_steps(tmp_path):
    """A batch folder with records 00..10 only: the new steps run, every passed old step is carried over."""
    old = run_batch([CORAL], out=str(tmp_path / "runs"), sandbox=True, workers=1, progress=False,
                    steps="00-07,08-10")
    old_steps = json.loads((old["batch_dir"] / "batch.json").read_text())["steps"]
    assert "07a_system_user" not in old_steps and old_steps[-1] == "10_send_test_message" and old["passed"]
    # The layout of that time: records 00..10, and nothing else.
    assert sorted(p.stem for p in (old["batch_dir"] / "coral").glob("*.json")) == old_steps
    resumed = run_batch([], out=str(tmp_path / "runs"), sandbox=True, workers=1, resume=str(old["batch_dir"]),
                        progress=False)
    assert resumed["passed"] is True, resumed["table"].to_string()
    records, carried, ran = resumed_records(resumed["batch_dir"] / "coral")
    assert carried == old_steps
    assert ran == ["07a_system_user", "07b_credit_line", "11_business_profile", "12_templates", "13_go_live"]
    assert records["13_go_live"]["facts"]["can_send_message"] == "AVAILABLE"


def test_resume_checks_a_pending_template_again(tmp_path):
    """12 passes while the template is in review; a resume runs it again (not carried over) and finds it approved."""
    profile = tmp_path / "coral.yaml"
    profile.write_text(Path(CORAL).read_text() + "template_wait_seconds: 0\n")
    first = run_batch([str(profile)], out=str(tmp_path / "runs"), sandbox=True, workers=1, progress=False, steps="12")
    pending = json.loads((first["batch_dir"] / "coral" / "12_templates.json").read_text())
    assert first["passed"] is True and pending["facts"]["template_status"] == "PENDING"
    profile.write_text(Path(CORAL).read_text())  # the default wait again
    second = run_batch([], out=str(tmp_path / "runs"), sandbox=True, workers=1, resume=str(first["batch_dir"]),
                       progress=False, steps="12")
    record = json.loads((second["batch_dir"] / "coral" / "12_templates.json").read_text())
    assert "carried_over_from" not in record
    assert record["facts"]["created"] is False and record["facts"]["template_status"] == "APPROVED"
