"""Phase 1 decision logic (helpers.plan): today's limits, the guide's figures named as such."""
from __future__ import annotations

import pytest

from helpers import ConfigError, plan
from helpers.parameters import STEPS


@pytest.mark.parametrize("peak, fits, numbers, phrase", [
    (40, True, 1, "fits the default 80 mps"),
    (80, True, 1, "fits the default 80 mps"),
    (250, True, 1, "automatic upgrade"),
    (1000, True, 1, "automatic upgrade"),
    (2500, False, 3, "at least 3 numbers"),
])
def test_throughput_verdict_against_80_and_1000(peak, fits, numbers, phrase):
    verdict = plan.throughput_verdict(peak)
    assert verdict["fits"] is fits and verdict["numbers_needed"] == numbers
    assert phrase in verdict["verdict"]


def test_numbers_shared_with_the_business_app_are_fixed_at_20():
    assert plan.throughput_verdict(20, shares_whatsapp_business_app=True)["fits"] is True
    verdict = plan.throughput_verdict(50, shares_whatsapp_business_app=True)
    assert verdict["fits"] is False and verdict["numbers_needed"] == 3 and "20 mps" in verdict["verdict"]


def test_throughput_table_names_the_guides_250_as_the_old_figure():
    table = plan.throughput_table(120)
    by_limit = table.set_index("messages_per_second")
    assert by_limit.loc[80, "peak_fits"] is False or not by_limit.loc[80, "peak_fits"]
    assert bool(by_limit.loc[1000, "peak_fits"]) is True
    assert by_limit.loc[250, "fact"] == "out of date" and "On-Premises" in by_limit.loc[250, "limit"]
    assert 20 not in table["messages_per_second"].tolist()
    assert 20 in plan.throughput_table(10, shares_whatsapp_business_app=True)["messages_per_second"].tolist()


@pytest.mark.parametrize("bad", [-1, "fast", True, None])
def test_throughput_refuses_bad_numbers(bad):
    with pytest.raises(ConfigError):
        plan.throughput_table(bad)


def test_compliance_needs_met_and_to_check():
    table = plan.compliance_table(["GDPR", "SOC 2", "Hosting in Europe", "HIPAA"], "de")
    met = dict(zip(table["need"], table["met"]))
    assert met["GDPR"] == met["SOC 2"] == met["Hosting in Europe"] == "yes"
    assert met["HIPAA"] == "check"
    assert met["local storage in DE"] == "yes"
    assert "North America and Europe" in table.iloc[-1]["cloud_api"]


def test_local_storage_region_must_be_two_letters():
    with pytest.raises(ConfigError, match="2-letter"):
        plan.compliance_table([], "Germany")


def test_features_supported_on_prem_only_or_unknown():
    table = plan.features_table(["text", "templates", "Media", "deleted status", "telepathy"])
    supported = dict(zip(table["feature"], table["supported"]))
    assert supported == {"text": "yes", "templates": "yes", "Media": "yes", "deleted status": "no", "telepathy": "check"}


def test_onboarding_paths_and_the_on_prem_sunset():
    assert plan.onboarding_path("new")["path"] == "Embedded Signup"
    assert "14 days" in plan.onboarding_path("new")["why"]
    migrate = plan.onboarding_path("migrate")
    assert "legacy" in migrate["path"] and "2025-10-23" in migrate["why"]
    with pytest.raises(ConfigError):
        plan.onboarding_path("later")


def test_decision_table_and_recommendation():
    go = plan.decision_table(onboarding="new", expected_peak_mps=40, compliance=["GDPR"], features=["text"])
    assert list(go["question"]) == ["onboarding path", "throughput", "compliance", "features"]
    assert set(go["verdict"]) == {"go"}
    assert "250" in go.set_index("question").loc["throughput", "guide_says"]
    assert plan.recommendation(go).startswith("Go: onboard on Cloud API through Embedded Signup")

    conditions = plan.decision_table(onboarding="migrate", expected_peak_mps=5000, compliance=["HIPAA"],
                                     features=["text", "deleted status"])
    verdicts = dict(zip(conditions["question"], conditions["verdict"]))
    assert verdicts == {"onboarding path": "go", "throughput": "plan more numbers", "compliance": "check",
                        "features": "check"}
    text = plan.recommendation(conditions)
    assert text.startswith("Go with conditions") and "HIPAA" in text and "5 numbers" in text


def test_an_unstated_peak_is_a_question_not_a_go():
    table = plan.decision_table(onboarding="new", expected_peak_mps=0)
    row = table.set_index("question").loc["throughput"]
    assert row["customer"] == "not stated" and row["verdict"] == "check" and "ask the customer" in row["why"]


def test_plan_steps_skip_migration_for_new_customers():
    new = plan.plan_steps("new").set_index("notebook")["this_customer"]
    migrate = plan.plan_steps("migrate").set_index("notebook")["this_customer"]
    assert list(new.index) == list(STEPS)
    assert new["07_migration"].startswith("skip") and new["08_register"] == "run"
    assert migrate["07_migration"] == "run"


def test_planning_checklist_covers_the_guides_other_items():
    items = " ".join(plan.planning_checklist()["item"])
    for phrase in ("Postman", "communication plan", "pricing"):
        assert phrase in items


def test_plan_steps_run_the_credit_line_only_for_a_partners_client():
    own = plan.plan_steps("new").set_index("notebook")["this_customer"]
    client = plan.plan_steps("new", partner_client=True).set_index("notebook")["this_customer"]
    assert own["07b_credit_line"].startswith("skip") and client["07b_credit_line"] == "run"
    assert own["07a_system_user"] == client["07a_system_user"] == "run"
