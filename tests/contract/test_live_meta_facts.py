"""Meta's facts of late 2026 that the vendored spec (v23.0) lacks, checked on the sandbox's answers.

Each test names the live_meta.yaml entry (and so the public source) it holds the sandbox to:
the credit-line model (receiving credential = primary funding id), health_status's entities,
per-message pricing since 2026-10-01, the template status webhook and the assignable WABA tasks.
Where the spec describes the payload (WABA node, WebhookPayload, the assigned_users request),
the sandbox's answer is also validated against it, allowing only the listed differences.
"""
from __future__ import annotations

import json

from helpers import spec
from helpers.sandbox import state as sandbox_state
from sandbox_fixtures import CONSUMER, EXAMPLE_APP, EXAMPLE_WABA, LIVE_PHONE, error_of, receiver, wait_for  # noqa: F401
import spec_validation as sv

CORAL_WABA, CORAL_PHONE, CREDIT_LINE, PARTNER_USER = "200000000000004", "400000000000022", "610000000000001", \
    "500000000000001"
PAYLOAD = "#/components/schemas/WebhookPayload"


def _listed(entry_id: str) -> dict:
    (entry,) = [d for d in spec.live_meta() if d["id"] == entry_id]
    return entry


def test_receiving_credential_is_the_wabas_primary_funding_id(graph):
    """waba-primary_funding_id, paths-outside-spec: Meta's "Managing credit lines", Verifying shared status."""
    assert "receiving_credential" in _listed("waba-primary_funding_id")["live"]
    shared = graph.post(f"{CREDIT_LINE}/whatsapp_credit_sharing_and_attach",
                        params={"waba_currency": "USD", "waba_id": CORAL_WABA}).json()
    config = graph.get(shared["allocation_config_id"], params={"fields": "receiving_credential"}).json()
    assert list(config) == ["receiving_credential", "id"] and list(config["receiving_credential"]) == ["id"]
    assert config["id"] == shared["allocation_config_id"]
    waba = graph.get(CORAL_WABA, params={"fields": "primary_funding_id"}).json()
    assert waba == {"primary_funding_id": config["receiving_credential"]["id"], "id": CORAL_WABA}
    assert waba["primary_funding_id"] != CREDIT_LINE  # step 3, "Compare IDs": the credential, not the line
    problems, _ = sv.problems(waba, sv.response_schema("GET", "/{Version}/{WABA-ID}", 200), "responses")
    assert not problems, problems


def test_health_status_entities_and_the_payment_error_as_metas_example(graph):
    """health-status-entities: WABA, BUSINESS, APP always; can_receive_call_sip on PHONE_NUMBER and APP; 141006."""
    flow = sv.operation("GET", "/{Version}/{Flow-ID}")["responses"]["200"]["content"]["application/json"]["examples"]
    metas = next(e for x in flow.values() for e in (x["value"].get("health_status") or {}).get("entities", [])
                 if e["entity_type"] == "WABA")
    assert metas["can_send_message"] == "BLOCKED" and metas["errors"][0] == sandbox_state.PAYMENT_METHOD_ERROR
    health = graph.get(CORAL_PHONE, params={"fields": "health_status"}).json()["health_status"]
    kinds = [e["entity_type"] for e in health["entities"]]
    assert kinds == ["PHONE_NUMBER", "WABA", "BUSINESS", "APP"]
    by_kind = {e["entity_type"]: e for e in health["entities"]}
    assert by_kind["WABA"] == {"entity_type": "WABA", "id": CORAL_WABA, "can_send_message": "BLOCKED",
                               "errors": [sandbox_state.PAYMENT_METHOD_ERROR]}
    assert {k for k, e in by_kind.items() if "can_receive_call_sip" in e} == {"PHONE_NUMBER", "APP"}
    for entity in health["entities"]:
        assert entity["can_send_message"] in ("AVAILABLE", "LIMITED", "BLOCKED")
        assert entity.get("can_receive_call_sip", "AVAILABLE") in ("AVAILABLE", "LIMITED", "BLOCKED")
        for error in entity.get("errors", []):
            assert set(error) == {"error_code", "error_description", "possible_solution"}
            assert isinstance(error["error_code"], int)
    assert health["can_send_message"] == "BLOCKED"
    waba_node = graph.get(EXAMPLE_WABA, params={"fields": "health_status"}).json()["health_status"]
    assert [e["entity_type"] for e in waba_node["entities"]] == ["WABA", "BUSINESS", "APP"]


def test_status_pricing_since_october_2026(graph, sb, receiver):
    """pricing-type, pricing-service-charged: every status's pricing validates and uses Meta's values."""
    assert graph.set_app_callback(receiver.url("app")).status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    assert graph.send_text(LIVE_PHONE).status_code == 200
    assert graph.send_template(LIVE_PHONE).status_code == 200
    posts = wait_for(lambda: (p := [json.loads(x["body"]) for x in receiver.posts_to("app") if b'"statuses"' in x["body"]])
                     and len(p) >= 6 and p, what="six status notifications")
    categories = set()
    for payload in posts:
        problems, _ = sv.problems(payload, PAYLOAD, "webhooks")
        assert not problems, problems
        for status in payload["entry"][0]["changes"][0]["value"]["statuses"]:
            pricing = status["pricing"]
            assert pricing["pricing_model"] == "PMP" and pricing["type"] in sandbox_state.PRICING_TYPES
            assert pricing["category"] in sandbox_state.PRICING_CATEGORIES
            assert (pricing["billable"], pricing["type"]) == (True, "regular")  # inside the window, and charged
            categories.add(pricing["category"])
    assert categories == {"service", "utility"}


def test_a_paid_template_without_a_payment_method_fails_131042_a_service_reply_does_not(graph, sb, receiver):
    """pricing-service-charged: Meta documents 131042 for the business-initiated (template) side only."""
    assert graph.set_app_callback(receiver.url("app")).status_code == 200
    assert graph.post(f"{CORAL_WABA}/subscribed_apps").status_code == 200
    sb.control.consumer_message(CORAL_PHONE, CONSUMER, "hi")
    template = graph.send_template(CORAL_PHONE).json()["messages"][0]["id"]
    text = graph.send_text(CORAL_PHONE).json()["messages"][0]["id"]
    statuses = wait_for(lambda: (s := [st for x in receiver.posts_to("app") if b'"statuses"' in x["body"]
                                      for st in json.loads(x["body"])["entry"][0]["changes"][0]["value"]["statuses"]])
                        and len(s) >= 4 and s, what="the template's failure and the reply's statuses")
    assert [s["errors"][0]["code"] for s in statuses if s["id"] == template] == [131042]
    assert [s["status"] for s in statuses if s["id"] == text] == ["sent", "delivered", "read"]


def test_template_status_webhook_carries_category_and_rejection_info(graph, sb, receiver):
    """template-status-webhook: message_template_category always, rejection_info {reason, recommendation}."""
    assert graph.post(f"{EXAMPLE_APP}/subscriptions", token=None, params={
        "object": "whatsapp_business_account", "callback_url": receiver.url("app"),
        "fields": "message_template_status_update", "verify_token": graph.env["WHATSAPP_VERIFY_TOKEN"],
        "access_token": graph.app_token()}).status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200
    path = f"{EXAMPLE_WABA}/message_templates"
    for name, body in (("gap_in_numbers", "Hello {{1}}, your order {{3}} is ready."), ("pickup_ready", "Hi {{1}}.")):
        assert graph.post(path, json={"name": name, "language": "en_US", "category": "MARKETING",
                                      "components": [{"type": "BODY", "text": body}]}).status_code == 200
    sb.control.advance_clock(61)
    values = wait_for(lambda: (v := {c["value"]["message_template_name"]: c["value"] for x in receiver.posts_to("app")
                                     for c in json.loads(x["body"])["entry"][0]["changes"]
                                     if c["field"] == "message_template_status_update"}) and len(v) == 2 and v,
                      what="two template status updates")
    rejected, approved = values["gap_in_numbers"], values["pickup_ready"]
    assert rejected["event"] == "REJECTED" and rejected["reason"] == "INVALID_FORMAT"
    assert rejected["message_template_category"] == approved["message_template_category"] == "MARKETING"
    assert set(rejected["rejection_info"]) == {"reason", "recommendation"}
    assert all(isinstance(v, str) and v for v in rejected["rejection_info"].values())
    assert "rejection_info" not in approved and approved["event"] == "APPROVED"
    assert isinstance(rejected["message_template_id"], int)


def test_assignable_tasks_are_metas_and_the_spec_request_schema_accepts_them(graph):
    """waba-tasks-assignable: Meta's list is accepted; the spec-only tasks get #100."""
    tasks = spec.index()["waba_permission_tasks"]
    request = sv.request_schema("POST", "/{Version}/{WhatsApp-Business-Account-ID}/assigned_users")
    if request is not None:
        problems, _ = sv.problems({"user": PARTNER_USER, "tasks": tasks}, request, "requests")
        assert not problems, problems
    path = f"{CORAL_WABA}/assigned_users"
    assert graph.post(path, json={"user": PARTNER_USER, "tasks": tasks}).status_code == 200
    for refused in _listed("waba-tasks-assignable")["refuses"]:
        error = error_of(graph.post(path, json={"user": PARTNER_USER, "tasks": [refused]}))
        assert error["code"] == 100 and error["message"].endswith(f'got "{refused}".')
