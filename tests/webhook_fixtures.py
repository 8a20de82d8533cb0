"""Shared by the webhook tests: obviously fake secrets, a running receiver, signed posts."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import requests

from helpers.webhooks import WebhookReceiver, WebhookStore

VERIFY_TOKEN_ENV = "WEBHOOK_TEST_VERIFY_TOKEN"
APP_SECRET_ENV = "WEBHOOK_TEST_APP_SECRET"
FAKE_VERIFY_TOKEN = "fake-verify-token-for-webhook-tests"
FAKE_APP_SECRET = "fake-app-secret-for-webhook-tests"


@pytest.fixture
def webhook_env(monkeypatch):
    monkeypatch.setenv(VERIFY_TOKEN_ENV, FAKE_VERIFY_TOKEN)
    monkeypatch.setenv(APP_SECRET_ENV, FAKE_APP_SECRET)


@pytest.fixture
def receiver(webhook_env, tmp_path):
    with WebhookReceiver(tmp_path / "webhooks.sqlite", verify_token_env=VERIFY_TOKEN_ENV,
                         app_secret_env=APP_SECRET_ENV) as running:
        yield running


@pytest.fixture
def store(receiver) -> WebhookStore:
    return receiver.store


def independent_signature(body: bytes, secret: str = FAKE_APP_SECRET) -> str:
    """X-Hub-Signature-256 computed here, not with the code under test."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def as_meta_sends(notification: dict) -> bytes:
    """Compact JSON with non-ASCII as \\u escapes, computed here, not with the code under test."""
    return json.dumps(notification, separators=(",", ":")).encode("ascii")


def post(url: str, body: bytes, signature: str | None = "sign", **kwargs) -> requests.Response:
    """POST `body`; signed correctly by default, with `signature` as the header if given, unsigned if None."""
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = independent_signature(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return requests.post(url, data=body, headers=headers, timeout=10, **kwargs)
