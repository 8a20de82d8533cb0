"""Shared fixtures: the sandbox (one per test module), a scripted Graph server, fake secrets in the environment."""
from __future__ import annotations

import pytest

from fakes import FAKE_APP_SECRET, FAKE_PIN, FAKE_TOKEN
from helpers.processes import temporary_environ
from helpers.sandbox import Sandbox
from helpers.sandbox.peer import peer_env
from sandbox_fixtures import Graph
from scripted_graph import ScriptedGraph


@pytest.fixture(scope="module")
def sandbox():
    """One sandbox per test module, as the lab and the batch runner start one: its demo secrets and its
    peer (helpers.peers) in the environment for the module's duration (kernels inherit them), then restored."""
    with Sandbox() as sb, temporary_environ({**sb.demo_env(), **peer_env(sb.url)}):
        yield sb


@pytest.fixture
def sb(sandbox):
    """The module's sandbox, reset to its seed for this test."""
    sandbox.control.reset()
    return sandbox


@pytest.fixture
def graph(sb) -> Graph:
    """Plain HTTP against the reset sandbox, as a client would send it."""
    return Graph(sb.url, sb.demo_env())


@pytest.fixture
def scripted():
    server = ScriptedGraph().start()
    yield server
    server.stop()


@pytest.fixture
def fake_secrets(monkeypatch):
    monkeypatch.setenv("TEST_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("TEST_APP_SECRET", FAKE_APP_SECRET)
    monkeypatch.setenv("TEST_PIN", FAKE_PIN)
    return {"TEST_TOKEN": FAKE_TOKEN, "TEST_APP_SECRET": FAKE_APP_SECRET, "TEST_PIN": FAKE_PIN}


@pytest.fixture(autouse=True)
def no_environment_leak():
    """A test leaves os.environ as it found it (module fixtures set theirs up before and restore after)."""
    import os
    before = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    yield
    after = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the test changed these environment variables and left them: {changed}"
