"""helpers.peers: who reads the SMS and plays the consumer. A person by default; the sandbox only when
whatever started it named it in PLAYBOOK_PEER. And only the starters import the sandbox."""
from __future__ import annotations

import ast
import os
import threading
from pathlib import Path

import pytest

from helpers import ConfigError, operations as ops, steps
from helpers.client import GraphClient
from helpers.peers import ENV_PEER, ENV_PEER_URL, PersonPeer, peer_env, peer_for
from helpers.sandbox.peer import FACTORY, SandboxPeer, peer_environment
from helpers.steps import Step, display
from helpers.webhooks import WebhookReceiver
from notebook_fixtures import CUSTOMERS
from sandbox_fixtures import CONSUMER, UNVERIFIED_PHONE, wait_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(CUSTOMERS / "example.yaml")
REGISTERED_LATER = "400000000000001"  # VERIFIED: 08 registers it without a code


@pytest.fixture
def no_peer(monkeypatch):
    """The environment of a shell where nobody started a sandbox."""
    monkeypatch.delenv(ENV_PEER, raising=False)
    monkeypatch.delenv(ENV_PEER_URL, raising=False)


def start(name, tmp_path, **params):
    return Step.start(name, {"interactive": False, "run_dir": str(tmp_path), "profile": EXAMPLE, **params}, show=False)


# ---- PersonPeer and peer_for ------------------------------------------------------------------------
def test_a_person_peer_does_nothing_by_itself():
    person = PersonPeer()
    assert person.verification_code(UNVERIFIED_PHONE) is None
    assert person.consumer_writes(REGISTERED_LATER, CONSUMER, "Hello!") is False
    assert person.now() is None
    assert person.local_callbacks is False and person.consumer_reads is False


def test_without_playbook_peer_a_person_plays_even_beside_a_real_sandbox_on_loopback(sb, no_peer):
    assert sb.url.startswith("http://127.0.0.1:") and sb.control.now() > 0  # a sandbox answers right there
    assert isinstance(peer_for(sb.url), PersonPeer)  # the URL alone proves nothing


def test_the_named_sandbox_peer_reads_the_code_the_sandbox_sent(sb, monkeypatch):
    for name, value in peer_env(FACTORY, sb.url).items():
        monkeypatch.setenv(name, value)
    peer = peer_for(sb.url + "/")  # the same Graph API, written with a trailing slash
    assert isinstance(peer, SandboxPeer) and peer.local_callbacks and peer.consumer_reads
    client = GraphClient(graph_url=sb.url, token_env="WHATSAPP_TOKEN")
    ops.request_code(client, UNVERIFIED_PHONE, code_method="SMS", language="en_US")
    code = peer.verification_code(UNVERIFIED_PHONE)
    assert code and code == sb.control.last_sms(UNVERIFIED_PHONE)["code"]
    ops.verify_code(client, UNVERIFIED_PHONE, code)  # the sandbox accepts it: it is the code it sent
    assert ops.get_phone_number(client, UNVERIFIED_PHONE)["code_verification_status"] == "VERIFIED"
    assert peer.now() == pytest.approx(sb.control.now(), abs=5)


def test_a_peer_named_for_another_graph_api_is_not_used(sb, no_peer):
    with peer_environment(sb.url) as values:  # e.g. a lab kernel whose step is pointed at Meta
        assert values == {ENV_PEER: FACTORY, ENV_PEER_URL: sb.url}
        assert isinstance(peer_for("https://graph.facebook.com"), PersonPeer)
        assert isinstance(peer_for(sb.url), SandboxPeer)
    assert ENV_PEER not in os.environ and ENV_PEER_URL not in os.environ  # restored for whoever runs next


@pytest.mark.parametrize("spec, fragment", [
    ("no_such_module_here:Peer", "does not name a peer factory"),
    ("helpers.peers:NoSuchFactory", "does not name a peer factory"),
    ("helpers.peers", "module:callable"),
    ("helpers.peers:ENV_PEER", "not callable"),
])
def test_a_misnamed_peer_is_a_config_error_naming_the_variable(monkeypatch, spec, fragment):
    monkeypatch.setenv(ENV_PEER, spec)
    monkeypatch.delenv(ENV_PEER_URL, raising=False)
    with pytest.raises(ConfigError, match=fragment) as info:
        peer_for("http://127.0.0.1:1")
    assert ENV_PEER in str(info.value)


def test_a_factory_that_returns_no_peer_is_refused(monkeypatch):
    monkeypatch.setenv(ENV_PEER, "builtins:str")
    monkeypatch.delenv(ENV_PEER_URL, raising=False)
    with pytest.raises(ConfigError, match="not a helpers.peers.Peer"):
        peer_for("http://127.0.0.1:1")


@pytest.mark.parametrize("url", ["http://user:pw@127.0.0.1:8765", "http://127.0.0.1:8765/?access_token=x"])
def test_the_peer_variables_never_carry_credentials(url):
    with pytest.raises(ConfigError, match="without credentials"):
        peer_env(FACTORY, url)


# ---- the steps with a person as peer ------------------------------------------------------------------
def test_08_asks_the_person_for_the_code_the_sandbox_sent(sb, tmp_path, no_peer):
    step = start("08_register", tmp_path, graph_url=sb.url, phone_number_id=UNVERIFIED_PHONE)
    assert isinstance(step.peer, PersonPeer)
    with pytest.raises(ConfigError) as info:
        steps.register(step)
    message = str(info.value)
    assert "Code from the SMS" in message and "verification_code" in message and "run again" in message
    assert step.record["facts"]["failed_action"] == "verify the code"
    code = sb.control.verification_code(UNVERIFIED_PHONE)  # the SMS really went out: the person has it
    result = steps.register(start("08_register", tmp_path, graph_url=sb.url, phone_number_id=UNVERIFIED_PHONE,
                                  verification_code=code))
    assert result["ok"] and result["numbers"]["phone_number_id"].tolist() == [UNVERIFIED_PHONE]


def test_04_against_a_person_needs_a_callback_url_even_on_loopback(sb, tmp_path, no_peer):
    with pytest.raises(ConfigError, match="callback_url is empty"):
        steps.webhooks(start("04_webhooks", tmp_path, graph_url=sb.url))


def test_09_asks_the_person_to_write_and_receives_what_they_send(sb, tmp_path, no_peer, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(display, "markdown", shown.append)  # what the notebook would display
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        common = dict(graph_url=sb.url, callback_url=receiver.callback_url, webhook_db=str(receiver.db_path))
        assert steps.webhooks(start("04_webhooks", tmp_path, **common))["ok"]
        assert steps.subscribe_waba(start("05_subscribe_waba", tmp_path, **common))["ok"]
        assert steps.register(start("08_register", tmp_path, **common, phone_number_id=REGISTERED_LATER))["ok"]
        step = start("09_receive_message", tmp_path, **common, phone_number_id=REGISTERED_LATER, wait_seconds=30)

        def person() -> None:  # picks up the phone once the step is waiting, as a trainee would
            wait_for(lambda: any(a["action"] == "wait for the message in the webhook store"
                                 for a in step.record["facts"].get("actions", [])), 30, "the step to wait")
            sb.control.consumer_message(REGISTERED_LATER, CONSUMER, "typed on my phone")

        thread = threading.Thread(target=person)
        thread.start()
        try:
            result = steps.receive_message(step)
        finally:
            thread.join(timeout=40)
    assert any(f"send a WhatsApp message from {CONSUMER}" in text for text in shown), shown
    assert result["ok"] and step.record["facts"]["simulated"] is False
    assert step.record["facts"]["text"] == "typed on my phone"


def test_a_peer_given_to_the_step_wins_over_the_environment(sb, tmp_path):
    with peer_environment(sb.url):
        person = PersonPeer()
        assert start("09_receive_message", tmp_path, graph_url=sb.url).peer.name == "sandbox"
        step = Step.start("09_receive_message", {"interactive": False, "graph_url": sb.url, "profile": EXAMPLE},
                          show=False, peer=person)
        assert step.peer is person


# ---- only the starters import the sandbox ------------------------------------------------------------
# Everything else reaches it through helpers.peers, so the glue that runs against Meta carries no emulator.
ALLOWED_IMPORTERS = {
    "helpers/cli.py": "registers the `python -m helpers sandbox` sub-command",
    "helpers/lab.py": "starts the lab's sandbox and names it as the kernels' peer",
    "helpers/training/replay.py": "writes a failed run as a sandbox scenario (the scenarios' catalogue and fault kinds)",
    "helpers/runner/batch.py": "starts the sandbox of `--sandbox` batches and names it as the peer",
    "helpers/runner/preflight.py": "reads the `--sandbox` seed (the secrets it will export) before anything starts",
    "helpers/runner/cli.py": "checks `--sandbox-latency-ms` before anything starts",
    "helpers/training/drills.py": "the drills' fixes drive the sandbox's control API (tokens, SMS, clock) by nature",
    "helpers/training/drill.py": "drills drive the sandbox's control API (scenarios, tokens, clock) by nature",
    "helpers/training/catalogue.py": "the drills there are: the sandbox's scenario files",
    "helpers/training/page.py": "the page lists the sandbox's scenario files",
    "helpers/portfolio.py": "starts the sandbox of `portfolio --sandbox` and reads its seed's partner",
}


def sandbox_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """The helpers.sandbox modules `source` (the module named `module`) imports, lazily or not."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names = [str(node.args[0].value)]
        found += [n for n in names if n == "helpers.sandbox" or n.startswith("helpers.sandbox.")]
    return sorted(set(found))


@pytest.mark.parametrize("source, module", [
    ("from ..sandbox import SandboxControl", "helpers.steps.step"),
    ("def f():\n    from ..sandbox.peer import SandboxPeer", "helpers.steps.actions"),
    ("from .. import sandbox", "helpers.forms.base"),
    ("from . import sandbox", "helpers.operations"),
    ("import helpers.sandbox.control", "helpers.client"),
    ("import importlib\nimportlib.import_module('helpers.sandbox.peer')", "helpers.webhooks.store"),
])
def test_the_scan_sees_every_way_of_importing_the_sandbox(source, module):
    assert sandbox_imports(source, module)


def test_the_scan_does_not_count_other_imports():
    assert sandbox_imports("from .. import operations as ops\nfrom ..peers import peer_for\nimport sandboxes",
                           "helpers.steps.step") == []


def test_only_the_starters_import_the_sandbox():
    importers = {}
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[:2] == ("helpers", "sandbox"):
            continue
        module = ".".join(relative.with_suffix("").parts)
        is_package = path.name == "__init__.py"
        if is_package:
            module = module.removesuffix(".__init__")
        found = sandbox_imports(path.read_text(encoding="utf-8"), module, is_package)
        if found:
            importers[relative.as_posix()] = found
    for glue in ("helpers/steps/", "helpers/forms/", "helpers/webhooks/", "helpers/operations.py", "helpers/client.py",
                 "helpers/peers.py"):
        assert not [p for p in importers if p.startswith(glue)], importers
    assert set(importers) == set(ALLOWED_IMPORTERS), importers
