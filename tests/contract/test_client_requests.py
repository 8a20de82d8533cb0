"""Every request each guide operation sends conforms to Meta's OpenAPI spec.

Each public function of helpers/operations.py is called with a real GraphClient pointed at the
contract server (tests/contract/contract_server.py), which checks every request against the
spec: path template and method, path, query and header parameters, auth, and body. The operations
are enumerated with `inspect`, so a new operation without a case here fails the suite.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import requests

import spec_validation as sv
from contract_server import NOT_IN_SPEC, ContractGraph, example_response, match_template, request_differences
from fakes import FAKE_APP_SECRET, FAKE_PIN, FAKE_TOKEN
from helpers import GraphAPIError, operations as ops, validate
from helpers.client import GraphClient
from helpers.validate import ConfigError

WABA = "200000000000001"
APP = "300000000000001"
PHONE = "400000000000001"
CONSUMER = "+16505550100"
BUSINESS = "100000000000001"
CREDIT_LINE = "610000000000001"
ALLOCATION = "580000000000001"  # an allocation config: what sharing CREDIT_LINE created
# assigned_users is under /{WhatsApp-Business-Account-ID}/ in the spec: another WABA ID stands for that name.
CLIENT_WABA = "200000000000004"
# Which fixture ID is which kind of node: the spec's /{Version}/{Phone-Number-ID} and
# /{Version}/{WABA-ID} have the same shape, and only the kind of the ID tells them apart.
IDS = {WABA: "WABA-ID", APP: "Application-ID", PHONE: "Phone-Number-ID", BUSINESS: "Business-ID",
       CREDIT_LINE: "Extended-Credit-Line-ID", CLIENT_WABA: "WhatsApp-Business-Account-ID",
       ALLOCATION: "Allocation-Config-ID"}

FAKE_ENV = {
    "CONTRACT_TOKEN": FAKE_TOKEN,
    "CONTRACT_APP_SECRET": FAKE_APP_SECRET,
    "CONTRACT_PIN": FAKE_PIN,
    "CONTRACT_VERIFY_TOKEN": "fake-verify-token-for-tests-0001",
    "CONTRACT_BACKUP_PASSWORD": "fake-backup-password-0001",
}

GET_WABA = ("GET", "/{Version}/{WABA-ID}")
GET_PHONE = ("GET", "/{Version}/{Phone-Number-ID}")
POST_PHONE = ("POST", "/{Version}/{Phone-Number-ID}")
PHONE_NUMBERS = ("GET", "/{Version}/{WABA-ID}/phone_numbers")
LIST_APPS = ("GET", "/{Version}/{WABA-ID}/subscribed_apps")
SUBSCRIBE = ("POST", "/{Version}/{WABA-ID}/subscribed_apps")
UNSUBSCRIBE = ("DELETE", "/{Version}/{WABA-ID}/subscribed_apps")
REQUEST_CODE = ("POST", "/{Version}/{Phone-Number-ID}/request_code")
VERIFY_CODE = ("POST", "/{Version}/{Phone-Number-ID}/verify_code")
REGISTER = ("POST", "/{Version}/{Phone-Number-ID}/register")
DEREGISTER = ("POST", "/{Version}/{Phone-Number-ID}/deregister")
MESSAGES = ("POST", "/{Version}/{Phone-Number-ID}/messages")
# Graph endpoints the spec does not describe (answered by the contract server's NOT_IN_SPEC table).
DEBUG_TOKEN = ("GET", "/{Version}/debug_token")
CODE_EXCHANGE = ("GET", "/{Version}/oauth/access_token")
APP_SUBSCRIBE = ("POST", "/{Version}/{Application-ID}/subscriptions")
APP_SUBSCRIPTIONS = ("GET", "/{Version}/{Application-ID}/subscriptions")
SHARE_CREDIT = ("POST", "/{Version}/{Extended-Credit-Line-ID}/whatsapp_credit_sharing_and_attach")
CREDIT_ALLOCATIONS = ("GET", "/{Version}/{Extended-Credit-Line-ID}/owning_credit_allocation_configs")
RECEIVING_CREDENTIAL = ("GET", "/{Version}/{Allocation-Config-ID}")
NOT_IN_SPEC_ENDPOINTS = {DEBUG_TOKEN, CODE_EXCHANGE, APP_SUBSCRIBE, APP_SUBSCRIPTIONS, SHARE_CREDIT, CREDIT_ALLOCATIONS,
                         RECEIVING_CREDENTIAL}
CREDIT_LINES = ("GET", "/{Version}/{Business-ID}/extendedcredits")
ASSIGNED_USERS = ("GET", "/{Version}/{WhatsApp-Business-Account-ID}/assigned_users")
ASSIGN_USER = ("POST", "/{Version}/{WhatsApp-Business-Account-ID}/assigned_users")
BUSINESS_PROFILE = ("GET", "/{Version}/{Phone-Number-ID}/whatsapp_business_profile")
SET_BUSINESS_PROFILE = ("POST", "/{Version}/{Phone-Number-ID}/whatsapp_business_profile")
TEMPLATES = ("GET", "/{Version}/{WABA-ID}/message_templates")
CREATE_TEMPLATE = ("POST", "/{Version}/{WABA-ID}/message_templates")

# Spec defects: the request schema refuses what Meta's own example request in the same spec sends.
# Allowed by their live_meta.yaml id, for these operations only.
TEXT_SCHEMA_CLOSED = "send-text-schema-closed"            # Send Text Message
LANGUAGE_POLICY = "send-template-language-policy"         # Send Test Message
ALLOWED_DIFFERENCES: dict[str, set[str]] = {
    "send_text": {TEXT_SCHEMA_CLOSED},
    "send_template": {LANGUAGE_POLICY},
}


@dataclass
class Case:
    variant: str
    call: Callable[[GraphClient], Any]
    expect: list[tuple[str, str]]  # (method, template) of each request, in order


def _send_response() -> dict:
    return example_response("post", MESSAGES[1])


# One or more calls per operation; `expect` is what the server must see (empty: no request).
CASES: dict[str, list[Case]] = {
    "app_token": [Case("local", lambda c: ops.app_token(APP, "CONTRACT_APP_SECRET"), [])],
    "check_token": [
        Case("app token", lambda c: ops.check_token(c, app_id=APP, app_secret_env="CONTRACT_APP_SECRET", waba_id=WABA),
             [DEBUG_TOKEN]),
        Case("own token", lambda c: ops.check_token(c), [DEBUG_TOKEN]),
    ],
    "exchange_signup_code": [
        Case("code", lambda c: ops.exchange_signup_code(c, app_id=APP, app_secret_env="CONTRACT_APP_SECRET",
                                                        code="FAKE-SIGNUP-CODE-0001", store_in_env="CONTRACT_BUSINESS_TOKEN"),
             [CODE_EXCHANGE]),
    ],
    "get_waba": [Case("default fields", lambda c: ops.get_waba(c, WABA), [GET_WABA])],
    "set_app_webhook": [
        Case("messages", lambda c: ops.set_app_webhook(c, app_id=APP, app_secret_env="CONTRACT_APP_SECRET",
                                                       callback_url="https://example.com/hook",
                                                       verify_token_env="CONTRACT_VERIFY_TOKEN"),
             [APP_SUBSCRIBE]),
    ],
    "get_app_webhook": [
        Case("list", lambda c: ops.get_app_webhook(c, app_id=APP, app_secret_env="CONTRACT_APP_SECRET"), [APP_SUBSCRIPTIONS]),
    ],
    "set_phone_webhook_override": [
        Case("set", lambda c: ops.set_phone_webhook_override(c, PHONE, callback_url="https://example.com/phone-hook",
                                                             verify_token_env="CONTRACT_VERIFY_TOKEN"), [POST_PHONE]),
        Case("remove", lambda c: ops.set_phone_webhook_override(c, PHONE, callback_url="",
                                                                verify_token_env="CONTRACT_VERIFY_TOKEN"), [POST_PHONE]),
    ],
    "subscribe_app": [
        Case("plain", lambda c: ops.subscribe_app(c, WABA), [SUBSCRIBE]),
        Case("override", lambda c: ops.subscribe_app(c, WABA, override_callback_uri="https://example.com/waba-hook",
                                                     verify_token_env="CONTRACT_VERIFY_TOKEN"), [SUBSCRIBE]),
    ],
    "list_subscribed_apps": [Case("list", lambda c: ops.list_subscribed_apps(c, WABA), [LIST_APPS])],
    "unsubscribe_app": [Case("delete", lambda c: ops.unsubscribe_app(c, WABA), [UNSUBSCRIBE])],
    "is_app_subscribed": [Case("check", lambda c: ops.is_app_subscribed(c, WABA, APP), [LIST_APPS])],
    "list_phone_numbers": [
        Case("default", lambda c: ops.list_phone_numbers(c, WABA), [PHONE_NUMBERS]),
        Case("page size", lambda c: ops.list_phone_numbers(c, WABA, limit=2, fields=("id", "status")), [PHONE_NUMBERS]),
    ],
    "get_phone_number": [Case("default fields", lambda c: ops.get_phone_number(c, PHONE), [GET_PHONE])],
    "app_in": [Case("local", lambda c: ops.app_in([{"whatsapp_business_api_data": {"id": APP}}], APP), [])],
    "find_phone_number": [
        Case("local", lambda c: ops.find_phone_number(example_response("get", PHONE_NUMBERS[1])["data"],
                                                      display_phone_number="+1 631-555-5555"), []),
    ],
    "request_code": [
        Case("sms", lambda c: ops.request_code(c, PHONE), [REQUEST_CODE]),
        Case("voice", lambda c: ops.request_code(c, PHONE, code_method="voice", language="pt_BR"), [REQUEST_CODE]),
    ],
    "verify_code": [Case("dashed code", lambda c: ops.verify_code(c, PHONE, "123-456"), [VERIFY_CODE])],
    "register_phone_number": [
        Case("pin", lambda c: ops.register_phone_number(c, PHONE, pin_env="CONTRACT_PIN"), [REGISTER]),
        Case("local storage", lambda c: ops.register_phone_number(c, PHONE, pin_env="CONTRACT_PIN",
                                                                  data_localization_region="de"), [REGISTER]),
        Case("migration", lambda c: ops.register_phone_number(c, PHONE, pin_env="CONTRACT_PIN", backup_data="FAKE-BACKUP-DATA",
                                                              backup_password_env="CONTRACT_BACKUP_PASSWORD"), [REGISTER]),
    ],
    "deregister_phone_number": [Case("deregister", lambda c: ops.deregister_phone_number(c, PHONE), [DEREGISTER])],
    "set_two_step_pin": [Case("pin", lambda c: ops.set_two_step_pin(c, PHONE, pin_env="CONTRACT_PIN"), [POST_PHONE])],
    "send_text": [
        Case("text", lambda c: ops.send_text(c, PHONE, CONSUMER, "hello world!"), [MESSAGES]),
        Case("preview url", lambda c: ops.send_text(c, PHONE, CONSUMER, "see https://example.com", preview_url=True),
             [MESSAGES]),
    ],
    "send_template": [
        Case("hello_world", lambda c: ops.send_template(c, PHONE, CONSUMER), [MESSAGES]),
        Case("body parameter", lambda c: ops.send_template(
            c, PHONE, CONSUMER, name="order_update", language="en",
            components=[{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]), [MESSAGES]),
    ],
    "message_id": [Case("local", lambda c: ops.message_id(_send_response()), [])],
    "list_credit_lines": [Case("partner", lambda c: ops.list_credit_lines(c, BUSINESS), [CREDIT_LINES])],
    "credit_allocations": [
        Case("all", lambda c: ops.credit_allocations(c, CREDIT_LINE), [CREDIT_ALLOCATIONS]),
        Case("one business", lambda c: ops.credit_allocations(c, CREDIT_LINE, receiving_business_id=BUSINESS),
             [CREDIT_ALLOCATIONS]),
    ],
    "receiving_credential": [Case("share", lambda c: ops.receiving_credential(c, ALLOCATION), [RECEIVING_CREDENTIAL])],
    "share_credit_line": [Case("eur", lambda c: ops.share_credit_line(c, CREDIT_LINE, waba_id=CLIENT_WABA,
                                                                      waba_currency="eur"), [SHARE_CREDIT])],
    # The spec's example answer has a next page: both pages are read.
    "list_assigned_users": [Case("partner's", lambda c: ops.list_assigned_users(c, CLIENT_WABA, business_id=BUSINESS),
                                 [ASSIGNED_USERS, ASSIGNED_USERS])],
    "assign_user": [
        Case("manage", lambda c: ops.assign_user(c, CLIENT_WABA, user_id="500000000000001"), [ASSIGN_USER]),
        Case("granular", lambda c: ops.assign_user(c, CLIENT_WABA, user_id="500000000000001",
                                                   tasks=["MANAGE_TEMPLATES", "MANAGE_PHONE", "MANAGE_BILLING"]),
             [ASSIGN_USER]),
    ],
    "get_business_profile": [Case("default fields", lambda c: ops.get_business_profile(c, PHONE), [BUSINESS_PROFILE])],
    "set_business_profile": [
        Case("every key", lambda c: ops.set_business_profile(
            c, PHONE, about="Dental care", address="Friedrichstr. 1, Berlin", description="Family dentistry",
            email="praxis@example.com", websites=["https://example.com"], vertical="HEALTH"), [SET_BUSINESS_PROFILE]),
        Case("about only", lambda c: ops.set_business_profile(c, PHONE, about="Open 9-5"), [SET_BUSINESS_PROFILE]),
    ],
    "list_message_templates": [
        Case("all", lambda c: ops.list_message_templates(c, WABA), [TEMPLATES]),
        Case("by name", lambda c: ops.list_message_templates(c, WABA, name="order_shipped"), [TEMPLATES]),
    ],
    "create_message_template": [
        Case("utility with variables", lambda c: ops.create_message_template(
            c, WABA, name="order_shipped", language="en_US", body="Your order {{1}} ships on {{2}}."),
             [CREATE_TEMPLATE]),
    ],
    "get_health_status": [Case("phone number", lambda c: ops.get_health_status(c, PHONE), [GET_PHONE])],
}


def public_operations() -> list[str]:
    return sorted(name for name, fn in inspect.getmembers(ops, inspect.isfunction)
                  if fn.__module__ == ops.__name__ and not name.startswith("_"))


@pytest.fixture(scope="module")
def graph():
    with ContractGraph(IDS) as server:
        yield server


@pytest.fixture
def client(graph, monkeypatch):
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONTRACT_BUSINESS_TOKEN", "")  # recorded, so the token the code exchange stores is removed after
    monkeypatch.delenv("CONTRACT_BUSINESS_TOKEN")
    graph.clear()
    return GraphClient(graph_url=graph.url, token_env="CONTRACT_TOKEN", max_retries=0, sleep=lambda s: None)


def _report(received) -> str:
    return "\n".join(f"{r.method} {r.path} ({r.template}): " + ("; ".join(r.problems) or "ok") for r in received)


@pytest.mark.parametrize("name", public_operations())
def test_every_request_conforms_to_the_spec(name, graph, client):
    assert name in CASES, f"operations.{name} has no contract case: add one to CASES"
    allowed = ALLOWED_DIFFERENCES.get(name, set())
    for case in CASES[name]:
        graph.clear()
        try:
            case.call(client)
        except GraphAPIError:
            pass  # the problems the server recorded say why; asserted just below
        seen = list(graph.received)
        assert all(not r.problems for r in seen), f"{name} ({case.variant}):\n{_report(seen)}"
        assert [r.key for r in seen] == case.expect, f"{name} ({case.variant}) sent {[r.key for r in seen]}"
        for r in seen:
            if r.key in NOT_IN_SPEC_ENDPOINTS:
                assert not r.in_spec and r.operation_id is None
            else:
                assert r.in_spec and r.operation_id == sv.operation(*r.key)["operationId"]
            assert r.differences <= allowed, f"{name} ({case.variant}) relied on differences {r.differences - allowed}"


def test_every_case_is_a_public_operation():
    assert set(CASES) == set(public_operations())


@pytest.mark.parametrize("name", sorted(ALLOWED_DIFFERENCES))
def test_allowed_differences_are_listed_and_still_needed(name, graph, client):
    """Each allowance names a live_meta.yaml request difference that the call really needs, and nothing else fails."""
    listed = {d["id"]: d for d in request_differences()}
    assert ALLOWED_DIFFERENCES[name] <= set(listed), f"add {ALLOWED_DIFFERENCES[name] - set(listed)} to helpers/spec/live_meta.yaml"
    places = set()
    for diff_id in ALLOWED_DIFFERENCES[name]:
        where = listed[diff_id]["where"]
        places |= set(where) if isinstance(where, list) else {where}
    strict = ContractGraph(IDS, diffs=[]).start()  # the spec alone, no differences allowed
    try:
        strict_client = GraphClient(graph_url=strict.url, token_env="CONTRACT_TOKEN", max_retries=0, sleep=lambda s: None)
        for case in CASES[name]:
            with pytest.raises(GraphAPIError):
                case.call(strict_client)
        assert strict.received and all(r.problems for r in strict.received)
        for r in strict.received:  # the spec alone refuses these requests only where the differences say
            assert all(any(f"in {place}]" in p for place in places) for p in r.problems), r.problems
    finally:
        strict.stop()


def test_not_in_spec_endpoints_are_really_absent_from_the_spec():
    paths = sv.document()["paths"]
    assert {(e.method.upper(), e.template) for e in NOT_IN_SPEC} == NOT_IN_SPEC_ENDPOINTS
    for method, template in NOT_IN_SPEC_ENDPOINTS:
        assert method.lower() not in paths.get(template, {}), f"{method} {template} is in the spec now: check it there"


# ---- the contract server finds what it is meant to find -------------------------------------------

def _raw(graph, method: str, path: str, *, token: str | None = FAKE_TOKEN, **kwargs) -> tuple[requests.Response, Any]:
    """A request straight to the server (no GraphClient), to send what the client never would."""
    graph.clear()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, graph.url + path, headers=headers, timeout=10, **kwargs)
    (record,) = graph.received
    return response, record


def _refused(case_id: str, method: str, path: str, kwargs: dict, expected: str, token: str | None = FAKE_TOKEN):
    return pytest.param(method, path, kwargs, token, expected, id=case_id)


REFUSED = [
    _refused("version pattern", "POST", f"/v25/{PHONE}/register", {"json": {"messaging_product": "whatsapp", "pin": FAKE_PIN}},
             "path parameter 'Version'"),
    _refused("missing body field", "POST", f"/v25.0/{PHONE}/register", {"json": {"messaging_product": "whatsapp"}},
             "'pin' is a required property"),
    _refused("wrong type", "POST", f"/v25.0/{PHONE}/register", {"json": {"messaging_product": "whatsapp", "pin": 918273}},
             "is not of type 'string'"),
    _refused("no token", "POST", f"/v25.0/{PHONE}/register", {"json": {"messaging_product": "whatsapp", "pin": FAKE_PIN}},
             "no access token", token=None),
    _refused("enum in body", "POST", f"/v25.0/{PHONE}/register",
             {"json": {"messaging_product": "whatsapp", "pin": FAKE_PIN, "data_localization_region": "FR"}}, "'FR' is not one of"),
    _refused("no body", "POST", f"/v25.0/{PHONE}/register", {}, "requires a request body"),
    _refused("required header", "POST", f"/v25.0/{PHONE}/request_code", {"params": {"code_method": "SMS", "language": "en_US"}},
             "required header parameter 'Content-Type'"),
    _refused("enum in form", "POST", f"/v25.0/{PHONE}/request_code", {"data": {"code_method": "EMAIL", "language": "en_US"}},
             "'EMAIL' is not one of"),
    _refused("misspelt form field", "POST", f"/v25.0/{PHONE}/verify_code", {"data": {"verification_code": "123456"}},
             "'code' is a required property"),
    _refused("misspelt json field", "POST", f"/v25.0/{PHONE}",
             {"json": {"webhook_config": {"override_callback_uri": "https://example.com"}}}, "'webhook_config' is not a property"),
    _refused("query maximum", "GET", f"/v25.0/{WABA}/phone_numbers", {"params": {"limit": "500"}}, "500 is greater than the maximum"),
    _refused("query enum", "GET", f"/v25.0/{WABA}/phone_numbers", {"params": {"sort": "newest"}}, "'newest' is not one of"),
    _refused("undeclared query", "GET", f"/v25.0/{WABA}", {"params": {"field": "id,name"}}, "parameter 'field' is not in the spec"),
    _refused("method not in spec", "PUT", f"/v25.0/{WABA}/subscribed_apps", {}, "neither a spec operation"),
    _refused("path not in spec", "GET", f"/v25.0/{WABA}/nonexistent_edge", {}, "neither a spec operation"),
    _refused("id of no known kind", "GET", "/v25.0/999999999999999", {}, "neither a spec operation"),
    _refused("user token for app endpoint", "POST", f"/v25.0/{APP}/subscriptions", {"data": {"object": "whatsapp_business_account"}},
             "needs the app access token"),
    _refused("code exchange without secret", "POST", "/v25.0/oauth/access_token",
             {"data": {"method": "GET", "client_id": APP, "code": "x"}}, "'client_secret' is missing", token=None),
]


@pytest.mark.parametrize("method, path, kwargs, token, expected", REFUSED)
def test_server_reports_what_the_spec_refuses(graph, method, path, kwargs, token, expected):
    response, record = _raw(graph, method, path, token=token, **kwargs)
    assert any(expected in p for p in record.problems), record.problems
    assert response.status_code == 400
    body = response.json()
    assert expected in body["error"]["message"]
    assert sv.problems(body, sv.GRAPH_ERROR, []) == ([], set())  # a well-formed Graph error envelope


def test_server_accepts_parameters_in_query_form_or_json_alike(graph):
    """Graph reads a parameter wherever it is sent; the body schema applies to all three."""
    fields = {"code_method": "SMS", "language": "en_US"}
    for kwargs in ({"json": fields}, {"data": fields},
                   {"params": fields, "headers": {"Content-Type": "application/x-www-form-urlencoded"}}):
        graph.clear()
        headers = {"Authorization": f"Bearer {FAKE_TOKEN}", **kwargs.pop("headers", {})}
        response = requests.post(f"{graph.url}/v25.0/{PHONE}/request_code", headers=headers, timeout=10, **kwargs)
        assert response.status_code == 200 and response.json() == {"success": True}
        assert graph.received[0].problems == [] and graph.received[0].params == fields


def test_server_takes_access_token_instead_of_the_header(graph):
    response, record = _raw(graph, "GET", f"/v25.0/{PHONE}", token=None, params={"access_token": FAKE_TOKEN})
    assert response.status_code == 200 and record.problems == []
    assert response.json() == example_response("get", GET_PHONE[1])


def test_server_answers_with_the_spec_example(graph):
    response, record = _raw(graph, "GET", f"/v25.0/{WABA}/subscribed_apps")
    first = sv.operation("get", LIST_APPS[1])["responses"]["200"]["content"]["application/json"]["examples"]
    assert response.json() == next(iter(first.values()))["value"]
    assert record.operation_id == "getAllSubscriptionsForAWaba"


def test_node_paths_are_told_apart_by_the_kind_of_id():
    paths = sv.document()["paths"]
    assert match_template(f"/v25.0/{PHONE}", IDS, paths) == ("/{Version}/{Phone-Number-ID}",
                                                             {"Version": "v25.0", "Phone-Number-ID": PHONE})
    assert match_template(f"/v25.0/{WABA}", IDS, paths)[0] == "/{Version}/{WABA-ID}"
    assert match_template(f"/v25.0/{PHONE}/register", IDS, paths)[0] == "/{Version}/{Phone-Number-ID}/register"
    assert match_template("/v25.0/999999999999999", IDS, paths) == (None, {})  # an ID of no known kind


# ---- the client refuses, before any request, what the spec would refuse --------------------------

@pytest.mark.parametrize("call, message", [
    (lambda c: ops.verify_code(c, PHONE, "12345"), "6 digits"),
    (lambda c: ops.register_phone_number(c, PHONE, pin_env="CONTRACT_PIN", data_localization_region="FR"), "Local Storage"),
    (lambda c: ops.list_phone_numbers(c, WABA, limit=101), "1 to 100"),
], ids=["verify_code length", "register region", "page size"])
def test_client_refuses_before_sending(graph, client, call, message):
    with pytest.raises(ConfigError) as info:
        call(client)
    assert message in str(info.value)
    assert graph.received == []


def test_local_storage_regions_are_the_specs():
    enum = sv.resolve("#/components/schemas/WhatsAppDataLocalizationRegion")["enum"]
    assert sorted(validate.local_storage_regions()) == sorted(enum)

