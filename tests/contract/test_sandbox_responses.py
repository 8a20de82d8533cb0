"""Every answer the sandbox gives, on every path it serves, success and error, against Meta's spec.

A tour drives each route of the sandbox (helpers/sandbox/graph_api.py ROUTES) through its
success and its documented errors over HTTP; each response is validated against the spec's
schema for that path, method and status (jsonschema Draft 2020-12), allowing exactly the
differences listed in helpers/spec/live_meta.yaml.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from helpers.sandbox import graph_api, spec_model
from sandbox_fixtures import (BLUEFIN_PHONE, CONSUMER, DEMO_PHONE, EXAMPLE_APP, EXAMPLE_WABA, LIVE_PHONE,  # noqa: F401
                              ONPREM_PHONE, TEST_PHONE, UNVERIFIED_PHONE, Graph, error_of, receiver, wait_for)
import spec_validation as sv

NODE_TEMPLATES = {"phone": "/{Version}/{Phone-Number-ID}", "waba": "/{Version}/{WABA-ID}",
                  "business": "/{Version}/{Business-ID}"}
# Edges the spec writes under another name for the node's ID.
EDGE_TEMPLATES = {("waba", "assigned_users"): "/{Version}/{WhatsApp-Business-Account-ID}/assigned_users"}
CORAL_WABA, CREDIT_LINE, PARTNER_USER = "200000000000004", "610000000000001", "500000000000001"


@dataclass
class Exchange:
    method: str
    route: tuple[str, str | None] | None   # (kind, edge) of graph_api.ROUTES; None outside the node routes
    status: int
    body: dict

    @property
    def template(self) -> str | None:
        if self.route is None or self.route[0] not in NODE_TEMPLATES:
            return None
        kind, edge = self.route
        return EDGE_TEMPLATES.get(self.route) or NODE_TEMPLATES[kind] + (f"/{edge}" if edge else "")


@dataclass
class Tour:
    graph: Graph
    exchanges: list[Exchange] = field(default_factory=list)

    def call(self, method: str, route, path: str, expect: int, **kwargs) -> dict:
        response = self.graph.request(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text[:300])
        body = response.json()
        self.exchanges.append(Exchange(method, route, response.status_code, body))
        return body


def _schema_for(exchange: Exchange) -> str | None:
    if exchange.template is None:
        return None
    pointer = sv.response_schema(exchange.method, exchange.template, exchange.status)
    if pointer is None and exchange.status >= 400:
        return sv.GRAPH_ERROR  # live_meta.yaml: errors-without-listed-status
    return pointer


def run_tour(tour: Tour, sb, receiver) -> None:
    g = tour.graph
    phone, waba = ("phone", None), ("waba", None)
    all_phone_fields = ",".join(spec_model.node_fields(spec_model.PHONE_NUMBER))
    all_waba_fields = ",".join(spec_model.node_fields(spec_model.WABA))

    # WABA node
    tour.call("GET", waba, EXAMPLE_WABA, 200)
    tour.call("GET", waba, EXAMPLE_WABA, 200, params={"fields": all_waba_fields})
    tour.call("GET", waba, EXAMPLE_WABA, 400, params={"fields": "name,no_such_field"})
    tour.call("GET", waba, "200000000009999", 400)
    tour.call("GET", waba, EXAMPLE_WABA, 401, token=None, raw_token="garbled-token")
    tour.call("GET", waba, EXAMPLE_WABA, 401, token="WHATSAPP_EXPIRED_TOKEN")
    # phone_numbers edge
    numbers = ("waba", "phone_numbers")
    tour.call("GET", numbers, f"{EXAMPLE_WABA}/phone_numbers", 200)
    tour.call("GET", numbers, f"{EXAMPLE_WABA}/phone_numbers", 200, params={"fields": all_phone_fields, "limit": 2})
    tour.call("GET", numbers, f"{EXAMPLE_WABA}/phone_numbers", 200, params={"fields": all_phone_fields})
    tour.call("GET", numbers, f"{EXAMPLE_WABA}/phone_numbers", 200, params={
        "filtering": json.dumps([{"field": "account_mode", "operator": "EQUAL", "value": "SANDBOX"}])})
    tour.call("GET", numbers, f"{EXAMPLE_WABA}/phone_numbers", 400, params={
        "filtering": json.dumps([{"field": "account_mode", "operator": "LIKE", "value": "S"}])})
    tour.call("GET", numbers, f"{EXAMPLE_WABA}/phone_numbers", 400, params={"fields": "id,colour"})
    # phone node
    tour.call("GET", phone, DEMO_PHONE, 200)
    tour.call("GET", phone, UNVERIFIED_PHONE, 200, params={"fields": all_phone_fields})
    tour.call("GET", phone, LIVE_PHONE, 200, params={"fields": all_phone_fields})
    tour.call("GET", phone, DEMO_PHONE, 400, params={"fields": "id,favourite_colour"})
    tour.call("GET", phone, "999", 400)
    tour.call("POST", phone, DEMO_PHONE, 200, json={"pin": g.env["WHATSAPP_PIN"]})
    tour.call("POST", phone, DEMO_PHONE, 400, json={"pin": "12345"})
    tour.call("POST", phone, DEMO_PHONE, 400, json={})
    # verification and registration
    tour.call("POST", ("phone", "request_code"), f"{UNVERIFIED_PHONE}/request_code", 200,
              params={"code_method": "SMS", "language": "en_US"})
    tour.call("POST", ("phone", "request_code"), f"{UNVERIFIED_PHONE}/request_code", 400,
              params={"code_method": "PIGEON", "language": "en_US"})
    tour.call("POST", ("phone", "verify_code"), f"{UNVERIFIED_PHONE}/verify_code", 400, data={"code": "000000"})
    tour.call("POST", ("phone", "verify_code"), f"{UNVERIFIED_PHONE}/verify_code", 200,
              data={"code": sb.control.verification_code(UNVERIFIED_PHONE)})
    tour.call("POST", ("phone", "register"), f"{DEMO_PHONE}/register", 400,
              json={"messaging_product": "whatsapp", "pin": "000000"})
    tour.call("POST", ("phone", "register"), f"{DEMO_PHONE}/register", 200,
              json={"messaging_product": "whatsapp", "pin": g.env["WHATSAPP_PIN"]})
    tour.call("POST", ("phone", "register"), f"{ONPREM_PHONE}/register", 400,
              json={"messaging_product": "whatsapp", "pin": g.env["WHATSAPP_PIN"]})
    tour.call("POST", ("phone", "deregister"), f"{LIVE_PHONE}/deregister", 200)
    tour.call("POST", ("phone", "register"), f"{LIVE_PHONE}/register", 200,
              json={"messaging_product": "whatsapp", "pin": g.env["WHATSAPP_PIN"]})
    # subscriptions (the handshake needs a real callback)
    tour.call("POST", ("app", "subscriptions"), f"{EXAMPLE_APP}/subscriptions", 200, token=None, params={
        "object": "whatsapp_business_account", "callback_url": receiver.url(), "fields": "messages",
        "verify_token": g.env["WHATSAPP_VERIFY_TOKEN"], "access_token": g.app_token()})
    tour.call("GET", ("app", "subscriptions"), f"{EXAMPLE_APP}/subscriptions", 200, token=None,
              params={"access_token": g.app_token()})
    tour.call("POST", ("waba", "subscribed_apps"), f"{EXAMPLE_WABA}/subscribed_apps", 200)
    tour.call("GET", ("waba", "subscribed_apps"), f"{EXAMPLE_WABA}/subscribed_apps", 200)
    tour.call("POST", ("waba", "subscribed_apps"), f"{EXAMPLE_WABA}/subscribed_apps", 400,
              json={"override_callback_uri": f"{sb.url}/_sandbox/broken_webhook/forbidden", "verify_token": "x"})
    # messages: send, errors, mark as read
    tour.call("POST", ("phone", "messages"), f"{LIVE_PHONE}/messages", 200, json={
        "messaging_product": "whatsapp", "to": CONSUMER, "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}}})
    inbound = sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hello")
    tour.call("POST", ("phone", "messages"), f"{LIVE_PHONE}/messages", 200, json={
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": CONSUMER, "type": "text",
        "text": {"preview_url": False, "body": "hi"}})
    tour.call("POST", ("phone", "messages"), f"{LIVE_PHONE}/messages", 200, json={
        "messaging_product": "whatsapp", "status": "read", "message_id": inbound["id"]})
    tour.call("POST", ("phone", "messages"), f"{LIVE_PHONE}/messages", 200, json={
        "messaging_product": "whatsapp", "status": "read", "message_id": inbound["id"],
        "typing_indicator": {"type": "text"}})
    tour.call("POST", ("phone", "messages"), f"{LIVE_PHONE}/messages", 400, json={
        "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.not-received"})
    tour.call("POST", ("phone", "messages"), f"{TEST_PHONE}/messages", 400, json={
        "messaging_product": "whatsapp", "to": "+447700900555", "type": "text", "text": {"body": "hi"}})
    tour.call("POST", ("phone", "messages"), f"{DEMO_PHONE}/messages", 403, token="WHATSAPP_MANAGEMENT_ONLY_TOKEN",
              json={"messaging_product": "whatsapp", "to": CONSUMER, "type": "text", "text": {"body": "hi"}})
    tour.call("POST", ("phone", "messages"), f"{LIVE_PHONE}/messages", 400, json={
        "messaging_product": "whatsapp", "to": CONSUMER, "type": "template",
        "template": {"name": "no_such_template", "language": {"code": "en_US"}}})
    # business profile
    profile = ("phone", "whatsapp_business_profile")
    tour.call("GET", profile, f"{DEMO_PHONE}/whatsapp_business_profile", 200)  # never set up
    tour.call("POST", profile, f"{LIVE_PHONE}/whatsapp_business_profile", 200, json={
        "messaging_product": "whatsapp", "about": "Fresh flowers, delivered.", "address": "1 Market St",
        "description": "d" * 400, "email": "hello@example.com", "websites": ["https://example.com"],
        "vertical": "RETAIL", "profile_picture_handle": "4:cGljLmpwZw==:aW1hZ2UvanBlZw==:ARb-sandbox"})
    tour.call("GET", profile, f"{LIVE_PHONE}/whatsapp_business_profile", 200)
    tour.call("GET", profile, f"{LIVE_PHONE}/whatsapp_business_profile", 200, params={"fields": "about,vertical"})
    tour.call("POST", profile, f"{LIVE_PHONE}/whatsapp_business_profile", 400,
              json={"messaging_product": "whatsapp", "vertical": "SPACESHIPS"})
    tour.call("POST", profile, f"{LIVE_PHONE}/whatsapp_business_profile", 400,
              json={"messaging_product": "whatsapp", "about": "a" * 140})
    # the partner's side: its portfolio, credit line, system user on the customer's WABA, templates
    business = ("business", None)
    tour.call("GET", business, "100000000000001", 200)
    tour.call("GET", business, "100000000000002", 400)  # another business's portfolio
    tour.call("GET", ("business", "extendedcredits"), "100000000000001/extendedcredits", 200)
    tour.call("GET", ("business", "owned_whatsapp_business_accounts"),
              "100000000000001/owned_whatsapp_business_accounts", 200, params={"fields": "id,name,currency"})
    tour.call("GET", ("business", "client_whatsapp_business_accounts"),
              "100000000000001/client_whatsapp_business_accounts", 200)
    attach = ("credit_line", "whatsapp_credit_sharing_and_attach")
    tour.call("POST", attach, f"{CREDIT_LINE}/whatsapp_credit_sharing_and_attach", 400,
              params={"waba_currency": "JPY", "waba_id": CORAL_WABA})
    shared = tour.call("POST", attach, f"{CREDIT_LINE}/whatsapp_credit_sharing_and_attach", 200,
                       params={"waba_currency": "EUR", "waba_id": CORAL_WABA})
    # outside the spec (live_meta.yaml paths-outside-spec): Meta's "Verifying shared status" read
    tour.call("GET", ("allocation_config", None), shared["allocation_config_id"], 200,
              params={"fields": "receiving_credential"})
    tour.call("GET", ("allocation_config", None), shared["allocation_config_id"], 400, params={"fields": "colour"})
    tour.call("GET", ("credit_line", "owning_credit_allocation_configs"),
              f"{CREDIT_LINE}/owning_credit_allocation_configs", 200, params={"fields": "id,receiving_business"})
    tour.call("GET", waba, CORAL_WABA, 200, params={"fields": "primary_funding_id,health_status"})
    assigned = ("waba", "assigned_users")
    tour.call("GET", assigned, f"{CORAL_WABA}/assigned_users", 400)  # business= is required
    tour.call("POST", assigned, f"{CORAL_WABA}/assigned_users", 400, data={"user": PARTNER_USER, "tasks": "['FLY']"})
    tour.call("POST", assigned, f"{CORAL_WABA}/assigned_users", 200, data={"user": PARTNER_USER, "tasks": "['MANAGE']"})
    tour.call("GET", assigned, f"{CORAL_WABA}/assigned_users", 200, params={"business": "100000000000001"})
    tour.call("DELETE", assigned, f"{CORAL_WABA}/assigned_users", 200, params={"user": PARTNER_USER})
    templates = ("waba", "message_templates")
    tour.call("POST", templates, f"{EXAMPLE_WABA}/message_templates", 200, json={
        "name": "order_update", "language": "en_US", "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Your order {{1}} has shipped."}]})
    tour.call("POST", templates, f"{EXAMPLE_WABA}/message_templates", 400, json={
        "name": "Order Update!", "language": "en_US", "category": "UTILITY", "components": [{"type": "BODY", "text": "x"}]})
    tour.call("GET", templates, f"{EXAMPLE_WABA}/message_templates", 200)
    tour.call("GET", templates, f"{EXAMPLE_WABA}/message_templates", 200, params={"name": "order_update"})
    tour.call("DELETE", templates, f"{EXAMPLE_WABA}/message_templates", 200, params={"name": "order_update"})
    tour.call("DELETE", templates, f"{EXAMPLE_WABA}/message_templates", 400, params={"name": "order_update"})
    # a spec edge the sandbox does not emulate, and one that does not exist at all
    tour.call("GET", None, f"{LIVE_PHONE}/call_permissions", 400)
    tour.call("GET", None, f"{LIVE_PHONE}/no_such_edge", 400)
    # outside the spec: tokens, signup code exchange, app subscription removal
    tour.call("GET", None, "debug_token", 200, token=None, params={
        "input_token": g.env["WHATSAPP_TOKEN"], "access_token": g.app_token()})
    tour.call("DELETE", ("app", "subscriptions"), f"{EXAMPLE_APP}/subscriptions", 200, token=None,
              params={"object": "whatsapp_business_account", "access_token": g.app_token()})
    tour.call("DELETE", ("waba", "subscribed_apps"), f"{EXAMPLE_WABA}/subscribed_apps", 200)


@pytest.fixture
def tour(graph) -> Tour:
    return Tour(graph)


def test_every_response_validates_against_the_spec(tour, sb, receiver):
    run_tour(tour, sb, receiver)
    failures, used, validated = [], set(), 0
    for exchange in tour.exchanges:
        pointer = _schema_for(exchange)
        if pointer is None:
            assert exchange.template is None, f"no schema for {exchange.method} {exchange.template} {exchange.status}"
            continue
        problems, explained = sv.problems(exchange.body, pointer, "responses")
        if exchange.template.endswith("/whatsapp_business_profile") and exchange.status == 200 and "data" in exchange.body:
            for item in exchange.body["data"]:  # live_meta.yaml business-profile-flat: items are the profile itself
                more, more_explained = sv.problems(item, "#/components/schemas/WhatsAppBusinessProfile", "responses")
                problems, explained = problems + more, explained | more_explained
        validated += 1
        used |= explained
        failures += [f"{exchange.method} {exchange.template} {exchange.status}: {p}" for p in problems]
    assert not failures, "\n".join(failures)
    # The tour covers every route the sandbox serves, each method, with a success.
    served = {(route, method) for route, methods in graph_api.ROUTES.items() for method in methods}
    toured = {(e.route, e.method) for e in tour.exchanges if e.status == 200}
    assert served <= toured, f"routes without a successful call in the tour: {sorted(map(str, served - toured))}"
    # Every response-side difference that the sandbox relies on was needed by some answer.
    listed = {d["id"] for d in sv.differences("responses")}
    assert used == listed, f"listed but never needed: {sorted(listed - used)}; needed: {sorted(used)}"
    print(f"\n{validated} responses validated against the spec ({len(tour.exchanges)} exchanges, "
          f"{len({(e.method, e.template) for e in tour.exchanges if e.template})} spec operations)")


def test_every_node_field_has_a_getter(sb):
    state = sb.service.state
    phone = state.phones[LIVE_PHONE]
    waba = state.wabas[EXAMPLE_WABA]
    token = state.tokens[sb.demo_env()["WHATSAPP_TOKEN"]]
    assert set(state.phone_fields(phone, EXAMPLE_APP)) == set(spec_model.node_fields(spec_model.PHONE_NUMBER))
    assert set(state.waba_fields(waba, token)) == set(spec_model.node_fields(spec_model.WABA))


def test_node_fields_are_the_spec_plus_exactly_the_listed_live_fields():
    from helpers import spec
    for node in (spec_model.PHONE_NUMBER, spec_model.WABA):
        spec_fields = set(spec.index()["nodes"][node]["fields"])
        live = {d["field"] for d in spec.live_meta() if d.get("node") == node}
        assert set(spec_model.node_fields(node)) == spec_fields | live
        assert not spec_fields & live, "a live-Meta entry for a field the spec already has"
    # The fields a well-known client asks for are all served.
    for name in ("conversational_automation", "unified_cert_status", "quality_score", "is_preverified_number",
                 "eligibility_for_api_business_global_search", "platform_type", "throughput", "health_status"):
        assert name in spec_model.node_fields(spec_model.PHONE_NUMBER)


def test_a_field_in_neither_gets_metas_100(graph):
    error = error_of(graph.get(LIVE_PHONE, params={"fields": "id,shoe_size"}))
    assert error["code"] == 100
    assert error["message"] == "(#100) Tried accessing nonexisting field (shoe_size) on node type (WhatsAppBusinessPhoneNumber)"


def test_filtering_on_phone_numbers(graph):
    def ids(**condition):
        response = graph.get(f"{EXAMPLE_WABA}/phone_numbers", params={"filtering": json.dumps([condition])})
        assert response.status_code == 200, response.text
        return [row["id"] for row in response.json()["data"]]

    assert ids(field="account_mode", operator="EQUAL", value="SANDBOX") == [TEST_PHONE]
    live = ids(field="account_mode", operator="EQUAL", value="LIVE")
    assert TEST_PHONE not in live and len(live) == 6
    assert ids(field="is_official_business_account", operator="EQUAL", value=True) == []
    assert len(ids(field="messaging_limit_tier", operator="EQUAL", value="TIER_1K")) == 7
    bad = error_of(graph.get(f"{EXAMPLE_WABA}/phone_numbers", params={
        "filtering": json.dumps([{"field": "verified_name", "operator": "EQUAL", "value": "x"}])}))
    assert bad["code"] == 100 and "filtering[field]" in bad["message"]


def test_mark_as_read_and_typing_indicator(graph, sb):
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hello")
    inbound = sb.control.consumer_message(LIVE_PHONE, CONSUMER, "are you there?")
    read = graph.post(f"{LIVE_PHONE}/messages", json={"messaging_product": "whatsapp", "status": "read",
                                                      "message_id": inbound["id"], "typing_indicator": {"type": "text"}})
    assert read.status_code == 200 and read.json() == {"success": True}
    wrong = graph.post(f"{LIVE_PHONE}/messages", json={"messaging_product": "whatsapp", "status": "read",
                                                       "message_id": inbound["id"], "typing_indicator": {"type": "audio"}})
    assert error_of(wrong)["code"] == 100
    other = graph.post(f"{BLUEFIN_PHONE}/messages", token="BLUEFIN_TOKEN", json={
        "messaging_product": "whatsapp", "status": "read", "message_id": inbound["id"]})
    assert error_of(other)["code"] == 100  # a message another number received


def test_business_profile_round_trip_and_metas_checks(graph):
    path = f"{LIVE_PHONE}/whatsapp_business_profile"
    assert graph.get(path).json() == {"data": [{"messaging_product": "whatsapp", "vertical": "UNDEFINED"}]}
    ok = graph.post(path, json={"messaging_product": "whatsapp", "about": "Open 9-5", "vertical": "HEALTH",
                                "websites": ["https://a.example", "http://b.example"], "email": "desk@example.com"})
    assert ok.json() == {"success": True}
    (profile,) = graph.get(path).json()["data"]
    assert profile["about"] == "Open 9-5" and profile["vertical"] == "HEALTH"
    assert profile["websites"] == ["https://a.example", "http://b.example"]
    cases = [({"about": "x" * 140}, "(#100) Param about must be at most 139 characters long."),
             ({"description": "x" * 513}, "(#100) Param description must be at most 512 characters long."),
             ({"websites": ["https://a", "https://b", "https://c"]}, "(#100) Param websites must have at most 2 items."),
             ({"email": "not-an-address"}, "(#100) Invalid parameter"),
             ({"websites": ["ftp://files.example"]}, "(#100) Invalid parameter")]
    for change, message in cases:
        error = error_of(graph.post(path, json={"messaging_product": "whatsapp", **change}))
        assert error["code"] == 100 and error["message"] == message, (change, error)
    vertical = error_of(graph.post(path, json={"messaging_product": "whatsapp", "vertical": "SPACE"}))
    assert vertical["message"].startswith("(#100) Param vertical must be one of {") and "RESTAURANT" in vertical["message"]
    assert error_of(graph.post(path, json={"about": "no product"}))["message"] == \
        "(#100) The parameter messaging_product is required."
    (unchanged,) = graph.get(path).json()["data"]
    assert unchanged == profile  # a refused update changes nothing


@pytest.mark.parametrize("template,status", [
    ("/{Version}/{Phone-Number-ID}", 200), ("/{Version}/{Phone-Number-ID}", 400),
    ("/{Version}/{WABA-ID}/phone_numbers", 200), ("/{Version}/{Phone-Number-ID}/whatsapp_business_profile", 200)])
def test_the_validator_refuses_what_the_spec_refuses(template, status):
    """The contract check can fail: a response of the wrong shape is caught."""
    pointer = sv.response_schema("GET", template, status)
    wrong = {"data": "not a list"} if "phone_numbers" in template or "profile" in template else {"error": {"code": "x"}}
    if template == "/{Version}/{Phone-Number-ID}" and status == 200:
        wrong = {"id": 1, "quality_rating": "PURPLE"}
    problems, _ = sv.problems(wrong, pointer, "responses")
    assert problems
