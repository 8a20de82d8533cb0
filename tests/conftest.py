"""Shared fixtures: a scripted Graph server, fake secrets in the environment."""
from __future__ import annotations

import pytest

from scripted_graph import ScriptedGraph

FAKE_TOKEN = "FAKE-TEST-TOKEN-not-a-real-token-0001"
FAKE_APP_SECRET = "fake-app-secret-for-tests-0001"
FAKE_PIN = "918273"


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
