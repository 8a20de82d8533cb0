"""Injected faults in the sandbox: each kind as Meta sends it, what is applied when, determinism, rules,
the writes ledger, scenario fault entries, faulted webhook deliveries into a real receiver, and what
GraphClient makes of them."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from helpers.processes import temporary_environ
from helpers.client import GraphClient
from helpers.errors import GraphAPIError, NetworkError
from helpers.sandbox import Sandbox, SandboxControlError
from helpers.sandbox.faults import ANSWERING_KINDS, FAULT_ERRORS, KINDS
from helpers.webhooks import WebhookReceiver
from sandbox_fixtures import (CONSUMER, DEMO_PHONE, EXAMPLE_WABA, LIVE_PHONE, Graph, error_of,
                              wait_for)

TEMPLATES = "^[0-9]+/message_templates$"
TEMPLATE = {"name": "order_update", "language": "en_US", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Your order {{1}} is on its way."}]}
CORAL_WABA, CREDIT_LINE, PARTNER_USER = "200000000000004", "610000000000001", "500000000000001"
SLOW_S = 1.0      # the slow sandbox's held answer
CLIENT_S = 0.3    # a client timeout shorter than that

# kind -> (HTTP status, code, subcode, is_transient), as docs/sandbox.md and Meta's error pages give them
EXPECTED = {
    "unknown_error": (500, 1, None, True),
    "service_error": (500, 2, None, True),
    "service_unavailable": (503, 2, None, True),
    "something_went_wrong": (500, 131000, None, None),
    "throttled": (400, 130429, 2494055, True),   # on a send; elsewhere the WABA's rate limit:
}
THROTTLED_ELSEWHERE = (400, 80007, None, True)


@pytest.fixture(scope="module")
def slow_sandbox():
    """A sandbox whose held answers (timeout_after_write) outlast a short client timeout."""
    with Sandbox(faults_slow_s=SLOW_S) as running:
        yield running


@pytest.fixture
def slow(slow_sandbox):
    # Its own demo secrets for the test's duration: whatever else of the module ran before, in any order.
    slow_sandbox.control.reset()
    with temporary_environ(slow_sandbox.demo_env()):
        yield slow_sandbox


def register_body(env: dict) -> dict:
    return {"messaging_product": "whatsapp", "pin": env["WHATSAPP_PIN"]}


def outcomes(sb: Sandbox, paths: list[str], timeout: float = 5) -> list:
    """What each GET answered: the HTTP status and Graph code, 'reset' or 'timeout'."""
    http = requests.Session()
    headers = {"Authorization": f"Bearer {sb.demo_env()['WHATSAPP_TOKEN']}"}
    seen = []
    for path in paths:
        try:
            response = http.get(f"{sb.url}/v25.0/{path}", headers=headers, timeout=timeout)
        except requests.Timeout:
            seen.append("timeout")
            continue
        except requests.ConnectionError:
            seen.append("reset")
            continue
        body = response.json()
        seen.append((response.status_code, body.get("error", {}).get("code")))
    return seen


# ---- each kind as Meta answers it ------------------------------------------------------------

def test_the_kinds_and_their_errors_are_listed():
    assert set(KINDS) == set(EXPECTED) | {"connection_reset", "timeout_after_write"}
    assert set(ANSWERING_KINDS) == set(EXPECTED)
    assert set(FAULT_ERRORS) == {(code, subcode) for _, code, subcode, _ in [*EXPECTED.values(), THROTTLED_ELSEWHERE]}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_answering_kind_is_shaped_as_meta_sends_it_and_applies_nothing(graph, sb, kind):
    status, code, subcode, transient = THROTTLED_ELSEWHERE if kind == "throttled" else EXPECTED[kind]
    sb.control.add_fault(kind, method="POST", path=TEMPLATES)
    response = graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert (error["code"], error.get("error_subcode"), error.get("is_transient")) == (code, subcode, transient)
    assert error["fbtrace_id"] == response.headers["x-fb-trace-id"] == response.headers["x-fb-request-id"]
    assert response.headers["Content-Type"].startswith("application/json")
    if kind == "throttled":
        assert response.headers["Retry-After"] == "1"
        assert error["message"].startswith("(#80007) There have been too many calls")  # not a send: no 130429
    else:
        assert "Retry-After" not in response.headers
    if kind == "something_went_wrong":
        assert error["message"] == "(#131000) Something went wrong" and error["error_data"]["details"]
    assert sb.control.writes()["template_create"] == {}  # answered before the handler
    assert graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE).status_code == 200  # times: 1
    assert sb.control.faults()["injected"] == {kind: 1}


def test_a_connection_reset_drops_the_connection_and_applies_nothing(graph, sb):
    sb.control.add_fault("connection_reset", method="POST", path="register$")
    with pytest.raises(requests.ConnectionError):
        graph.register(DEMO_PHONE)
    assert sb.control.writes()["register"] == {}
    assert graph.get(DEMO_PHONE, params={"fields": "status"}).json()["status"] != "CONNECTED"
    assert graph.register(DEMO_PHONE).json() == {"success": True}
    assert sb.control.writes()["register"] == {DEMO_PHONE: 1}


def test_a_timeout_after_write_applies_the_write_while_the_client_times_out(slow):
    graph = Graph(slow.url, slow.demo_env())
    slow.control.add_fault("timeout_after_write", method="POST", path="register$")
    with pytest.raises(requests.Timeout):
        requests.post(f"{slow.url}/v25.0/{DEMO_PHONE}/register", json=register_body(graph.env), timeout=CLIENT_S,
                      headers={"Authorization": f"Bearer {graph.token()}"})
    assert slow.control.writes()["register"] == {DEMO_PHONE: 1}  # applied, though the caller never heard
    assert graph.get(DEMO_PHONE, params={"fields": "status"}).json()["status"] == "CONNECTED"
    assert slow.control.faults()["injected"] == {"timeout_after_write": 1}


# ---- determinism and the rate ------------------------------------------------------------------

PATHS = [EXAMPLE_WABA, f"{EXAMPLE_WABA}/phone_numbers", LIVE_PHONE, f"{EXAMPLE_WABA}/message_templates"] * 8


def test_the_same_seed_faults_the_same_calls_and_another_seed_others():
    runs = []
    for seed in (7, 7, 8):
        with Sandbox(faults=0.3, faults_seed=seed, faults_slow_s=0.2) as sb:
            runs.append((outcomes(sb, PATHS), sb.control.faults()["injected"]))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    assert sum(runs[0][1].values()) > 0 and any(o != (200, None) for o in runs[0][0])


def test_the_order_of_interleaved_calls_does_not_change_which_fault():
    # Faults are decided per (method, path, n-th occurrence): the same calls in another order fault alike.
    a, b = f"{EXAMPLE_WABA}/phone_numbers", LIVE_PHONE
    with Sandbox(faults=0.4, faults_seed=3, faults_slow_s=0.2) as sb:
        interleaved = outcomes(sb, [a, b] * 10)
    with Sandbox(faults=0.4, faults_seed=3, faults_slow_s=0.2) as sb:
        grouped = outcomes(sb, [b] * 10 + [a] * 10)
    assert interleaved[0::2] == grouped[10:] and interleaved[1::2] == grouped[:10]


def test_a_reset_replays_the_same_faults(slow):
    slow.control.set_fault_rate(0.3, seed=11)
    try:
        first = outcomes(slow, PATHS[:12])
        slow.control.reset()
        assert outcomes(slow, PATHS[:12]) == first
    finally:
        slow.control.clear_faults(all=True)
    assert any(o != (200, None) for o in first)


def test_rate_zero_injects_nothing(graph, sb):
    assert sb.control.faults()["rate"] == 0
    assert all(o == (200, None) for o in outcomes(sb, PATHS))
    assert graph.register(DEMO_PHONE).status_code == 200
    assert sb.control.faults()["injected"] == {}


def test_the_control_api_is_never_faulted(graph, sb):
    sb.control.set_fault_rate(0.99, seed=1)
    sb.control.add_fault("connection_reset", times=0)  # every Graph call, whatever its method and path
    try:
        for _ in range(5):
            assert sb.control.now() > 0
            assert sb.control.stats()["graph_requests"] >= 0
            assert isinstance(sb.control.deliveries(), list)
            assert "register" in sb.control.writes()
            assert sb.control.scenarios()
        with pytest.raises(requests.ConnectionError):
            graph.get(EXAMPLE_WABA)
    finally:
        sb.control.clear_faults(all=True)
    assert sb.control.faults()["rate"] == 0 and sb.control.faults()["rules"] == []
    assert graph.get(EXAMPLE_WABA).status_code == 200


# ---- rules -------------------------------------------------------------------------------------

def test_a_rule_faults_only_its_method_and_path_the_times_it_says(graph, sb):
    sb.control.add_fault("service_unavailable", method="POST", path=TEMPLATES, times=2)
    assert graph.get(f"{EXAMPLE_WABA}/message_templates").status_code == 200  # another method
    assert graph.get(EXAMPLE_WABA).status_code == 200                          # another path
    assert [graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE).status_code for _ in range(3)] == [
        503, 503, 200]
    (rule,) = sb.control.faults()["rules"]
    assert rule["hits"] == 2 and rule["times"] == 2
    sb.control.add_fault("unknown_error", path=f"^{LIVE_PHONE}$", times=0)  # 0: every call
    assert [graph.get(LIVE_PHONE).status_code for _ in range(4)] == [500] * 4
    sb.control.clear_faults()
    assert graph.get(LIVE_PHONE).status_code == 200


def test_a_reset_removes_the_rules(graph, sb):
    sb.control.add_fault("unknown_error", times=0)
    sb.control.reset()
    assert sb.control.faults()["rules"] == []
    assert graph.get(EXAMPLE_WABA).status_code == 200


def test_the_error_kind_replays_a_given_envelope(graph, sb):
    given = {"code": 100, "error_subcode": 2388024, "message": "(#100) Invalid parameter", "http_status": 400,
             "details": "Content in this language already exists for the template order_update."}
    sb.control.add_fault("error", method="POST", path=TEMPLATES, error=given)
    response = graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["error_subcode"], error["message"], error["type"]) == (
        100, 2388024, "(#100) Invalid parameter", "OAuthException")
    assert error["error_data"]["details"] == given["details"] and "is_transient" not in error
    assert sb.control.writes()["template_create"] == {}


@pytest.mark.parametrize("payload, says", [
    ({"kind": "gremlins"}, "unknown fault kind"),
    ({"kind": "error", "error": {"message": "no code"}}, "needs error"),
    ({"kind": "unknown_error", "path": "("}, "not a regular expression"),
    ({"kind": "unknown_error", "times": "often"}, "whole number"),
    ({"rate": 1}, "[0, 1)"),
    ({}, "give kind"),
])
def test_a_bad_fault_request_is_refused_saying_why(sb, payload, says):
    with pytest.raises(SandboxControlError) as refused:
        sb.control._call("POST", "faults", payload)
    assert "HTTP 400" in str(refused.value) and says in str(refused.value)
    assert sb.control.faults()["rules"] == []


# ---- the writes ledger -------------------------------------------------------------------------

def test_the_writes_ledger_counts_each_applied_write_and_a_reset_clears_it(graph, sb):
    assert graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE).status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE).status_code == 400  # exists: not applied
    assert graph.send_template(LIVE_PHONE).status_code == 200
    assert graph.send_template(LIVE_PHONE).status_code == 200
    assert graph.register(DEMO_PHONE).status_code == 200
    assert graph.post(f"{CORAL_WABA}/assigned_users", json={"user": PARTNER_USER, "tasks": ["MANAGE"]}).status_code == 200
    assert graph.post(f"{CREDIT_LINE}/whatsapp_credit_sharing_and_attach",
                      params={"waba_currency": "EUR", "waba_id": CORAL_WABA}).status_code == 200
    assert sb.control.writes() == {
        "template_create": {f"{EXAMPLE_WABA}/order_update/en_US": 1},
        "message_send": {f"{LIVE_PHONE}>{CONSUMER.lstrip('+')}": 2},
        "user_assign": {f"{CORAL_WABA}/{PARTNER_USER}": 1},
        "credit_share": {CORAL_WABA: 1},
        "register": {DEMO_PHONE: 1},
    }
    sb.control.reset()
    assert all(counts == {} for counts in sb.control.writes().values())


# ---- scenarios ---------------------------------------------------------------------------------

def test_a_scenario_in_the_drills_folder_installs_its_fault_rules(graph, sb, tmp_path, monkeypatch):
    drill = {"name": "drill_template_exists", "title": "A template that already exists",
             "description": "Replayed from a run.", "try": "Run step 12.",
             "expected_error": {"code": 100, "subcode": 2388024, "http_status": 400},
             "trainee_sees": "2388024", "fix": "Adopt the existing template.",
             "setup": [{"fault": {"kind": "error", "method": "POST", "path": TEMPLATES,
                                  "error": {"code": 100, "error_subcode": 2388024,
                                            "message": "(#100) Invalid parameter",
                                            "details": "Content in this language already exists."}}}]}
    (tmp_path / "drill_template_exists.yaml").write_text(json.dumps(drill), encoding="utf-8")  # JSON is YAML
    (tmp_path / "expired_token.yaml").write_text(json.dumps({**drill, "name": "expired_token"}), encoding="utf-8")
    monkeypatch.setenv("PLAYBOOK_DRILLS_DIR", str(tmp_path))
    listed = {s["name"]: s for s in sb.control.scenarios()}
    assert "drill_template_exists" in listed
    assert listed["expired_token"]["title"] != drill["title"]  # a built-in is never replaced
    sb.control.add_fault("unknown_error", times=0)  # a rule from before: the scenario's reset removes it
    sb.control.load_scenario("drill_template_exists")
    (rule,) = sb.control.faults()["rules"]
    assert rule["kind"] == "error" and rule["method"] == "POST"
    assert error_of(graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE))["error_subcode"] == 2388024
    assert graph.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE).status_code == 200


def test_without_the_drills_folder_only_the_built_in_scenarios_are_listed(sb, monkeypatch):
    monkeypatch.delenv("PLAYBOOK_DRILLS_DIR", raising=False)
    assert "drill_template_exists" not in {s["name"] for s in sb.control.scenarios()}


# ---- the command line --------------------------------------------------------------------------

@pytest.mark.parametrize("rate", ["1", "-0.1", "lots"])
def test_the_cli_refuses_a_bad_rate_saying_what_to_give(rate):
    done = subprocess.run([sys.executable, "-m", "helpers", "sandbox", "--port", "0", "--faults", rate],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--faults" in done.stderr and "[0, 1)" in done.stderr and "0.05" in done.stderr
    assert "Sandbox Graph API serving" not in done.stdout


# ---- webhook deliveries under faults -----------------------------------------------------------

def test_deliveries_twice_and_out_of_order_are_stored_once_each(graph, sb, tmp_path):
    # Seed 156 at a delivery rate of 0.5 draws: statuses out of order, each delivered twice, none late.
    with WebhookReceiver(tmp_path / "webhooks.sqlite", verify_token=graph.env["WHATSAPP_VERIFY_TOKEN"],
                         app_secret=graph.env["WHATSAPP_APP_SECRET"]) as receiver:
        assert graph.set_app_callback(receiver.callback_url).status_code == 200
        assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200
        sb.control.set_fault_rate(0, seed=156, webhook_rate=0.5)
        try:
            wamid = graph.send_template(LIVE_PHONE).json()["messages"][0]["id"]
            posts = wait_for(lambda: (d := [x for x in sb.control.deliveries() if x["kind"].startswith("status:")])
                             and len(d) == 6 and all(x["status"] == 200 for x in d) and d, what="six status posts")
        finally:
            sb.control.clear_faults(all=True)
        assert [p["kind"] for p in posts[:2]] == ["status:delivered", "status:delivered"]  # before "sent"
        assert [p.get("fault") for p in posts].count("twice") == 3
        assert "out_of_order" in [p.get("fault") for p in posts]
        statuses = receiver.store.statuses(wamid)
        assert sorted(statuses["status"]) == ["delivered", "read", "sent"]  # each kept once
        assert len(receiver.store.deliveries()) == 3
        (latest,) = receiver.store.latest_statuses().itertuples()
        assert latest.status == "read"
        assert sb.control.faults()["webhook_rate"] == 0


# ---- what GraphClient makes of them ------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(EXPECTED) + ["connection_reset"])
def test_graph_client_retries_each_before_write_kind_on_a_get(sb, kind):
    sleeps: list[float] = []
    client = GraphClient(graph_url=sb.url, sleep=sleeps.append)
    sb.control.add_fault(kind, method="GET", path=f"^{EXAMPLE_WABA}$")
    assert client.get(EXAMPLE_WABA, fields="id")["id"] == EXAMPLE_WABA
    assert len(sleeps) == 1 and len(client.retry_log) == 1
    if kind == "throttled":
        assert sleeps[0] >= 1  # Retry-After honoured
    assert sb.control.faults()["injected"] == {kind: 1}


def test_graph_client_ends_a_post_timeout_with_a_clear_error_and_sends_it_once(slow):
    client = GraphClient(graph_url=slow.url, timeout=CLIENT_S, sleep=lambda s: None)
    slow.control.add_fault("timeout_after_write", method="POST", path="register$", times=0)
    with pytest.raises(NetworkError, match="not repeated because it changes state"):
        client.post(f"{DEMO_PHONE}/register", json=register_body(slow.demo_env()))
    assert slow.control.writes()["register"] == {DEMO_PHONE: 1}  # one call, applied once
    assert slow.control.faults()["rules"][0]["hits"] == 1


def test_graph_client_does_not_retry_a_post_that_failed_before_the_write_unless_transient(sb):
    client = GraphClient(graph_url=sb.url, sleep=lambda s: None, max_retries=2)
    sb.control.add_fault("error", method="POST", path=TEMPLATES,
                         error={"code": 100, "error_subcode": 2388024, "message": "(#100) Invalid parameter"})
    with pytest.raises(GraphAPIError) as failed:
        client.post(f"{EXAMPLE_WABA}/message_templates", json=TEMPLATE)
    assert (failed.value.code, failed.value.subcode) == (100, 2388024)
    assert sb.control.faults()["rules"][0]["hits"] == 1 and sb.control.writes()["template_create"] == {}

