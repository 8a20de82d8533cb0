"""Each training scenario: loading it breaks the demo flow with the documented error, and its fix works."""
from __future__ import annotations

import pytest

from helpers.sandbox.faults import KINDS
from sandbox_fixtures import *  # noqa: F401,F403
from sandbox_fixtures import (CONSUMER, DEMO_PHONE, EXAMPLE_APP, EXAMPLE_BUSINESS, EXAMPLE_WABA, LIVE_PHONE,
                              TEST_PHONE, Graph, error_of, wait_for)

SCENARIOS = ["expired_token", "missing_messaging_scope", "asset_not_assigned", "terms_not_accepted",
             "needs_reverification", "wrong_pin", "register_rate_limit", "webhook_quoted_challenge",
             "recipient_not_allowed", "outside_24h_window", "template_rejected", "credit_line_not_shared"]
# One per injectable fault kind (a fault rule, once): the step rides through; tests/test_training.py runs each.
FAULT_SCENARIOS = [f"fault_{kind}" for kind in KINDS]
# Met through a status (a review, a status webhook) rather than an error response: tested one by one below.
STATUS_SCENARIOS = ("outside_24h_window", "template_rejected", "credit_line_not_shared")


def new_token(graph: Graph, sb) -> None:
    graph.env = {**graph.env, "WHATSAPP_TOKEN": sb.control.generate_token(EXAMPLE_BUSINESS, EXAMPLE_APP)}


def trip_and_fix(name: str, graph: Graph, sb, receiver):
    """Run the scenario's `try`; return (response showing the error, callable applying the fix and retrying)."""
    if name == "expired_token":
        return graph.get(EXAMPLE_WABA), lambda: (new_token(graph, sb), graph.get(EXAMPLE_WABA))[1]
    if name == "missing_messaging_scope":
        return graph.send_template(LIVE_PHONE), lambda: (new_token(graph, sb), graph.send_template(LIVE_PHONE))[1]
    if name == "asset_not_assigned":
        return graph.get(EXAMPLE_WABA), lambda: (new_token(graph, sb), graph.get(EXAMPLE_WABA))[1]
    if name == "terms_not_accepted":
        return graph.register(DEMO_PHONE), lambda: (sb.control.accept_terms(EXAMPLE_BUSINESS), graph.register(DEMO_PHONE))[1]
    if name == "needs_reverification":
        def fix():
            graph.post(f"{DEMO_PHONE}/request_code", params={"code_method": "SMS", "language": "en_US"})
            graph.post(f"{DEMO_PHONE}/verify_code", data={"code": sb.control.verification_code(DEMO_PHONE)})
            return graph.register(DEMO_PHONE)
        return graph.register(DEMO_PHONE), fix
    if name == "wrong_pin":
        def fix():
            assert graph.post(DEMO_PHONE, json={"pin": graph.env["WHATSAPP_PIN"]}).status_code == 200
            return graph.register(DEMO_PHONE)
        return graph.register(DEMO_PHONE), fix
    if name == "register_rate_limit":
        return graph.register(DEMO_PHONE), lambda: (sb.control.advance_clock(72 * 3600), graph.register(DEMO_PHONE))[1]
    if name == "webhook_quoted_challenge":
        broken = graph.set_app_callback(f"{sb.url}/_sandbox/broken_webhook/quoted_challenge")
        return broken, lambda: graph.set_app_callback(receiver.url())
    if name == "recipient_not_allowed":
        def fix():
            sb.control.allow_recipient(TEST_PHONE, CONSUMER)
            return graph.send_template(TEST_PHONE)
        return graph.send_template(TEST_PHONE), fix
    if name == "outside_24h_window":
        return None, lambda: graph.send_template(DEMO_PHONE)
    raise AssertionError(name)


def test_every_scenario_is_listed_and_documented(sb):
    listed = {s["name"]: s for s in sb.control.scenarios()}
    assert set(listed) == set(SCENARIOS) | set(FAULT_SCENARIOS)
    for scenario in listed.values():
        assert scenario["title"] and scenario["description"] and scenario["try"] and scenario["fix"]
        code = scenario["expected_error"]["code"]  # a dropped connection or a timeout answers no code
        assert scenario["trainee_sees"] and (isinstance(code, int) or scenario["name"] in FAULT_SCENARIOS)


@pytest.mark.parametrize("name", [s for s in SCENARIOS if s not in STATUS_SCENARIOS])
def test_scenario_shows_its_error_and_the_fix_works(graph, sb, receiver, name):
    info = sb.control.load_scenario(name)
    assert info["name"] == name and "setup" not in info
    expected = info["expected_error"]
    response, fix = trip_and_fix(name, graph, sb, receiver)
    assert response.status_code == expected["http_status"], response.text
    error = error_of(response)
    assert error["code"] == expected["code"]
    assert error.get("error_subcode") == expected.get("subcode")
    fixed = fix()
    assert fixed.status_code == 200, fixed.text


def test_outside_24h_window_scenario(graph, sb, receiver):
    info = sb.control.load_scenario("outside_24h_window")
    assert graph.set_app_callback(receiver.url()).status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200
    response = graph.send_text(DEMO_PHONE)
    assert response.status_code == info["expected_error"]["http_status"] == 200
    failed = wait_for(lambda: [p for p in receiver.posts if b'"failed"' in p["body"]], what="the failed status")
    assert b'"code":131047' in failed[0]["body"]
    _, fix = trip_and_fix("outside_24h_window", graph, sb, receiver)
    assert fix().status_code == 200  # a template opens the conversation
    sb.control.consumer_message(DEMO_PHONE, CONSUMER, "hello again")
    assert graph.send_text(DEMO_PHONE).status_code == 200
    wait_for(lambda: [p for p in receiver.posts if b'"read"' in p["body"]], what="read statuses after the fix")


def test_template_rejected_scenario(graph, sb):
    info = sb.control.load_scenario("template_rejected")
    body = {"name": "order_shipped", "language": "en_US", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Your order {{1}} has shipped.",
                            "example": {"body_text": [["A-17"]]}}]}
    created = graph.post(f"{EXAMPLE_WABA}/message_templates", json=body)
    assert created.status_code == info["expected_error"]["http_status"] == 200
    assert created.json()["status"] == "PENDING"
    sb.control.advance_clock(61)
    (row,) = graph.get(f"{EXAMPLE_WABA}/message_templates", params={"name": "order_shipped"}).json()["data"]
    assert (row["status"], row["rejected_reason"]) == ("REJECTED", "INVALID_FORMAT")
    sb.control.reset()  # the fix in the sandbox: without the scenario the same template is approved
    assert graph.post(f"{EXAMPLE_WABA}/message_templates", json=body).status_code == 200
    sb.control.advance_clock(61)
    (row,) = graph.get(f"{EXAMPLE_WABA}/message_templates", params={"name": "order_shipped"}).json()["data"]
    assert row["status"] == "APPROVED"


def test_credit_line_not_shared_scenario(graph, sb, receiver):
    info = sb.control.load_scenario("credit_line_not_shared")
    assert graph.set_app_callback(receiver.url()).status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200
    health = graph.get(DEMO_PHONE, params={"fields": "health_status"}).json()["health_status"]
    assert health["can_send_message"] == "BLOCKED"
    (waba,) = [e for e in health["entities"] if e["entity_type"] == "WABA"]
    assert [e["error_code"] for e in waba["errors"]] == [141006]
    response = graph.send_template(DEMO_PHONE)
    assert response.status_code == info["expected_error"]["http_status"] == 200
    failed = wait_for(lambda: [p for p in receiver.posts if b'"failed"' in p["body"]], what="the failed status")
    assert b'"code":131042' in failed[0]["body"]
    shared = graph.post("610000000000001/whatsapp_credit_sharing_and_attach",
                        params={"waba_currency": "USD", "waba_id": EXAMPLE_WABA})
    assert shared.status_code == 200, shared.text
    wamid = graph.send_template(DEMO_PHONE).json()["messages"][0]["id"]
    wait_for(lambda: [p for p in receiver.posts if wamid.encode() in p["body"] and b'"delivered"' in p["body"]],
             what="the template delivered once the credit line is attached")


def test_unknown_scenario(sb):
    from helpers.sandbox import SandboxControlError
    with pytest.raises(SandboxControlError, match="no scenario named"):
        sb.control.load_scenario("no_such_thing")


def test_scenario_is_undone_by_reset(graph, sb):
    sb.control.load_scenario("expired_token")
    assert graph.get(EXAMPLE_WABA).status_code == 401
    sb.control.reset()
    assert graph.get(EXAMPLE_WABA).status_code == 200
