"""Bad input is refused before any network call, with a message that says what to fix."""
from __future__ import annotations

import warnings

import pytest

from helpers import ConfigError, MissingSecretError, operations as ops, validate
from helpers.client import GraphClient
from helpers.validate import ApiVersionWarning

from fakes import FAKE_PIN


@pytest.fixture
def client(scripted, fake_secrets):
    return GraphClient(graph_url=scripted.url, token_env="TEST_TOKEN")


@pytest.mark.parametrize("value", ["", "12a4", "-1", "1 2", None, True, "１２３"])
def test_ids_must_be_digits(value):
    with pytest.raises(ConfigError, match="digits|missing|empty"):
        validate.graph_id(value, "waba_id")


def test_id_accepts_int_and_strips():
    assert validate.graph_id(200000000000001) == "200000000000001"
    assert validate.graph_id(" 42 ") == "42"


@pytest.mark.parametrize("value", ["12345", "1234567", "12a456", "", "12 456"])
def test_pin_is_exactly_six_digits_and_never_echoed(value):
    with pytest.raises(ConfigError) as info:
        validate.pin(value)
    assert "6 digits" in str(info.value)
    if value:
        assert value not in str(info.value)


@pytest.mark.parametrize("value,expected", [("+1 631-555-5555", "+16315555555"), ("16505551234", "16505551234")])
def test_phone_numbers(value, expected):
    assert validate.phone_number(value) == expected


@pytest.mark.parametrize("value", ["abc", "+", "12", "+1 (650) 555-12x4", "++16505551234"])
def test_bad_phone_numbers(value):
    with pytest.raises(ConfigError, match="country code"):
        validate.phone_number(value)


@pytest.mark.parametrize("value", ["25.0", "v25", "v25.1", "V25.0", "latest"])
def test_api_version_shape(value):
    with pytest.raises(ConfigError, match="v25.0"):
        validate.api_version(value)


def test_expired_version_warns_and_current_does_not():
    with pytest.warns(ApiVersionWarning, match="expired"):
        validate.api_version("v19.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate.api_version("v25.0") == "v25.0"
    with pytest.raises(ConfigError, match="not a version Meta has published"):
        validate.api_version("v99.0")


def test_unset_secret_names_the_variable_not_a_value(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(MissingSecretError) as info:
        validate.secret_from_env("NOT_SET_ANYWHERE", "access token")
    assert "NOT_SET_ANYWHERE" in str(info.value) and info.value.env_name == "NOT_SET_ANYWHERE"


def test_a_secret_pasted_as_env_name_is_refused_without_echo():
    with pytest.raises(ConfigError) as info:
        validate.env_name("EAAB-looks like a token!")
    assert "EAAB" not in str(info.value)


def test_client_construction_validates():
    with pytest.raises(ConfigError, match="graph_url"):
        GraphClient(graph_url="graph.facebook.com")
    with pytest.raises(ConfigError, match="api_version"):
        GraphClient(api_version="25")
    with pytest.raises(ConfigError, match="token_env"):
        GraphClient(token_env="not a name")


BAD_CALLS = [
    ("waba id", lambda c: ops.list_phone_numbers(c, "WABA-1")),
    ("page size", lambda c: ops.list_phone_numbers(c, "1", limit=0)),
    ("phone id", lambda c: ops.get_phone_number(c, "abc")),
    ("subscribe", lambda c: ops.subscribe_app(c, "")),
    ("unsubscribe", lambda c: ops.unsubscribe_app(c, "x")),
    ("code method", lambda c: ops.request_code(c, "1", code_method="EMAIL")),
    ("verify code", lambda c: ops.verify_code(c, "1", "abc")),
    ("pin env unset", lambda c: ops.register_phone_number(c, "1", pin_env="UNSET_PIN_VAR")),
    ("pin shape", lambda c: ops.register_phone_number(c, "1", pin_env="TEST_APP_SECRET")),
    ("region", lambda c: ops.register_phone_number(c, "1", pin_env="TEST_PIN", data_localization_region="Germany")),
    ("backup half", lambda c: ops.register_phone_number(c, "1", pin_env="TEST_PIN", backup_data="xyz")),
    ("recipient", lambda c: ops.send_text(c, "1", "not-a-number", "hi")),
    ("empty text", lambda c: ops.send_text(c, "1", "+16505551234", " ")),
    ("long text", lambda c: ops.send_text(c, "1", "+16505551234", "x" * 4097)),
    ("template name", lambda c: ops.send_template(c, "1", "+16505551234", name="hello world!")),
    ("app id", lambda c: ops.check_token(c, app_id="app", app_secret_env="TEST_APP_SECRET")),
    ("webhook url", lambda c: ops.set_app_webhook(c, app_id="1", app_secret_env="TEST_APP_SECRET",
                                                  callback_url="ftp://x", verify_token_env="TEST_PIN")),
    ("signup code", lambda c: ops.exchange_signup_code(c, app_id="1", app_secret_env="TEST_APP_SECRET", code="",
                                                       store_in_env="NEW_TOKEN")),
    ("two-step pin", lambda c: ops.set_two_step_pin(c, "1", pin_env="UNSET_PIN_VAR")),
]


@pytest.mark.parametrize("name,call", BAD_CALLS, ids=[n for n, _ in BAD_CALLS])
def test_operations_refuse_bad_input_before_the_network(client, scripted, monkeypatch, name, call):
    monkeypatch.delenv("UNSET_PIN_VAR", raising=False)
    with pytest.raises(ConfigError) as info:
        call(client)
    assert scripted.seen == [], f"{name}: a request was sent"
    assert FAKE_PIN not in str(info.value)


def test_missing_token_is_refused_before_the_network(scripted, monkeypatch):
    monkeypatch.delenv("TEST_TOKEN", raising=False)
    client = GraphClient(graph_url=scripted.url, token_env="TEST_TOKEN")
    with pytest.raises(MissingSecretError, match="TEST_TOKEN"):
        ops.get_waba(client, "200000000000001")
    assert scripted.seen == []


def test_the_version_table_is_current_to_v27():
    """Meta's changelog: v27.0 released 2026-11-04, its expiry (and v26.0's) not announced yet."""
    import datetime as dt

    from helpers import versions
    assert versions.LATEST_KNOWN_VERSION == "v27.0" and versions.VERSIONS["v27.0"] == (dt.date(2026, 11, 4), None)
    assert versions.VERSIONS["v26.0"][1] is None
    today = dt.date(2026, 12, 7)
    assert versions.version_status("v27.0", today)["status"] == "current"
    assert versions.version_status("v28.0", today)["status"] == "unknown"
    soon = versions.version_status("v21.0", today)
    assert soon["status"] == "expires soon" and soon["available_until"] == "2027-01-21" and "(45 days)" in soon["note"]
    assert versions.version_status("v22.0", today)["status"] == "current"  # 2027-05-20: more than 90 days away
    assert versions.version_status("v20.0", today)["status"] == "expired"


def test_v27_is_accepted_and_v21_warned_within_90_days_of_its_expiry():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate.api_version("v27.0") == "v27.0"
    with pytest.warns(ApiVersionWarning, match=r"v21\.0 expire[sd] on 2027-01-21"):
        validate.api_version("v21.0")
