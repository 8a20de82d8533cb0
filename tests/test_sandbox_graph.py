"""The sandbox's Graph API over real HTTP: each endpoint's success and its documented errors."""
from __future__ import annotations

import json
import re
import urllib.parse

import pytest
import requests

from sandbox_fixtures import *  # noqa: F401,F403
from sandbox_fixtures import (BLUEFIN_APP, BLUEFIN_PHONE, CONSUMER, DEMO_PHONE, EXAMPLE_APP, EXAMPLE_BUSINESS,
                              EXAMPLE_WABA, EXPIRED_PHONE, LIVE_PHONE, MARKETING_WABA, ONPREM_PHONE,
                              STANDARD_LIVE_PHONE, TEST_PHONE, UNVERIFIED_PHONE, error_of)

UNSUPPORTED = ("Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing "
               "permissions, or does not support this operation. Please read the Graph API documentation at "
               "https://developers.facebook.com/docs/graph-api")


def assert_error(response, status, code, subcode=None, message=None):
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code, error
    assert error.get("error_subcode") == subcode, error
    assert error["fbtrace_id"] == response.headers["x-fb-trace-id"]
    if message is not None:
        assert error["message"] == message
    return error


# ---- envelope, headers, parameters, versions -------------------------------------------------

def test_headers_on_success(graph):
    response = graph.get(EXAMPLE_WABA)
    assert response.status_code == 200
    assert response.headers["facebook-api-version"] == "v25.0"
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", response.headers["x-fb-trace-id"])
    usage = json.loads(response.headers["X-Business-Use-Case-Usage"])
    (entry,) = usage[EXAMPLE_BUSINESS]
    assert entry["type"] == "whatsapp_business_management"
    assert set(entry) >= {"call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}


def test_any_version_prefix_and_expired_version_served_as_a_newer_one(graph):
    assert graph.get(EXAMPLE_WABA, version="v23.0").headers["facebook-api-version"] == "v23.0"
    served = graph.get(EXAMPLE_WABA, version="v19.0").headers["facebook-api-version"]
    assert served != "v19.0" and re.fullmatch(r"v\d+\.0", served)
    assert graph.get(EXAMPLE_WABA, version="v99.0").status_code == 200


def test_error_envelope_for_whatsapp_codes(graph):
    error = assert_error(graph.send_text(DEMO_PHONE), 400, 133010)
    assert error["message"] == "(#133010) Account not registered"
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert error["error_data"]["details"]


@pytest.mark.parametrize("how", ["query", "form", "json"])
def test_parameters_from_query_form_or_json(graph, sb, how):
    params = {"code_method": "SMS", "language": "en_US"}
    kwargs = {"query": {"params": params}, "form": {"data": params}, "json": {"json": params}}[how]
    assert graph.post(f"{UNVERIFIED_PHONE}/request_code", **kwargs).json() == {"success": True}
    code = sb.control.verification_code(UNVERIFIED_PHONE)
    verify_kwargs = {"query": {"params": {"code": code}}, "form": {"data": {"code": code}},
                     "json": {"json": {"code": code}}}[how]
    assert graph.post(f"{UNVERIFIED_PHONE}/verify_code", **verify_kwargs).json()["success"] is True


def test_multipart_form_fields_are_parameters(graph, sb):
    graph.post(f"{UNVERIFIED_PHONE}/request_code", params={"code_method": "SMS", "language": "en"})
    code = sb.control.verification_code(UNVERIFIED_PHONE)
    response = graph.post(f"{UNVERIFIED_PHONE}/verify_code", files={"code": (None, code)})
    assert response.json()["success"] is True


# ---- tokens ----------------------------------------------------------------------------------

def test_token_in_header_or_access_token_query(graph):
    assert graph.get(EXAMPLE_WABA).status_code == 200
    assert graph.get(EXAMPLE_WABA, token=None, params={"access_token": graph.token()}).status_code == 200


def test_missing_token(graph):
    error = assert_error(graph.get(EXAMPLE_WABA, token=None), 400, 104)
    assert error["message"] == "An access token is required to request this resource."


def test_unparsable_token(graph):
    response = graph.get(EXAMPLE_WABA, raw_token="not-a-token")
    error = assert_error(response, 401, 190, message="Invalid OAuth access token - Cannot parse access token")
    assert not error["message"].startswith("(#")
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_expired_token_fails_every_call(graph):
    for response in (graph.get(EXAMPLE_WABA, token="WHATSAPP_EXPIRED_TOKEN"),
                     graph.get(f"{EXAMPLE_WABA}/phone_numbers", token="WHATSAPP_EXPIRED_TOKEN"),
                     graph.register(DEMO_PHONE, token="WHATSAPP_EXPIRED_TOKEN"),
                     graph.get("debug_token", token="WHATSAPP_EXPIRED_TOKEN", params={"input_token": "x"})):
        error = assert_error(response, 401, 190, 463)
        assert error["message"].startswith("Error validating access token: Session has expired on ")
        assert "The current time is" in error["message"]


def test_token_reaches_only_its_business(graph):
    message = UNSUPPORTED.format(method="get", id=EXAMPLE_WABA)
    error = assert_error(graph.get(EXAMPLE_WABA, token="BLUEFIN_TOKEN"), 400, 100, 33, message)
    assert error["type"] == "GraphMethodException"
    assert_error(graph.register(DEMO_PHONE, token="BLUEFIN_TOKEN"), 400, 100, 33,
                 UNSUPPORTED.format(method="post", id=DEMO_PHONE))


def test_token_reaches_only_its_target_ids(graph):
    assert graph.get(MARKETING_WABA, token="WHATSAPP_OTHER_WABA_TOKEN").status_code == 200
    assert_error(graph.get(EXAMPLE_WABA, token="WHATSAPP_OTHER_WABA_TOKEN"), 400, 100, 33)
    error = assert_error(graph.register(DEMO_PHONE, token="WHATSAPP_OTHER_WABA_TOKEN"), 403, 200)
    assert error["message"] == "(#200) Permissions error"


def test_token_without_messaging_scope_cannot_send(graph):
    assert graph.get(EXAMPLE_WABA, token="WHATSAPP_MANAGEMENT_ONLY_TOKEN").status_code == 200
    error = assert_error(graph.send_template(LIVE_PHONE, token="WHATSAPP_MANAGEMENT_ONLY_TOKEN"), 403, 131005)
    assert "whatsapp_business_messaging" in error["error_data"]["details"]


# ---- debug_token -----------------------------------------------------------------------------

def test_debug_token_with_app_token(graph):
    response = graph.get("debug_token", token=None, params={"input_token": graph.token(),
                                                            "access_token": graph.app_token()})
    data = response.json()["data"]
    assert data["is_valid"] is True and data["type"] == "SYSTEM_USER" and data["app_id"] == EXAMPLE_APP
    assert data["expires_at"] == 0
    assert set(data["scopes"]) == {"whatsapp_business_management", "whatsapp_business_messaging"}
    assert all("target_ids" not in g for g in data["granular_scopes"])
    assert {"application", "issued_at", "user_id", "data_access_expires_at"} <= set(data)


def test_debug_token_with_the_token_itself_and_target_ids(graph):
    other = graph.token("WHATSAPP_OTHER_WABA_TOKEN")
    data = graph.get("debug_token", params={"input_token": other}).json()["data"]
    assert all(g["target_ids"] == [MARKETING_WABA] for g in data["granular_scopes"])


def test_debug_token_of_an_expired_or_unknown_token(graph):
    expired = graph.get("debug_token", token=None, params={
        "input_token": graph.token("WHATSAPP_EXPIRED_TOKEN"), "access_token": graph.app_token()})
    assert expired.status_code == 200
    data = expired.json()["data"]
    assert data["is_valid"] is False and data["type"] == "USER" and data["error"]["subcode"] == 463
    unknown = graph.get("debug_token", params={"input_token": "garbage"})
    assert unknown.status_code == 200
    assert unknown.json()["data"]["is_valid"] is False and unknown.json()["data"]["error"]["code"] == 190


def test_debug_token_from_another_app(graph):
    response = graph.get("debug_token", token=None, params={
        "input_token": graph.token(), "access_token": graph.app_token(BLUEFIN_APP, "BLUEFIN_APP_SECRET")})
    assert_error(response, 400, 100, message="(#100) The App_id in the input_token did not match the Viewing App")


def test_method_override_keeps_secrets_out_of_the_url(graph):
    response = graph.post("debug_token", token=None, data={
        "method": "GET", "input_token": graph.token(), "access_token": graph.app_token()})
    assert response.status_code == 200 and response.json()["data"]["is_valid"] is True
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps", data={"method": "DELETE"}).json() == {"success": True}
    assert graph.get(f"{EXAMPLE_WABA}/subscribed_apps").json() == {"data": []}


def test_app_token_with_wrong_secret_is_rejected(graph):
    assert_error(graph.get("debug_token", raw_token=f"{EXAMPLE_APP}|wrong", params={"input_token": "x"}), 401, 190)


# ---- Embedded Signup code exchange ------------------------------------------------------------

def test_signup_code_exchange_single_use_and_expiring(graph, sb):
    secret = graph.env["WHATSAPP_APP_SECRET"]
    code = sb.control.signup_code(EXAMPLE_WABA, EXAMPLE_APP)
    params = {"client_id": EXAMPLE_APP, "client_secret": secret, "code": code}
    exchanged = graph.get("oauth/access_token", token=None, params=params)
    assert exchanged.status_code == 200
    body = exchanged.json()
    assert body["token_type"] == "bearer"
    data = graph.get("debug_token", params={"input_token": body["access_token"]}).json()["data"]
    assert EXAMPLE_WABA in data["granular_scopes"][0]["target_ids"]
    assert graph.get(EXAMPLE_WABA, raw_token=body["access_token"]).status_code == 200
    assert_error(graph.get("oauth/access_token", token=None, params=params), 400, 100, 36009)

    late = sb.control.signup_code(EXAMPLE_WABA, EXAMPLE_APP)
    sb.control.advance_clock(31)
    assert_error(graph.get("oauth/access_token", token=None, params={**params, "code": late}), 400, 100, 36007)
    wrong = {**params, "code": sb.control.signup_code(EXAMPLE_WABA, EXAMPLE_APP), "client_secret": "nope"}
    assert_error(graph.get("oauth/access_token", token=None, params=wrong), 400, 1,
                 message="Error validating client secret.")
    assert_error(graph.get("oauth/access_token", token=None, params={**params, "code": "made-up"}), 400, 100)


# ---- WABA ------------------------------------------------------------------------------------

def test_waba_node_and_fields(graph):
    assert graph.get(EXAMPLE_WABA).json()["name"] == "Example Co"
    assert graph.get(EXAMPLE_WABA, params={"fields": "name,owner_business_info"}).json() == {
        "name": "Example Co", "owner_business_info": {"name": "Example Co", "id": EXAMPLE_BUSINESS},
        "id": EXAMPLE_WABA}
    error = assert_error(graph.get(EXAMPLE_WABA, params={"fields": "colour"}), 400, 100)
    assert error["message"] == "(#100) Tried accessing nonexisting field (colour) on node type (WhatsAppBusinessAccount)"


def test_subscribed_apps_get_post_delete(graph):
    path = f"{EXAMPLE_WABA}/subscribed_apps"
    assert graph.get(path).json() == {"data": []}
    assert graph.post(path).json() == {"success": True}
    (entry,) = graph.get(path).json()["data"]
    assert entry["whatsapp_business_api_data"]["id"] == EXAMPLE_APP
    assert entry["whatsapp_business_api_data"]["name"] == "Example Onboarding App"
    assert graph.post(path).json() == {"success": True}  # again: still one entry
    assert len(graph.get(path).json()["data"]) == 1
    assert graph.delete(path).json() == {"success": True}
    assert graph.get(path).json() == {"data": []}


def test_subscribed_apps_override_needs_a_subscription_first(graph, receiver):
    path = f"{EXAMPLE_WABA}/subscribed_apps"
    body = {"override_callback_uri": receiver.url("waba"), "verify_token": graph.env["WHATSAPP_VERIFY_TOKEN"]}
    error = assert_error(graph.post(path, json=body), 400, 100)
    assert error["message"] == ("(#100) Before override the current callback uri, your app must be subscribed to "
                                "receive messages for WhatsApp Business Account")
    assert graph.post(path).status_code == 200
    assert graph.post(path, json=body).json() == {"success": True}
    assert receiver.handshakes[-1]["path"] == "waba"
    assert graph.get(path).json()["data"][0]["override_callback_uri"] == receiver.url("waba")


# ---- phone numbers ---------------------------------------------------------------------------

def test_phone_numbers_paging_follows_next_across_pages(graph, sb):
    first = graph.get(f"{EXAMPLE_WABA}/phone_numbers", params={"limit": 2})
    pages, page = [first.json()], first.json()
    while "next" in page["paging"]:
        nxt = page["paging"]["next"]
        assert nxt.startswith(f"{sb.url}/v25.0/{EXAMPLE_WABA}/phone_numbers?")
        assert "access_token" not in nxt  # the token came in a header
        page = graph.http.get(nxt, headers={"Authorization": f"Bearer {graph.token()}"}).json()
        pages.append(page)
    assert len(pages) >= 3
    ids = [row["id"] for p in pages for row in p["data"]]
    assert len(ids) == len(set(ids)) == 7
    assert all(len(p["data"]) <= 2 for p in pages)
    assert "previous" not in pages[0]["paging"] and "previous" in pages[1]["paging"]
    assert set(pages[0]["paging"]["cursors"]) == {"before", "after"}
    # cursors alone, without the next URL
    after = pages[0]["paging"]["cursors"]["after"]
    again = graph.get(f"{EXAMPLE_WABA}/phone_numbers", params={"limit": 2, "after": after}).json()
    assert again["data"] == pages[1]["data"]
    before = graph.get(f"{EXAMPLE_WABA}/phone_numbers",
                       params={"limit": 2, "before": pages[1]["paging"]["cursors"]["before"]}).json()
    assert before["data"] == pages[0]["data"]


def test_phone_numbers_default_fields_and_fields_param(graph):
    row = graph.get(f"{EXAMPLE_WABA}/phone_numbers").json()["data"][0]
    assert {"verified_name", "code_verification_status", "display_phone_number", "quality_rating",
            "platform_type", "throughput", "id"} <= set(row)
    rows = graph.get(f"{EXAMPLE_WABA}/phone_numbers",
                     params={"fields": "id,status,name_status,account_mode,is_pin_enabled"}).json()["data"]
    by_id = {r["id"]: r for r in rows}
    assert set(by_id[DEMO_PHONE]) == {"id", "status", "name_status", "account_mode", "is_pin_enabled"}
    assert by_id[TEST_PHONE]["account_mode"] == "SANDBOX"
    assert by_id[DEMO_PHONE]["is_pin_enabled"] is True


def test_phone_numbers_paging_keeps_query_token_and_fields(graph):
    page = graph.get(f"{EXAMPLE_WABA}/phone_numbers", token=None,
                     params={"limit": 3, "fields": "id,status", "access_token": graph.token()}).json()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page["paging"]["next"]).query)
    assert query["fields"] == ["id,status"] and query["limit"] == ["3"] and "access_token" in query


def test_phone_numbers_bad_cursor_and_limit(graph):
    assert_error(graph.get(f"{EXAMPLE_WABA}/phone_numbers", params={"after": "nonsense!"}), 400, 100)
    assert_error(graph.get(f"{EXAMPLE_WABA}/phone_numbers", params={"limit": "many"}), 400, 100)


def test_phone_number_node(graph):
    number = graph.get(DEMO_PHONE).json()
    assert number["display_phone_number"] == "+1 555-010-0001"
    assert number["code_verification_status"] == "VERIFIED"
    assert number["platform_type"] == "CLOUD_API"
    fields = graph.get(DEMO_PHONE, params={"fields": "status,name_status,health_status,country_dial_code"}).json()
    assert fields["status"] == "PENDING" and fields["name_status"] == "APPROVED"
    assert fields["health_status"]["can_send_message"] == "BLOCKED"
    assert fields["country_dial_code"] == "1"
    assert_error(graph.get(DEMO_PHONE, params={"fields": "nope"}), 400, 100)


def test_set_two_step_pin(graph):
    assert graph.post(DEMO_PHONE, json={"pin": "418520"}).json() == {"success": True}
    assert graph.post(f"{DEMO_PHONE}/register", json={"messaging_product": "whatsapp", "pin": "418520"}).status_code == 200
    assert_error(graph.post(DEMO_PHONE, json={"pin": "12345"}), 400, 100)
    assert_error(graph.post(DEMO_PHONE, json={}), 400, 100)


def test_phone_webhook_override_set_and_delete(graph, receiver):
    config = {"override_callback_uri": receiver.url("phone"), "verify_token": graph.env["WHATSAPP_VERIFY_TOKEN"]}
    assert graph.post(LIVE_PHONE, json={"webhook_configuration": config}).json() == {"success": True}
    assert receiver.handshakes[-1]["path"] == "phone"
    shown = graph.get(LIVE_PHONE, params={"fields": "webhook_configuration"}).json()["webhook_configuration"]
    assert shown["phone_number"] == receiver.url("phone")
    # as a form field holding JSON
    assert graph.post(LIVE_PHONE, data={"webhook_configuration": json.dumps({"override_callback_uri": ""})}).status_code == 200
    assert "webhook_configuration" not in graph.get(LIVE_PHONE, params={"fields": "webhook_configuration"}).json()
    bad = {"override_callback_uri": receiver.url("phone"), "verify_token": "wrong"}
    error = assert_error(graph.post(LIVE_PHONE, json={"webhook_configuration": bad}), 400, 2200)
    assert "HTTP Status Code = 403" in error["message"]


# ---- request_code / verify_code ---------------------------------------------------------------

def test_request_and_verify_code(graph, sb):
    assert graph.post(f"{UNVERIFIED_PHONE}/request_code", json={"code_method": "SMS", "locale": "en_US"}).json() == {"success": True}
    sms = sb.control.last_sms(UNVERIFIED_PHONE)
    assert re.fullmatch(r"WhatsApp code \d{3}-\d{3}", sms["text"])
    assert_error(graph.post(f"{UNVERIFIED_PHONE}/verify_code", data={"code": "000000"}), 400, 136025)
    assert graph.post(f"{UNVERIFIED_PHONE}/verify_code", data={"code": sms["code"]}).json()["success"] is True
    assert graph.get(UNVERIFIED_PHONE).json()["code_verification_status"] == "VERIFIED"
    error = assert_error(graph.post(f"{UNVERIFIED_PHONE}/verify_code", data={"code": sms["code"]}), 400, 136025)
    assert "already been used" in error["error_data"]["details"]


def test_verification_code_expires_after_ten_minutes(graph, sb):
    graph.post(f"{EXPIRED_PHONE}/request_code", params={"code_method": "VOICE", "language": "en"})
    code = sb.control.verification_code(EXPIRED_PHONE)
    sb.control.advance_clock(601)
    error = assert_error(graph.post(f"{EXPIRED_PHONE}/verify_code", params={"code": code}), 400, 136025)
    assert "expired" in error["error_data"]["details"]


def test_request_code_parameters(graph):
    error = assert_error(graph.post(f"{UNVERIFIED_PHONE}/request_code", params={"code_method": "EMAIL", "language": "en"}), 400, 100)
    assert error["message"] == '(#100) Param code_method must be one of {SMS, VOICE} - got "EMAIL".'
    assert_error(graph.post(f"{UNVERIFIED_PHONE}/request_code", params={"language": "en"}), 400, 100,
                 message="(#100) The parameter code_method is required.")


# ---- register / deregister -------------------------------------------------------------------

def test_register_then_again_then_deregister(graph):
    assert graph.register(DEMO_PHONE).json() == {"success": True}
    number = graph.get(DEMO_PHONE, params={"fields": "status,platform_type,last_onboarded_time"}).json()
    assert number["status"] == "CONNECTED" and number["platform_type"] == "CLOUD_API"
    assert graph.register(DEMO_PHONE).json() == {"success": True}  # already registered: still success
    assert graph.post(f"{DEMO_PHONE}/deregister").json() == {"success": True}
    assert graph.get(DEMO_PHONE, params={"fields": "status"}).json()["status"] == "DISCONNECTED"


def test_register_with_data_localization_region(graph):
    body = {"messaging_product": "whatsapp", "pin": graph.env["WHATSAPP_PIN"], "data_localization_region": "DE"}
    assert graph.post(f"{DEMO_PHONE}/register", json=body).status_code == 200
    assert graph.get(DEMO_PHONE, params={"fields": "data_localization_region"}).json()["data_localization_region"] == "DE"
    assert_error(graph.post(f"{DEMO_PHONE}/register", json={**body, "data_localization_region": "Germany"}), 400, 100)


def test_register_needs_messaging_product_and_pin(graph):
    assert_error(graph.post(f"{DEMO_PHONE}/register", json={"pin": graph.env["WHATSAPP_PIN"]}), 400, 100,
                 message="(#100) The parameter messaging_product is required.")
    assert_error(graph.post(f"{DEMO_PHONE}/register", json={"messaging_product": "whatsapp"}), 400, 100,
                 message="(#100) The parameter pin is required.")


def test_register_unverified_or_expired_number(graph):
    assert_error(graph.register(UNVERIFIED_PHONE), 400, 133006, message="(#133006) Phone number re-verification needed")
    assert_error(graph.register(EXPIRED_PHONE), 400, 133006)


def test_register_wrong_pin_then_too_many_guesses(graph):
    wrong = {"messaging_product": "whatsapp", "pin": "111111"}
    for _ in range(5):
        assert_error(graph.post(f"{DEMO_PHONE}/register", json=wrong), 400, 133005,
                     message="(#133005) Two step verification PIN Mismatch")
    error = assert_error(graph.register(DEMO_PHONE), 400, 133008)
    assert "Try again after" in error["error_data"]["details"]


def test_register_rate_limit_ten_per_72_hours(graph, sb):
    for _ in range(10):
        assert graph.register(DEMO_PHONE).status_code == 200
    error = assert_error(graph.register(DEMO_PHONE), 400, 133016)
    assert "too many attempts" in error["error_data"]["details"]
    sb.control.advance_clock(71 * 3600)
    assert_error(graph.register(DEMO_PHONE), 400, 133016)
    sb.control.advance_clock(2 * 3600)
    assert graph.register(DEMO_PHONE).status_code == 200


def test_deregister_rate_limit_counts_separately(graph):
    for _ in range(10):
        assert graph.post(f"{DEMO_PHONE}/deregister").status_code == 200
    assert_error(graph.post(f"{DEMO_PHONE}/deregister"), 400, 133016)
    assert graph.register(DEMO_PHONE).status_code == 200


def test_register_fails_until_terms_of_service_accepted(graph, sb):
    sb.control.accept_terms(EXAMPLE_BUSINESS, accepted=False)
    error = assert_error(graph.register(DEMO_PHONE), 403, 200)
    assert "Terms of Service" in error["error_data"]["details"]
    sb.control.accept_terms(EXAMPLE_BUSINESS)
    assert graph.register(DEMO_PHONE).status_code == 200


def test_migration_from_on_premises_with_backup(graph):
    env = graph.env
    base = {"messaging_product": "whatsapp", "pin": env["WHATSAPP_PIN"]}
    assert graph.get(ONPREM_PHONE).json()["platform_type"] == "ON_PREMISE"
    assert_error(graph.post(f"{ONPREM_PHONE}/register", json=base), 400, 100)
    wrong = {**base, "backup": {"data": env["WHATSAPP_BACKUP_DATA"], "password": "wrong-password"}}
    assert_error(graph.post(f"{ONPREM_PHONE}/register", json=wrong), 400, 131009)
    right = {**base, "backup": {"data": env["WHATSAPP_BACKUP_DATA"], "password": env["WHATSAPP_BACKUP_PASSWORD"]}}
    assert graph.post(f"{ONPREM_PHONE}/register", json=right).json() == {"success": "true"}
    assert graph.get(ONPREM_PHONE).json()["platform_type"] == "CLOUD_API"
    assert_error(graph.post(f"{DEMO_PHONE}/register", json={**right}), 400, 100)  # backup on a Cloud number


# ---- messages --------------------------------------------------------------------------------

def test_send_template_response_envelope(graph):
    body = graph.send_template(LIVE_PHONE).json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": CONSUMER, "wa_id": CONSUMER.lstrip("+")}]
    (message,) = body["messages"]
    assert message["id"].startswith("wamid.") and len(message["id"]) <= 128
    assert message["message_status"] == "accepted"


def test_send_text_in_form_fields(graph, sb):
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    response = graph.post(f"{LIVE_PHONE}/messages", data={
        "messaging_product": "whatsapp", "to": CONSUMER, "type": "text", "text": json.dumps({"body": "hello"})})
    assert response.status_code == 200 and response.json()["messages"][0]["id"].startswith("wamid.")


def test_send_errors(graph):
    assert_error(graph.send_text(DEMO_PHONE), 400, 133010)
    assert_error(graph.send_text(ONPREM_PHONE), 500, 131045)
    assert_error(graph.send_text(LIVE_PHONE, to="+15550100006"), 400, 131021,
                 message="(#131021) Recipient cannot be sender")
    assert_error(graph.send_template(TEST_PHONE, to="+447700900555"), 400, 131030, 2494055,
                 message="(#131030) Recipient phone number not in allowed list")
    assert graph.send_template(TEST_PHONE, to=CONSUMER).status_code == 200
    assert_error(graph.post(f"{LIVE_PHONE}/messages", json={"to": CONSUMER, "type": "text", "text": {"body": "x"}}),
                 400, 100, message="(#100) The parameter messaging_product is required.")
    assert_error(graph.post(f"{LIVE_PHONE}/messages", json={"messaging_product": "whatsapp", "type": "text",
                                                            "text": {"body": "x"}}), 400, 100)
    assert_error(graph.post(f"{LIVE_PHONE}/messages", json={"messaging_product": "whatsapp", "to": CONSUMER,
                                                            "type": "template", "template": {"name": "nope",
                                                                                             "language": {"code": "en_US"}}}),
                 400, 132001)
    assert_error(graph.post(f"{LIVE_PHONE}/messages", json={"messaging_product": "whatsapp", "to": CONSUMER,
                                                            "type": "fax", "fax": {}}), 400, 100)


def test_throughput_limit_on_the_sandbox_clock(graph, sb):
    sb.control.freeze_clock()
    for _ in range(80):
        assert graph.send_template(STANDARD_LIVE_PHONE).status_code == 200
    error = assert_error(graph.send_template(STANDARD_LIVE_PHONE), 400, 130429, 2494055,
                         message="(#130429) Rate limit hit")
    assert error["is_transient"] is True
    sb.control.advance_clock(1)
    assert graph.send_template(STANDARD_LIVE_PHONE).status_code == 200


# ---- app webhook subscription ----------------------------------------------------------------

def test_app_subscription_handshake_and_save(graph, receiver):
    response = graph.set_app_callback(receiver.url("app"))
    assert response.json() == {"success": True}
    (handshake,) = receiver.handshakes
    assert handshake["hub.mode"] == "subscribe"
    assert handshake["hub.verify_token"] == graph.env["WHATSAPP_VERIFY_TOKEN"]
    assert handshake["hub.challenge"].isdigit()
    (sub,) = graph.get(f"{EXAMPLE_APP}/subscriptions", token=None,
                       params={"access_token": graph.app_token()}).json()["data"]
    assert sub["object"] == "whatsapp_business_account" and sub["callback_url"] == receiver.url("app")
    assert [f["name"] for f in sub["fields"]] == ["messages"]
    shown = graph.get(LIVE_PHONE, params={"fields": "webhook_configuration"}).json()["webhook_configuration"]
    assert shown == {"application": receiver.url("app")}
    assert graph.delete(f"{EXAMPLE_APP}/subscriptions", token=None,
                        params={"access_token": graph.app_token(), "object": "whatsapp_business_account"}).status_code == 200
    assert graph.get(f"{EXAMPLE_APP}/subscriptions", token=None, params={"access_token": graph.app_token()}).json() == {"data": []}


def test_app_subscription_refused_when_the_handshake_fails(graph, receiver, sb):
    receiver.verify_token = "something-else"
    error = assert_error(graph.set_app_callback(receiver.url("app")), 400, 2200)
    assert error["message"].startswith("(#2200) Callback verification failed with the following errors:")
    quoted = assert_error(graph.set_app_callback(f"{sb.url}/_sandbox/broken_webhook/quoted_challenge"), 400, 2200)
    assert 'received="\\"' in quoted["message"]
    unreachable = assert_error(graph.set_app_callback("http://127.0.0.1:9/nothing-listens"), 400, 2200)
    assert "Failed to connect" in unreachable["message"]
    assert graph.get(f"{EXAMPLE_APP}/subscriptions", token=None, params={"access_token": graph.app_token()}).json() == {"data": []}


def test_app_subscription_needs_the_app_token(graph, receiver):
    response = graph.post(f"{EXAMPLE_APP}/subscriptions", params={
        "object": "whatsapp_business_account", "callback_url": receiver.url(), "verify_token": "x", "fields": "messages"})
    assert_error(response, 400, 15, message="(#15) This method must be called with an app access_token.")
    assert_error(graph.post(f"{EXAMPLE_APP}/subscriptions", token=None, params={
        "access_token": graph.app_token(), "object": "whatsapp_business_account"}), 400, 100)


# ---- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path,kwargs,status,code,subcode", [
    ("POST", f"{DEMO_PHONE}/register", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, 100, None),
    ("POST", f"{DEMO_PHONE}/register", {"data": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 400, 100, None),
    ("GET", "abc", {}, 400, 100, 33),
    ("GET", "12ab34", {}, 400, 100, 33),
    ("GET", "999999999999999", {}, 400, 100, 33),
    ("GET", f"{EXAMPLE_WABA}/nonsense", {}, 400, 100, None),
    ("POST", f"{EXAMPLE_WABA}/nonsense", {}, 400, 100, 33),
    ("GET", f"{EXAMPLE_WABA}/phone_numbers/extra", {}, 400, 2500, None),
    ("DELETE", DEMO_PHONE, {}, 400, 100, 33),
    ("PUT", EXAMPLE_WABA, {}, 400, 100, 33),
    ("GET", f"{DEMO_PHONE}/register", {}, 400, 100, 33),
    ("GET", "", {}, 400, 2500, None),
    ("POST", "debug_token", {}, 400, 100, 33),
])
def test_bad_input_gets_graph_errors(graph, method, path, kwargs, status, code, subcode):
    response = graph.request(method, path, **kwargs)
    assert_error(response, status, code, subcode)
    assert "Traceback" not in response.text


def test_wrong_method_message_names_the_method(graph):
    error = assert_error(graph.delete(DEMO_PHONE), 400, 100, 33)
    assert error["message"].startswith("Unsupported delete request. Object with ID '400000000000001'")


def test_bluefin_onboarding_number(graph):
    assert graph.get(BLUEFIN_PHONE, token="BLUEFIN_TOKEN").json()["display_phone_number"] == "+44 7700 900101"
    assert graph.register(BLUEFIN_PHONE, pin_env="BLUEFIN_PIN", token="BLUEFIN_TOKEN").json() == {"success": True}


def test_unversioned_paths_work_too(graph):
    response = graph.get(EXAMPLE_WABA, version=None)
    assert response.status_code == 200 and response.headers["facebook-api-version"] == "v25.0"


def test_control_api_is_not_under_a_version(graph, sb):
    assert requests.get(f"{sb.url}/_sandbox/clock", timeout=5).status_code == 200
    assert_error(graph.get("_sandbox/clock"), 400, 100, 33)
