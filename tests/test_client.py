"""GraphClient over the wire against a scripted server on 127.0.0.1."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess

import pytest

from helpers import ConfigError, GraphAPIError, MessageMayHaveBeenSentError, NetworkError
from helpers.client import GraphClient
from helpers.remedies import catalogue
from scripted_graph import Reply, graph_error

from fakes import FAKE_TOKEN

RETRYABLE = [1, 2, 4, 17, 80007, 130429, 131000, 131016, 131056, 133004]
NOT_RETRYABLE = sorted({r.code for r in catalogue()} - set(RETRYABLE))


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(scripted, fake_secrets, sleeps):
    return GraphClient(graph_url=scripted.url, token_env="TEST_TOKEN", timeout=2, sleep=sleeps.append)


def test_get_sends_bearer_header_version_and_user_agent(client, scripted):
    scripted.default = Reply(body={"id": "200000000000001", "name": "Example"})
    assert client.get("200000000000001", fields=["id", "name"]) == {"id": "200000000000001", "name": "Example"}
    seen = scripted.seen[0]
    assert seen.path == "/v25.0/200000000000001"
    assert seen.query == {"fields": ["id,name"]}
    assert seen.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert seen.headers["User-Agent"].startswith("wa-onboarding-playbook/")


def test_success_string_true_is_normalised(client, scripted):
    scripted.default = Reply(body={"success": "true"})
    assert client.post("200000000000001/subscribed_apps") == {"success": True}
    scripted.default = Reply(body={"success": "false"})
    assert client.post("200000000000001/subscribed_apps") == {"success": False}


def test_paginate_follows_next_across_three_pages_and_stays_on_own_host(client, scripted):
    pages = [
        Reply(body={"data": [{"id": "1"}, {"id": "2"}], "paging": {"cursors": {"before": "b0", "after": "c1"},
              "next": "https://graph.facebook.com/v25.0/200000000000001/phone_numbers?limit=2&after=c1&access_token=LEAK"}}),
        Reply(body={"data": [{"id": "3"}, {"id": "4"}], "paging": {"cursors": {"before": "c1", "after": "c2"},
              "next": "https://graph.facebook.com/v25.0/200000000000001/phone_numbers?limit=2&after=c2"}}),
        Reply(body={"data": [{"id": "5"}], "paging": {"cursors": {"before": "c2", "after": "c3"}}}),
    ]
    scripted.queue("/phone_numbers", *pages)
    items = list(client.paginate("200000000000001/phone_numbers", limit=2))
    assert [i["id"] for i in items] == ["1", "2", "3", "4", "5"]
    assert len(scripted.seen) == 3
    assert [s.query.get("after") for s in scripted.seen] == [None, ["c1"], ["c2"]]
    assert all("access_token" not in s.query for s in scripted.seen)


def test_paginate_stops_on_a_repeated_cursor(client, scripted):
    loop = Reply(body={"data": [{"id": "1"}], "paging": {"cursors": {"after": "same"},
                 "next": "http://x/v25.0/1/phone_numbers?after=same"}})
    scripted.queue("/phone_numbers", loop, loop, loop)
    assert len(list(client.paginate("1/phone_numbers"))) == 2
    assert len(scripted.seen) == 2


@pytest.mark.parametrize("code", RETRYABLE)
def test_retryable_codes_are_retried(client, scripted, sleeps, code):
    scripted.queue("/messages", graph_error(code, status=400), Reply(body={"messages": [{"id": "wamid.X"}]}))
    result = client.post("400000000000001/messages", json={"messaging_product": "whatsapp"})
    assert result["messages"][0]["id"] == "wamid.X"
    assert len(scripted.seen) == 2
    assert len(sleeps) == 1 and sleeps[0] > 0
    assert client.retry_log[0]["reason"].startswith(f"code {code}")


@pytest.mark.parametrize("code", NOT_RETRYABLE)
def test_other_codes_are_not_retried(client, scripted, sleeps, code):
    scripted.queue("/register", graph_error(code))
    with pytest.raises(GraphAPIError) as info:
        client.post("400000000000001/register", json={"messaging_product": "whatsapp"})
    assert info.value.code == code
    assert info.value.retryable is False
    assert len(scripted.seen) == 1 and sleeps == []


def test_unknown_code_raises_with_metas_message(client, scripted):
    scripted.queue("/x", graph_error(999999, "Brand new failure", details="new details"))
    with pytest.raises(GraphAPIError) as info:
        client.get("1/x")
    err = info.value
    assert err.message == "(#999999) Brand new failure" and err.details == "new details"
    assert err.fbtrace_id == "TRACE999999" and err.http_status == 400
    assert "not in the playbook's catalogue" in err.remedy
    assert "Brand new failure" in str(err)


def test_error_fields_and_remedy(client, scripted):
    scripted.queue("/register", graph_error(133005, "Two step verification PIN Mismatch", details="PIN mismatch"))
    with pytest.raises(GraphAPIError) as info:
        client.post("400000000000001/register", json={})
    err = info.value
    assert (err.code, err.type, err.details, err.http_status) == (133005, "OAuthException", "PIN mismatch", 400)
    assert 'POST /{PHONE_NUMBER_ID} {"pin"' in err.remedy
    assert "fbtrace_id TRACE133005" in str(err)


def test_details_can_be_an_object(client, scripted):
    scripted.queue("/x", graph_error(100, details={"field": "pin"}))
    with pytest.raises(GraphAPIError) as info:
        client.get("1/x")
    assert info.value.details == {"field": "pin"}


def test_expired_token_subcode_remedy(client, scripted):
    scripted.queue("/x", graph_error(190, subcode=463, status=401))
    with pytest.raises(GraphAPIError) as info:
        client.get("1/x")
    assert info.value.subcode == 463 and "system user token" in info.value.remedy


def test_retry_after_is_honoured(client, scripted, sleeps):
    scripted.queue("/x", graph_error(4, headers={"Retry-After": "7"}), Reply(body={"ok": 1}))
    assert client.get("1/x") == {"ok": 1}
    assert sleeps == [7.0]


def test_business_use_case_wait_in_minutes_is_honoured(client, scripted, sleeps):
    buc = '{"100000000000001":[{"type":"whatsapp_business_management","call_count":100,"estimated_time_to_regain_access":1}]}'
    scripted.queue("/x", graph_error(80007, headers={"X-Business-Use-Case-Usage": buc}), Reply(body={"ok": 1}))
    client.get("1/x")
    assert sleeps == [60.0]


def test_total_wait_is_bounded(scripted, fake_secrets, sleeps):
    client = GraphClient(graph_url=scripted.url, token_env="TEST_TOKEN", sleep=sleeps.append, max_total_wait=30)
    scripted.queue("/x", graph_error(4, headers={"Retry-After": "600"}), Reply(body={"ok": 1}))
    with pytest.raises(GraphAPIError) as info:
        client.get("1/x")
    assert info.value.code == 4 and sleeps == [] and len(scripted.seen) == 1


def test_pair_rate_limit_waits_four_to_the_n(client, scripted, sleeps):
    scripted.queue("/messages", *[graph_error(131056) for _ in range(3)], Reply(body={"messages": [{"id": "w"}]}))
    client.post("400000000000001/messages", json={})
    assert sleeps == [1.0, 4.0, 16.0]


def test_limited_retries_for_131000(client, scripted, sleeps):
    scripted.queue("/messages", *[graph_error(131000, status=500) for _ in range(5)])
    with pytest.raises(GraphAPIError):
        client.post("400000000000001/messages", json={})
    assert len(scripted.seen) == 3  # first try + 2 retries


def test_5xx_without_graph_body_retried_on_get_not_on_post(client, scripted, sleeps):
    scripted.queue("/x", Reply(status=502, raw=b"<html>bad gateway</html>"), Reply(body={"ok": 1}))
    assert client.get("1/x") == {"ok": 1}
    scripted.queue("/register", Reply(status=502, raw=b"bad gateway"), Reply(body={"success": True}))
    with pytest.raises(GraphAPIError) as info:
        client.post("1/register", json={})
    assert info.value.http_status == 502 and info.value.code is None
    assert [s.path for s in scripted.seen].count("/v25.0/1/register") == 1


def test_connection_refused_is_retried_then_reported(fake_secrets, sleeps):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    client = GraphClient(graph_url=f"http://127.0.0.1:{port}", token_env="TEST_TOKEN", sleep=sleeps.append, max_retries=2)
    with pytest.raises(NetworkError) as info:
        client.get("1/x")
    assert len(sleeps) == 2
    assert FAKE_TOKEN not in str(info.value)


def test_timed_out_send_is_not_resent(client, scripted):
    scripted.queue("/messages", Reply(delay=3.0, body={"messages": [{"id": "w"}]}))
    with pytest.raises(MessageMayHaveBeenSentError) as info:
        client.post("400000000000001/messages", json={"messaging_product": "whatsapp"})
    assert "may have been sent" in str(info.value)
    assert len(scripted.seen) == 1


def test_timed_out_get_is_retried(client, scripted, sleeps):
    scripted.queue("/x", Reply(delay=3.0), Reply(body={"ok": 1}))
    assert client.get("1/x") == {"ok": 1}
    assert len(sleeps) == 1


def test_usage_headers_and_trace_are_kept(client, scripted):
    scripted.default = Reply(body={"ok": 1}, headers={
        "X-Business-Use-Case-Usage": '{"1":[{"type":"whatsapp","call_count":3}]}',
        "X-App-Usage": '{"call_count":5,"total_time":1,"total_cputime":1}',
        "x-fb-trace-id": "TRACE-OK", "facebook-api-version": "v25.0"})
    client.get("1")
    assert client.last_usage["fbtrace_id"] == "TRACE-OK"
    assert client.last_usage["app_usage"]["call_count"] == 5
    assert client.last_usage["business_use_case_usage"]["1"][0]["call_count"] == 3
    assert client.last_usage["api_version"] == "v25.0"


def test_no_token_in_errors_logs_repr_or_urls(client, scripted, caplog):
    caplog.set_level(logging.DEBUG)
    scripted.queue("/x", graph_error(190, subcode=463, status=401))
    with pytest.raises(GraphAPIError) as info:
        client.get("1/x")
    scripted.default = Reply(body={"data": {"is_valid": True}})
    client.request("GET", "debug_token", secret_params={"input_token": FAKE_TOKEN})
    texts = [str(info.value), repr(info.value), repr(client), *(r.getMessage() for r in caplog.records)]
    texts += [s.uri for s in scripted.seen]
    assert all(FAKE_TOKEN not in t for t in texts)
    debug = scripted.seen[-1]
    assert debug.method == "POST" and b"method=GET" in debug.body and b"input_token=" in debug.body


def test_path_with_query_or_host_is_refused_before_the_network(client, scripted):
    for bad in ("1/x?access_token=abc", "https://evil.example/1", ""):
        with pytest.raises(ValueError):
            client.get(bad)
    assert scripted.seen == []


# ---- the call log ------------------------------------------------------------------------------------
def test_calls_are_logged_with_status_ms_and_fbtrace_id(client, scripted, sleeps):
    scripted.queue("/x", graph_error(4), Reply(body={"ok": 1}, headers={"x-fb-trace-id": "TRACE-HEADER"}))
    client.get("200000000000001/x", fields=["id", "name"])
    scripted.queue("/register", graph_error(133005, "Two step verification PIN Mismatch"))
    with pytest.raises(GraphAPIError):
        client.post("400000000000001/register", json={"messaging_product": "whatsapp"})
    throttled, answered, refused = client.calls
    assert (throttled["method"], throttled["path"], throttled["status"]) == ("GET", "/v25.0/200000000000001/x", 400)
    assert throttled["fbtrace_id"] == "TRACE4" and throttled["error_code"] == 4  # from the error body
    assert answered["status"] == 200 and answered["fbtrace_id"] == "TRACE-HEADER"  # from the header
    assert answered["query"] == {"fields": "id,name"} and answered["error_code"] is None
    assert refused["error_code"] == 133005 and refused["fbtrace_id"] == "TRACE133005"
    assert all(isinstance(c["ms"], int) and c["ms"] >= 0 for c in client.calls)
    assert [c["seq"] for c in client.calls] == [1, 2, 3] and client.calls_since(2) == [refused]
    assert FAKE_TOKEN not in repr(list(client.calls))
    assert '-H "Authorization: Bearer $TEST_TOKEN"' in answered["curl"]


def test_a_call_that_got_no_answer_is_logged_too(fake_secrets, sleeps):
    client = GraphClient(graph_url="http://127.0.0.1:9", token_env="TEST_TOKEN", sleep=sleeps.append, max_retries=1)
    with pytest.raises(NetworkError):
        client.get("1/x")
    assert [(c["status"], c["error"]) for c in client.calls] == [(None, "ConnectionError")] * 2


def test_the_log_is_bounded(client, scripted):
    import collections
    client.calls = collections.deque(maxlen=3)
    scripted.default = Reply(body={"ok": 1})
    for _ in range(5):
        client.get("1")
    assert len(client.calls) == 3 and [c["seq"] for c in client.calls] == [3, 4, 5]


def test_secret_query_values_become_references(client, scripted, fake_secrets):
    scripted.default = Reply(body={"ok": 1})
    client.refer_secrets("TEST_APP_SECRET")
    client.get("1", access_token=FAKE_TOKEN, appsecret_proof="a" * 64, other=f"x{fake_secrets['TEST_APP_SECRET']}")
    call = client.calls[-1]
    assert call["query"] == {"access_token": "$TEST_TOKEN", "appsecret_proof": "$APPSECRET_PROOF",
                             "other": "x$TEST_APP_SECRET"}
    assert all(value not in call["curl"] for value in [*fake_secrets.values(), "a" * 64])


def _every_secret_operation(sb, client):
    """Each operation that sends a secret (header, form or JSON body), as the steps call them."""
    from helpers import operations as ops
    calls = [
        lambda: ops.check_token(client, app_id="300000000000001", app_secret_env="WHATSAPP_APP_SECRET"),
        lambda: ops.get_app_webhook(client, app_id="300000000000001", app_secret_env="WHATSAPP_APP_SECRET"),
        lambda: ops.subscribe_app(client, "200000000000001", override_callback_uri="https://example.com/hook",
                                  verify_token_env="WHATSAPP_VERIFY_TOKEN"),
        lambda: ops.register_phone_number(client, "400000000000004", pin_env="WHATSAPP_PIN",
                                          backup_data="SANDBOX-ONPREM-BACKUP-400000000000004-not-real",
                                          backup_password_env="WHATSAPP_BACKUP_PASSWORD"),
        lambda: ops.verify_code(client, "400000000000002", "123-456"),
        lambda: ops.set_two_step_pin(client, "400000000000001", pin_env="WHATSAPP_PIN"),
        lambda: ops.exchange_signup_code(client, app_id="300000000000001", app_secret_env="WHATSAPP_APP_SECRET",
                                         code=sb.control.signup_code("200000000000001", "300000000000001"),
                                         store_in_env="CALL_LOG_SIGNUP_TOKEN"),
    ]
    for call in calls:
        try:
            call()
        except GraphAPIError:
            pass  # a refused call is logged as well; what matters here is what the log holds


def test_curl_and_call_lines_never_hold_a_secret_value(sb, monkeypatch):
    """With the sandbox demo env's real (fake) values: token, app secret, PIN, backup password, verify token."""
    monkeypatch.setenv("CALL_LOG_SIGNUP_TOKEN", "")
    client = GraphClient(graph_url=sb.url)
    _every_secret_operation(sb, client)
    env = sb.demo_env()
    secrets = {name: env[name] for name in ("WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_PIN",
                                            "WHATSAPP_BACKUP_PASSWORD", "WHATSAPP_VERIFY_TOKEN")}
    secrets["signup token"] = os.environ["CALL_LOG_SIGNUP_TOKEN"]
    text = json.dumps(list(client.calls))
    assert len(client.calls) == 7
    assert [name for name, value in secrets.items() if value in text] == []
    curls = {c["path"].rsplit("/", 1)[-1]: c["curl"] for c in client.calls}
    assert '"Authorization: Bearer 300000000000001|$WHATSAPP_APP_SECRET"' in curls["debug_token"]
    assert '"input_token=$WHATSAPP_TOKEN"' in curls["debug_token"]
    assert '\\"pin\\": \\"$WHATSAPP_PIN\\"' in curls["register"]
    assert '\\"password\\": \\"$WHATSAPP_BACKUP_PASSWORD\\"' in curls["register"]
    assert '\\"verify_token\\": \\"$WHATSAPP_VERIFY_TOKEN\\"' in curls["subscribed_apps"]
    assert '"client_secret=$WHATSAPP_APP_SECRET"' in curls["access_token"] and "code=$CODE" in curls["access_token"]
    assert '"code=$CODE"' in curls["verify_code"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_the_curl_line_pasted_into_a_shell_makes_the_same_call(sb):
    from helpers import operations as ops
    client = GraphClient(graph_url=sb.url)
    report = ops.check_token(client, app_id="300000000000001", app_secret_env="WHATSAPP_APP_SECRET")
    numbers = ops.list_phone_numbers(client, "200000000000001", fields=["id", "status"])
    env = {"PATH": os.environ["PATH"], **sb.demo_env()}  # the reader exports the variables, then pastes
    answers = [json.loads(subprocess.run(["bash", "-c", c["curl"]], env=env, capture_output=True, text=True,
                                         check=True, timeout=30).stdout) for c in client.calls]
    assert answers[0]["data"]["is_valid"] is True and report["is_valid"] is True
    assert [n["id"] for n in answers[1]["data"]] == [n["id"] for n in numbers]


def test_a_pins_digits_inside_an_id_stay_as_they_are(client, scripted, fake_secrets):
    scripted.default = Reply(body={"ok": 1})
    client.refer_secrets("TEST_PIN")
    pin = fake_secrets["TEST_PIN"]
    client.post("1", json={"pin": pin, "note": f"4000{pin}01", "also": pin})
    curl = client.calls[-1]["curl"]
    assert f'\\"note\\": \\"4000{pin}01\\"' in curl and '\\"also\\": \\"$TEST_PIN\\"' in curl


# ---- per-call retry limits and the timeout from the environment -------------------------------------------
def test_max_retries_zero_sends_a_throttled_register_once(client, scripted, sleeps):
    scripted.queue("/register", graph_error(130429, status=400))
    with pytest.raises(GraphAPIError) as info:
        client.post("400000000000001/register", json={"messaging_product": "whatsapp"}, max_retries=0)
    assert info.value.code == 130429 and sleeps == []
    assert [s.path for s in scripted.seen] == ["/v25.0/400000000000001/register"]
    # Without the override the same answer is retried (the catalogue allows it): the limit was per call.
    scripted.queue("/register", graph_error(130429, status=400), Reply(body={"success": True}))
    assert client.post("400000000000001/register", json={}) == {"success": True}
    assert len(scripted.seen) == 3


def test_a_per_call_limit_only_lowers_the_catalogues(client, scripted, sleeps):
    scripted.queue("/messages", *[graph_error(131000, status=500) for _ in range(5)])
    with pytest.raises(GraphAPIError):
        client.post("400000000000001/messages", json={}, max_retries=10)
    assert len(scripted.seen) == 3  # 131000's own limit (2 retries) still holds
    scripted.queue("/x", *[graph_error(2, status=500) for _ in range(5)])
    with pytest.raises(GraphAPIError):
        client.request("GET", "1/x", max_retries=1)
    assert len(scripted.seen) == 5


def test_retry_limit_block_covers_every_call_inside_and_ends_with_it(client, scripted, sleeps):
    scripted.queue("/x", graph_error(2, status=500), Reply(body={"ok": 1}))
    with client.retry_limit(0):
        with pytest.raises(GraphAPIError):
            client.get("1/x")
    assert client.get("1/x") == {"ok": 1} and len(scripted.seen) == 2


def test_retry_limit_refuses_a_bad_value_before_any_call(client, scripted):
    with pytest.raises(ConfigError, match="max_retries"):
        client.post("1/register", json={}, max_retries=-1)
    with pytest.raises(ConfigError, match="max_retries"):
        with client.retry_limit("none"):
            pass
    assert scripted.seen == []


def test_timeout_comes_from_playbook_graph_timeout(scripted, fake_secrets, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_GRAPH_TIMEOUT", "0.5")
    timed = GraphClient(graph_url=scripted.url, token_env="TEST_TOKEN")
    assert timed.timeout == 0.5
    scripted.queue("/register", Reply(delay=1.5))
    with pytest.raises(NetworkError, match="no response within 0.5 s"):
        timed.post("400000000000001/register", json={})
    assert GraphClient(graph_url=scripted.url, token_env="TEST_TOKEN", timeout=7).timeout == 7  # given wins
    monkeypatch.delenv("PLAYBOOK_GRAPH_TIMEOUT")
    assert GraphClient(graph_url=scripted.url, token_env="TEST_TOKEN").timeout == 30.0


@pytest.mark.parametrize("bad", ["soon", "0", "-3", "nan", "inf"])
def test_a_bad_playbook_graph_timeout_names_the_variable(fake_secrets, monkeypatch, bad):
    monkeypatch.setenv("PLAYBOOK_GRAPH_TIMEOUT", bad)
    with pytest.raises(ConfigError, match="PLAYBOOK_GRAPH_TIMEOUT"):
        GraphClient(graph_url="http://127.0.0.1:9", token_env="TEST_TOKEN")


def test_write_once_never_resends_a_write_its_operation_calls_idempotent(client, scripted, sleeps):
    scripted.queue("/subscribed_apps", Reply(delay=3.0), Reply(body={"success": True}))
    with client.write_once():
        with pytest.raises(NetworkError, match="not repeated"):
            client.request("POST", "200000000000001/subscribed_apps", idempotent=True)
        scripted.queue("/x", Reply(delay=3.0), Reply(body={"ok": 1}))
        assert client.get("1/x") == {"ok": 1}  # reads are still retried
    assert [s.path for s in scripted.seen].count("/v25.0/200000000000001/subscribed_apps") == 1
    assert client.request("POST", "200000000000001/subscribed_apps", idempotent=True) == {"success": True}
