"""Shared fixtures: a scripted Graph server, fake secrets in the environment."""
from __future__ import annotations

import pytest

from fakes import FAKE_APP_SECRET, FAKE_PIN, FAKE_TOKEN
from scripted_graph import ScriptedGraph


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
