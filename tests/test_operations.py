"""Every guide operation over the wire against the sandbox: success, and the failure Meta gives."""
from __future__ import annotations

import os

import pytest

from helpers import GraphAPIError, operations as ops, tables
from helpers.client import GraphClient
from helpers.webhooks import WebhookReceiver, WebhookStore

WABA = "200000000000001"
APP = "300000000000001"
PHONE = "400000000000001"        # VERIFIED, not registered, PIN in WHATSAPP_PIN
UNVERIFIED = "400000000000002"
CONSUMER = "+16505550100"





@pytest.fixture
def env(sandbox, monkeypatch):
    sandbox.control.reset()
    for name, value in sandbox.demo_env().items():
        monkeypatch.setenv(name, value)
    return sandbox.demo_env()


@pytest.fixture
def client(sandbox, env):
    return GraphClient(graph_url=sandbox.url, token_env="WHATSAPP_TOKEN", sleep=lambda s: None)


def test_check_token_admin_token_is_usable(client):
    report = ops.check_token(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET", waba_id=WABA)
    assert report["ok"] and report["type"] == "SYSTEM_USER" and report["missing_scopes"] == []
    assert report["target_ids"] is None and report["expires"] == "never"
    assert tables.token_report_table(report).set_index("check").loc["verdict", "value"] == "usable for onboarding"


def test_check_token_with_the_token_itself(client):
    assert ops.check_token(client)["is_valid"] is True


def test_check_token_reports_missing_scope_and_foreign_waba(sandbox, env):
    client = GraphClient(graph_url=sandbox.url, token_env="WHATSAPP_MANAGEMENT_ONLY_TOKEN")
    report = ops.check_token(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET", waba_id=WABA)
    assert report["missing_scopes"] == ["whatsapp_business_messaging"] and not report["ok"]
    client = GraphClient(graph_url=sandbox.url, token_env="WHATSAPP_OTHER_WABA_TOKEN")
    report = ops.check_token(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET", waba_id=WABA)
    assert report["waba_in_targets"] is False and any(WABA in p for p in report["problems"])


def test_expired_token_fails_every_call_with_190_463(sandbox, env):
    client = GraphClient(graph_url=sandbox.url, token_env="WHATSAPP_EXPIRED_TOKEN")
    with pytest.raises(GraphAPIError) as info:
        ops.get_waba(client, WABA)
    assert (info.value.code, info.value.subcode) == (190, 463)
    assert "system user token" in info.value.remedy
    assert os.environ["WHATSAPP_EXPIRED_TOKEN"] not in str(info.value)


def test_signup_code_exchange_stores_the_token_in_env(sandbox, client, monkeypatch):
    monkeypatch.setenv("CUSTOMER_BUSINESS_TOKEN", "")  # so that the value the code under test sets is undone too
    monkeypatch.delenv("CUSTOMER_BUSINESS_TOKEN")
    code = sandbox.control.signup_code(WABA, APP)
    result = ops.exchange_signup_code(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET", code=code,
                                      store_in_env="CUSTOMER_BUSINESS_TOKEN")
    assert result["token_env"] == "CUSTOMER_BUSINESS_TOKEN" and os.environ["CUSTOMER_BUSINESS_TOKEN"]
    with pytest.raises(GraphAPIError):  # single-use
        ops.exchange_signup_code(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET", code=code,
                                 store_in_env="CUSTOMER_BUSINESS_TOKEN")


def test_get_waba_and_wrong_id(client):
    assert ops.get_waba(client, WABA)["id"] == WABA
    with pytest.raises(GraphAPIError) as info:
        ops.get_waba(client, "299999999999999")
    assert (info.value.code, info.value.subcode) == (100, 33)
    assert "assign" in info.value.remedy


def test_subscribe_list_unsubscribe(client):
    assert ops.subscribe_app(client, WABA) == {"success": True}
    assert ops.subscribe_app(client, WABA) == {"success": True}  # re-running is safe
    assert ops.is_app_subscribed(client, WABA, APP)
    assert list(tables.subscribed_apps_table(ops.list_subscribed_apps(client, WABA))["app_id"]) == [APP]
    assert ops.unsubscribe_app(client, WABA) == {"success": True}
    assert not ops.is_app_subscribed(client, WABA, APP)


def test_override_before_subscribing_is_refused(client):
    with pytest.raises(GraphAPIError) as info:
        ops.subscribe_app(client, WABA, override_callback_uri="https://example.com/hook",
                          verify_token_env="WHATSAPP_VERIFY_TOKEN")
    assert info.value.code == 100 and "must be subscribed" in info.value.message


def test_list_phone_numbers_every_page_with_all_fields(client, sandbox):
    numbers = ops.list_phone_numbers(client, WABA, limit=2)
    assert len(numbers) >= 5
    table = tables.phone_numbers_table(numbers)
    row = table.set_index("phone_number_id").loc[PHONE]
    assert row["ready_to_register"] and not row["connected"]
    assert not table.set_index("phone_number_id").loc[UNVERIFIED, "verified"]
    one = ops.get_phone_number(client, PHONE)
    assert one["id"] == PHONE and one["display_phone_number"] == "+1 555-010-0001"
    assert ops.find_phone_number(numbers, display_phone_number="+1 555 010 0001")["id"] == PHONE


def test_request_and_verify_code(client, sandbox):
    assert ops.request_code(client, UNVERIFIED, code_method="SMS") == {"success": True}
    code = sandbox.control.verification_code(UNVERIFIED)
    assert ops.verify_code(client, UNVERIFIED, code)["success"] is True
    assert ops.get_phone_number(client, UNVERIFIED)["code_verification_status"] == "VERIFIED"
    with pytest.raises(GraphAPIError):  # single-use
        ops.verify_code(client, UNVERIFIED, code)


def test_register_unverified_number_needs_verification_first(client):
    with pytest.raises(GraphAPIError) as info:
        ops.register_phone_number(client, UNVERIFIED, pin_env="WHATSAPP_PIN")
    assert info.value.code == 133006 and "request_code" in info.value.remedy


def test_register_wrong_pin_then_right_pin_then_deregister(client, monkeypatch):
    monkeypatch.setenv("WRONG_PIN", "905173")
    with pytest.raises(GraphAPIError) as info:
        ops.register_phone_number(client, PHONE, pin_env="WRONG_PIN")
    assert info.value.code == 133005 and '{"pin"' in info.value.remedy
    assert "905173" not in str(info.value)
    assert ops.register_phone_number(client, PHONE, pin_env="WHATSAPP_PIN") == {"success": True}
    assert ops.get_phone_number(client, PHONE)["status"] == "CONNECTED"
    assert ops.deregister_phone_number(client, PHONE) == {"success": True}


def test_set_two_step_pin_then_register_with_it(client, monkeypatch):
    monkeypatch.setenv("NEW_PIN", "481516")
    assert ops.set_two_step_pin(client, PHONE, pin_env="NEW_PIN") == {"success": True}
    assert ops.register_phone_number(client, PHONE, pin_env="NEW_PIN") == {"success": True}


def test_app_webhook_handshake_and_messages_round_trip(client, sandbox, tmp_path):
    db = tmp_path / "hooks.sqlite"
    with WebhookReceiver(db, verify_token_env="WHATSAPP_VERIFY_TOKEN", app_secret_env="WHATSAPP_APP_SECRET") as rx:
        ops.set_app_webhook(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET", callback_url=rx.callback_url,
                            verify_token_env="WHATSAPP_VERIFY_TOKEN")
        assert any(s.get("callback_url") == rx.callback_url for s in
                   ops.get_app_webhook(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET"))
        ops.subscribe_app(client, WABA)
        ops.register_phone_number(client, PHONE, pin_env="WHATSAPP_PIN")
        sandbox.control.consumer_message(PHONE, CONSUMER, "Hello!")
        store = WebhookStore(db)
        inbound = store.wait_for_message(from_number=CONSUMER, phone_number_id=PHONE, timeout=20)
        assert inbound["text"] == "Hello!"
        sent = ops.send_text(client, PHONE, CONSUMER, "hello world!")
        wamid = ops.message_id(sent)
        assert wamid.startswith("wamid.") and len(wamid) <= 128
        assert store.wait_for_status(wamid, "read", timeout=20)["status"] == "read"
        template = ops.send_template(client, PHONE, CONSUMER)
        assert ops.message_id(template).startswith("wamid.")


def test_webhook_with_wrong_verify_token_is_refused(client, tmp_path, monkeypatch):
    with WebhookReceiver(tmp_path / "h.sqlite", verify_token_env="WHATSAPP_VERIFY_TOKEN",
                         app_secret_env="WHATSAPP_APP_SECRET") as rx:
        monkeypatch.setenv("WRONG_VERIFY_TOKEN", "not-the-receivers-token")
        with pytest.raises(GraphAPIError):
            ops.set_app_webhook(client, app_id=APP, app_secret_env="WHATSAPP_APP_SECRET",
                                callback_url=rx.callback_url, verify_token_env="WRONG_VERIFY_TOKEN")


def test_send_from_unregistered_number_fails(client):
    with pytest.raises(GraphAPIError) as info:
        ops.send_text(client, PHONE, CONSUMER, "hi")
    assert info.value.code in (133010, 131045) and "egister" in info.value.remedy


def test_phone_webhook_override(client, tmp_path):
    with WebhookReceiver(tmp_path / "o.sqlite", verify_token_env="WHATSAPP_VERIFY_TOKEN",
                         app_secret_env="WHATSAPP_APP_SECRET") as rx:
        assert ops.set_phone_webhook_override(client, PHONE, callback_url=rx.callback_url,
                                              verify_token_env="WHATSAPP_VERIFY_TOKEN")["success"] is True
        assert ops.set_phone_webhook_override(client, PHONE, callback_url="",
                                              verify_token_env="WHATSAPP_VERIFY_TOKEN")["success"] is True
