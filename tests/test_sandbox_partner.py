"""A Solution Partner's side: credit line, system users on a customer's WABA, templates, coexistence, health."""
from __future__ import annotations

import json

from sandbox_fixtures import (CONSUMER, EXAMPLE_APP, EXAMPLE_BUSINESS, EXAMPLE_WABA, LIVE_PHONE, error_of,  # noqa: F401
                              receiver, wait_for)

CORAL_WABA, CORAL_LIVE_PHONE, COEXISTENCE_PHONE = "200000000000004", "400000000000022", "400000000000023"
CREDIT_LINE, PARTNER_USER = "610000000000001", "500000000000001"
# The seed's other clients of the partner: live, unregistered, no credit line, RED quality, several numbers, none.
CLIENT_WABAS = ["200000000000005", "200000000000006", "200000000000007", "200000000000008", "200000000000009",
                "200000000000010"]


def attach(graph, currency="EUR", waba=CORAL_WABA):
    return graph.post(f"{CREDIT_LINE}/whatsapp_credit_sharing_and_attach",
                      params={"waba_currency": currency, "waba_id": waba})


def test_the_partner_finds_its_credit_line_and_client_wabas(graph):
    assert graph.get(f"{EXAMPLE_BUSINESS}/extendedcredits").json() == {
        "data": [{"id": CREDIT_LINE, "legal_entity_name": "Example Co Partner Services"}]}
    clients = graph.get(f"{EXAMPLE_BUSINESS}/client_whatsapp_business_accounts").json()["data"]
    assert [w["id"] for w in clients] == [CORAL_WABA, *CLIENT_WABAS]
    owned = graph.get(f"{EXAMPLE_BUSINESS}/owned_whatsapp_business_accounts").json()["data"]
    assert [w["id"] for w in owned] == [EXAMPLE_WABA, "200000000000003"]
    assert error_of(graph.get("100000000000002/extendedcredits"))["code"] == 100  # not the token's business
    assert error_of(graph.get(f"{EXAMPLE_BUSINESS}/extendedcredits", token="BLUEFIN_TOKEN"))["error_subcode"] == 33


def test_without_the_credit_line_paid_messages_fail_and_health_says_why(graph, sb, receiver):
    assert graph.set_app_callback(receiver.url("app")).status_code == 200
    assert graph.post(f"{CORAL_WABA}/subscribed_apps").status_code == 200
    health = graph.get(CORAL_LIVE_PHONE, params={"fields": "health_status"}).json()["health_status"]
    assert health["can_send_message"] == "BLOCKED"  # as Meta's own example shows it: 141006 on the WABA
    (waba_entity,) = [e for e in health["entities"] if e["entity_type"] == "WABA"]
    assert waba_entity["can_send_message"] == "BLOCKED" and waba_entity["errors"][0]["error_code"] == 141006
    assert "payment method" in waba_entity["errors"][0]["error_description"]
    sent = graph.send_template(CORAL_LIVE_PHONE)  # a utility template outside the window is paid
    assert sent.status_code == 200
    failed = wait_for(lambda: [p for p in receiver.posts_to("app") if b'"failed"' in p["body"]], what="a failed status")
    status = json.loads(failed[0]["body"])["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["errors"][0]["code"] == 131042

    shared = attach(graph).json()
    assert attach(graph).json() == shared == {"allocation_config_id": shared["allocation_config_id"],
                                              "waba_id": CORAL_WABA}  # attaching again gives the same allocation
    # Meta's "Verifying shared status": the allocation's receiving credential is the WABA's primary funding id.
    funding = graph.get(CORAL_WABA, params={"fields": "primary_funding_id"}).json()["primary_funding_id"]
    assert graph.get(shared["allocation_config_id"], params={"fields": "receiving_credential"}).json() == {
        "receiving_credential": {"id": funding}, "id": shared["allocation_config_id"]}
    assert funding != CREDIT_LINE
    assert graph.get(CORAL_LIVE_PHONE, params={"fields": "health_status"}).json()["health_status"][
        "can_send_message"] == "AVAILABLE"
    receiver.posts.clear()
    assert graph.send_template(CORAL_LIVE_PHONE).status_code == 200
    wait_for(lambda: [p for p in receiver.posts_to("app") if b'"read"' in p["body"]], what="the read status")
    assert not [p for p in receiver.posts_to("app") if b'"failed"' in p["body"]]


def test_credit_line_errors(graph):
    assert error_of(attach(graph, currency="JPY"))["message"].startswith("(#100) Param waba_currency must be one of {USD")
    assert "not a WhatsApp Business Account shared with" in error_of(attach(graph, waba="200000000000002"))[
        "error_data"]["details"]
    assert error_of(graph.post(f"{CREDIT_LINE}/whatsapp_credit_sharing_and_attach", token="CORAL_TOKEN",
                               params={"waba_currency": "EUR", "waba_id": CORAL_WABA}))["error_subcode"] == 33


def test_assigning_the_partners_system_user_to_the_customers_waba(graph):
    path = f"{CORAL_WABA}/assigned_users"
    before = graph.get(path, params={"business": EXAMPLE_BUSINESS}).json()["data"]
    assert PARTNER_USER not in [u["id"] for u in before]
    assert graph.post(path, data={"user": PARTNER_USER, "tasks": "['MANAGE']"}).json() == {"success": True}
    (row,) = [u for u in graph.get(path, params={"business": EXAMPLE_BUSINESS}).json()["data"] if u["id"] == PARTNER_USER]
    assert row["tasks"] == ["MANAGE"] and row["business"]["id"] == EXAMPLE_BUSINESS and row["user_type"] == "SYSTEM_USER"
    granular = graph.post(path, json={"user": PARTNER_USER, "tasks": ["MANAGE_TEMPLATES", "MANAGE_PHONE", "MANAGE_BILLING"]})
    assert granular.status_code == 200
    assert error_of(graph.post(path, data={"user": PARTNER_USER, "tasks": "['ROOT']"}))["message"].startswith(
        "(#100) Param tasks must be one of {MANAGE")
    for spec_only in ("FULL_CONTROL", "RECEIVE_INCOMING_MESSAGES"):  # in the spec's enum, in no Meta page
        refused = error_of(graph.post(path, json={"user": PARTNER_USER, "tasks": [spec_only]}))["message"]
        allowed = refused.split("{", 1)[1].split("}", 1)[0]
        assert refused.startswith("(#100) Param tasks must be one of {") and spec_only not in allowed
        assert refused.endswith(f'got "{spec_only}".')
    assert graph.post(path, json={"user": PARTNER_USER, "tasks": ["VIEW_COST", "MESSAGING"]}).status_code == 200
    assert "not a system user" in error_of(graph.post(path, data={"user": "500000000000011", "tasks": "['MANAGE']"}))[
        "error_data"]["details"]  # Bluefin's system user: Coral's WABA is not shared with Bluefin
    assert error_of(graph.get(path))["message"] == "(#100) The parameter business is required."


def test_a_template_is_reviewed_on_the_sandbox_clock_and_the_app_is_told(graph, sb, receiver):
    assert graph.post(f"{EXAMPLE_APP}/subscriptions", token=None, params={
        "object": "whatsapp_business_account", "callback_url": receiver.url("app"),
        "fields": "messages,message_template_status_update", "verify_token": graph.env["WHATSAPP_VERIFY_TOKEN"],
        "access_token": graph.app_token()}).status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200
    path = f"{EXAMPLE_WABA}/message_templates"
    ok = graph.post(path, json={"name": "appointment_reminder", "language": "en_US", "category": "UTILITY",
                                "components": [{"type": "BODY", "text": "See you on {{1}} at {{2}}."}]}).json()
    bad = graph.post(path, json={"name": "spring_promo", "language": "en_US", "category": "UTILITY",
                                 "components": [{"type": "BODY", "text": "Spring sale: 20% discount!"}]}).json()
    assert ok["status"] == bad["status"] == "PENDING" and ok["category"] == "UTILITY"
    send = {"messaging_product": "whatsapp", "to": CONSUMER, "type": "template",
            "template": {"name": "appointment_reminder", "language": {"code": "en_US"}}}
    assert error_of(graph.post(f"{LIVE_PHONE}/messages", json=send))["code"] == 132001  # not approved yet
    sb.control.advance_clock(61)
    updates = wait_for(lambda: (u := [json.loads(p["body"]) for p in receiver.posts_to("app")
                                      if b"message_template_status_update" in p["body"]]) and len(u) == 2 and u,
                       what="two template status updates")
    events = {u["entry"][0]["changes"][0]["value"]["message_template_name"]: u["entry"][0]["changes"][0]["value"]
              for u in updates}
    assert events["appointment_reminder"]["event"] == "APPROVED" and events["appointment_reminder"]["reason"] == "NONE"
    assert events["spring_promo"] == {**events["spring_promo"], "event": "REJECTED", "reason": "INCORRECT_CATEGORY"}
    assert all(isinstance(u["entry"][0]["time"], int) for u in updates)
    listed = {t["name"]: t for t in graph.get(path).json()["data"]}
    assert listed["appointment_reminder"]["status"] == "APPROVED" and listed["spring_promo"]["status"] == "REJECTED"
    assert graph.post(f"{LIVE_PHONE}/messages", json=send).status_code == 200
    again = error_of(graph.post(path, json={"name": "appointment_reminder", "language": "en_US", "category": "UTILITY",
                                            "components": [{"type": "BODY", "text": "x"}]}))
    assert again["error_subcode"] == 2388024


def test_a_coexistence_number_stops_being_shared_when_registered_again(graph):
    fields = {"fields": "is_on_biz_app,throughput,platform_type"}
    before = graph.get(COEXISTENCE_PHONE, params=fields).json()
    assert before["is_on_biz_app"] is True and before["platform_type"] == "CLOUD_API"
    assert graph.register(COEXISTENCE_PHONE, pin_env="CORAL_PIN", token="CORAL_TOKEN").status_code == 200
    assert graph.get(COEXISTENCE_PHONE, params=fields).json()["is_on_biz_app"] is False


def health(graph, node):
    return graph.get(node, params={"fields": "health_status"}).json()["health_status"]


def entity(status, kind):
    (found,) = [e for e in status["entities"] if e["entity_type"] == kind]
    return found


def test_health_status_names_the_entity_at_fault_with_metas_code(graph):
    live = health(graph, "400000000000051")
    assert live["can_send_message"] == "AVAILABLE" and all(e["can_send_message"] == "AVAILABLE" for e in live["entities"])
    unregistered = health(graph, "400000000000061")
    assert unregistered["can_send_message"] == "BLOCKED"
    assert entity(unregistered, "PHONE_NUMBER")["errors"][0]["error_code"] == 133010
    assert entity(unregistered, "WABA")["can_send_message"] == "AVAILABLE"  # its credit line is attached
    no_credit = health(graph, "400000000000071")
    assert no_credit["can_send_message"] == "BLOCKED" and entity(no_credit, "PHONE_NUMBER")["can_send_message"] == "AVAILABLE"
    (payment,) = entity(no_credit, "WABA")["errors"]
    assert payment["error_code"] == 141006 and payment["possible_solution"].startswith("There was an error with your payment")
    red = health(graph, "400000000000081")
    assert red["can_send_message"] == "LIMITED" and "RED" in entity(red, "PHONE_NUMBER")["additional_info"][0]
    restricted = health(graph, "400000000000093")
    assert restricted["can_send_message"] == "BLOCKED"
    error, sip = entity(restricted, "PHONE_NUMBER")["errors"]  # the messaging error first, then SIP's
    assert error["error_code"] == 131031 and error["possible_solution"] and sip["error_code"] == 138024
    assert health(graph, "200000000000007")["can_send_message"] == "BLOCKED"  # on the WABA node too


def test_health_status_always_lists_waba_business_and_app_and_the_sip_state(graph):
    """Meta's health-status page: WABA, BUSINESS and APP always; PHONE_NUMBER and APP carry can_receive_call_sip,
    which the overall can_send_message does not count (no sandbox number has SIP configured)."""
    for node in ("400000000000051", "200000000000005"):
        status = health(graph, node)
        kinds = [e["entity_type"] for e in status["entities"]]
        assert kinds[-3:] == ["WABA", "BUSINESS", "APP"] and kinds[:-3] == (["PHONE_NUMBER"] if node.startswith("4") else [])
        app = entity(status, "APP")
        assert app["id"] == EXAMPLE_APP and app["can_receive_call_sip"] == "BLOCKED"
        assert [e["error_code"] for e in app["errors"]] == [138025]
        assert status["can_send_message"] == "AVAILABLE"  # SIP does not count in the overall messaging status
    number = entity(health(graph, "400000000000051"), "PHONE_NUMBER")
    assert number["can_send_message"] == "AVAILABLE" and number["can_receive_call_sip"] == "BLOCKED"
    assert [e["error_code"] for e in number["errors"]] == [138024]


def test_the_allocation_config_is_the_partners_to_read(graph):
    seeded = graph.get("200000000000005", params={"fields": "primary_funding_id"}).json()["primary_funding_id"]
    shared = attach(graph, currency="USD", waba="200000000000005").json()["allocation_config_id"]
    config = graph.get(shared, params={"fields": "receiving_credential{id},receiving_business,request_status"}).json()
    assert config["receiving_credential"] == {"id": seeded} and config["request_status"] == "ACTIVE"
    assert config["receiving_business"]["id"] == graph.get("200000000000005", params={
        "fields": "owner_business_info"}).json()["owner_business_info"]["id"]
    assert graph.get(shared).json() == {"id": shared}
    assert error_of(graph.get(shared, params={"fields": "credit_limit"}))["message"] == \
        "(#100) Tried accessing nonexisting field (credit_limit) on node type (ExtendedCreditAllocationConfig)"
    assert error_of(graph.get(shared, token="CORAL_TOKEN"))["error_subcode"] == 33  # the customer's token: not theirs


def test_seeded_clients_carry_their_credit_line_subscription_and_template_states(graph):
    funding = graph.get("200000000000005", params={"fields": "primary_funding_id"}).json()["primary_funding_id"]
    assert funding.isdigit() and funding != CREDIT_LINE  # the receiving credential, not the partner's line
    assert "primary_funding_id" not in graph.get("200000000000007", params={"fields": "primary_funding_id"}).json()
    apps = graph.get("200000000000005/subscribed_apps").json()["data"]
    assert [a["whatsapp_business_api_data"]["id"] for a in apps] == [EXAMPLE_APP]
    assert graph.get("200000000000009/subscribed_apps").json()["data"] == []
    statuses = {t["name"]: t for t in graph.get("200000000000008/message_templates").json()["data"]}
    assert statuses["weekend_specials"]["status"] == "PAUSED" and statuses["hello_world"]["status"] == "APPROVED"
    assert statuses["table_ready"] == {**statuses["table_ready"], "status": "REJECTED", "rejected_reason": "INVALID_FORMAT"}
    limits = graph.get("400000000000071", params={"fields": "whatsapp_business_manager_messaging_limit"}).json()
    assert limits["whatsapp_business_manager_messaging_limit"] == "TIER_250"
    # The WABA already bills to the credit line: attaching it again keeps the seeded allocation.
    before = graph.get("200000000000005", params={"fields": "primary_funding_id"}).json()
    assert attach(graph, currency="USD", waba="200000000000005").status_code == 200
    assert graph.get("200000000000005", params={"fields": "primary_funding_id"}).json() == before


def test_the_partner_finds_a_clients_allocation_config_from_its_credit_line(graph):
    """Meta's revoke steps: GET /{credit_line_id}/owning_credit_allocation_configs?receiving_business_id=."""
    client_business = graph.get("200000000000005", params={"fields": "owner_business_info"}).json()[
        "owner_business_info"]["id"]
    shared = attach(graph, currency="USD", waba="200000000000005").json()["allocation_config_id"]
    page = graph.get(f"{CREDIT_LINE}/owning_credit_allocation_configs", params={
        "receiving_business_id": client_business, "fields": "id,receiving_business,receiving_credential"}).json()
    (row,) = page["data"]
    assert row["id"] == shared and row["receiving_business"]["id"] == client_business
    assert row["receiving_credential"]["id"] == graph.get("200000000000005", params={
        "fields": "primary_funding_id"}).json()["primary_funding_id"]
    everyone = graph.get(f"{CREDIT_LINE}/owning_credit_allocation_configs").json()["data"]
    assert shared in [r["id"] for r in everyone] and all(set(r) == {"id"} for r in everyone)
    assert error_of(graph.get(f"{CREDIT_LINE}/owning_credit_allocation_configs", token="CORAL_TOKEN"))[
        "error_subcode"] == 33
