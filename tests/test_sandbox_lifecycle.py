"""Starting and stopping the sandbox: --state persistence, a custom seed, the CLI, the control API itself."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from helpers.sandbox import Sandbox, SandboxControl, SandboxControlError
from helpers.sandbox.seed import SeedError
from sandbox_fixtures import *  # noqa: F401,F403
from sandbox_fixtures import DEMO_PHONE, EXAMPLE_WABA, UNVERIFIED_PHONE, Graph

ROOT = Path(__file__).resolve().parent.parent


def test_state_survives_a_restart(tmp_path):
    db = tmp_path / "sandbox.sqlite"
    with Sandbox(state_path=db) as first:
        graph = Graph(first.url, first.demo_env())
        assert graph.register(DEMO_PHONE).status_code == 200
        graph.post(f"{UNVERIFIED_PHONE}/request_code", params={"code_method": "SMS", "language": "en_US"})
        code = first.control.verification_code(UNVERIFIED_PHONE)
        clock = first.control.advance_clock(3600)
    with Sandbox(state_path=db) as second:
        graph = Graph(second.url, second.demo_env())
        assert graph.get(DEMO_PHONE, params={"fields": "status"}).json()["status"] == "CONNECTED"
        assert second.control.verification_code(UNVERIFIED_PHONE) == code
        assert second.control.now() >= clock
        second.control.reset()
        assert graph.get(DEMO_PHONE, params={"fields": "status"}).json()["status"] == "PENDING"
    with Sandbox(state_path=db) as third:  # the reset was saved too
        assert Graph(third.url, third.demo_env()).get(DEMO_PHONE, params={"fields": "status"}).json()["status"] == "PENDING"


def test_custom_seed(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("""
businesses:
  - id: "100000000000009"
    name: Tiny Co
    apps: [{id: "300000000000009", name: Tiny App, secret: {env: TINY_APP_SECRET, value: tiny-secret-not-real}}]
    tokens:
      - access_token: {env: TINY_TOKEN, value: TINY-token-not-real}
        app_id: "300000000000009"
        scopes: [whatsapp_business_management, whatsapp_business_messaging]
    wabas:
      - id: "200000000000009"
        name: Tiny
        phone_numbers:
          - {id: "400000000000099", display_phone_number: "+1 555-010-0099", pin: {env: TINY_PIN, value: "640213"}}
""")
    with Sandbox(seed=seed) as sb:
        assert sb.demo_env() == {"TINY_APP_SECRET": "tiny-secret-not-real", "TINY_TOKEN": "TINY-token-not-real",
                                 "TINY_PIN": "640213"}
        graph = Graph(sb.url, sb.demo_env())
        rows = graph.get("200000000000009/phone_numbers", token="TINY_TOKEN").json()["data"]
        assert [r["id"] for r in rows] == ["400000000000099"]
        assert graph.register("400000000000099", pin_env="TINY_PIN", token="TINY_TOKEN").status_code == 200


def test_bad_seed_is_refused_with_a_message(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("businesses:\n  - name: No Id\n")
    with pytest.raises(SeedError, match="'id' is missing"):
        Sandbox(seed=seed)


@pytest.mark.parametrize("waba, message", [
    ({"templates": [{"name": "promo", "status": "ON_HOLD"}]}, "status 'ON_HOLD' is not a value Meta uses"),
    ({"credit_line": "610000000000009"}, "credit_line 610000000000009 is not the extended credit"),
    ({"credit_line": "610000000000001", "currency": "JPY"}, "a credit line bills in USD"),
    ({"subscribed_apps": ["300000000000777"]}, "subscribed_apps 300000000000777 is no app"),
])
def test_a_seed_waba_naming_what_does_not_exist_is_refused(tmp_path, waba, message):
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump({"businesses": [
        {"id": "100000000000001", "name": "Partner", "extended_credits": [{"id": "610000000000001"}],
         "apps": [{"id": "300000000000001", "name": "App", "secret": "s"}]},
        {"id": "100000000000002", "name": "Client", "wabas": [
            {"id": "200000000000002", "name": "Client", "shared_with": ["100000000000001"], **waba}]}]}))
    with pytest.raises(SeedError, match=re.escape(message)):
        Sandbox(seed=seed)


def test_a_seed_messaging_limit_must_be_metas(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("businesses:\n  - {id: '100000000000001', name: Partner, messaging_limit: TIER_5K}\n")
    with pytest.raises(SeedError, match="messaging_limit 'TIER_5K' is not a value Meta uses"):
        Sandbox(seed=seed)


def test_demo_env_has_the_profile_variables(sb):
    env = sb.demo_env()
    for name in ("WHATSAPP_TOKEN", "WHATSAPP_PIN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "BLUEFIN_TOKEN",
                 "BLUEFIN_PIN", "BLUEFIN_APP_SECRET", "BLUEFIN_VERIFY_TOKEN", "WHATSAPP_BACKUP_PASSWORD"):
        assert env[name]
    assert re.fullmatch(r"\d{6}", env["WHATSAPP_PIN"]) and re.fullmatch(r"\d{6}", env["BLUEFIN_PIN"])
    ids = re.findall(r"\d{15}", (Path(__file__).parent.parent / "helpers/sandbox/seed.yaml").read_text())
    assert not any(env["WHATSAPP_PIN"] in i or env["BLUEFIN_PIN"] in i for i in ids)


def test_control_api_basics(sb):
    index = requests.get(f"{sb.url}/_sandbox/", timeout=5).json()
    assert "POST /_sandbox/consumer_messages" in index["control_api"]
    unknown = requests.get(f"{sb.url}/_sandbox/nope", timeout=5)
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "SandboxControlError"
    before = sb.control.freeze_clock()
    assert sb.control.now() == before
    assert sb.control.advance_clock(10) == before + 10
    sb.control.freeze_clock(False)
    with pytest.raises(SandboxControlError, match="no code was requested"):
        sb.control.verification_code(DEMO_PHONE)
    with pytest.raises(SandboxControlError, match="not registered"):
        sb.control.consumer_message(DEMO_PHONE, "+16505550100", "hi")
    with pytest.raises(SandboxControlError):
        sb.control.advance_clock(-1)
    assert SandboxControl(sb.url).now() > 0


def test_stats_count_graph_requests_only_by_method_and_path(sb):
    before = sb.control.stats()["graph_requests"]
    sb.control.scenarios()  # control calls are not Graph calls
    assert sb.control.stats()["graph_requests"] == before
    requests.get(f"{sb.url}/v25.0/{EXAMPLE_WABA}?access_token=not-a-real-token", timeout=5)
    sb.control.load_scenario("wrong_pin")  # a scenario resets the state, not the count
    stats = sb.control.stats()
    assert stats["graph_requests"] == before + 1
    assert stats["recent"][-1] == f"GET /v25.0/{EXAMPLE_WABA}", "the path only: a query can carry a token"


def test_cli_prints_url_and_exports_and_serves_until_terminated(tmp_path):
    command = [sys.executable, "-m", "helpers", "sandbox", "--port", "0", "--state", str(tmp_path / "cli.sqlite")]

    def start():
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        first = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", first)
        assert match, first + process.stderr.read() if process.poll() is not None else first
        lines = [first]
        for line in iter(process.stdout.readline, ""):
            lines.append(line)
            if line.startswith("# Press Ctrl-C"):
                break
        # Every line is shell: comments or exports, so the whole block can be pasted or eval'd.
        assert all(line.startswith(("# ", "export ")) for line in lines), lines
        shell = subprocess.run(["bash", "-euc", "".join(lines) + "env -0"], env={"PATH": os.environ["PATH"]},
                               capture_output=True, text=True, check=True)
        exports = dict(item.split("=", 1) for item in shell.stdout.split("\0") if "=" in item)
        return process, match.group(1), exports

    process, url, exports = start()
    try:
        assert {"WHATSAPP_TOKEN", "WHATSAPP_PIN", "BLUEFIN_TOKEN", "WHATSAPP_VERIFY_TOKEN"} <= set(exports)
        assert exports["PLAYBOOK_PEER"] == "helpers.sandbox.peer:SandboxPeer" and exports["PLAYBOOK_PEER_URL"] == url
        assert exports["PLAYBOOK_GRAPH_URL"] == url
        graph = Graph(url, exports)
        assert graph.get(EXAMPLE_WABA).status_code == 200
        assert graph.register(DEMO_PHONE).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    process, url, exports = start()  # the same --state file: the registration is still there
    try:
        assert Graph(url, exports).get(DEMO_PHONE, params={"fields": "status"}).json()["status"] == "CONNECTED"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
