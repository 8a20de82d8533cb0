"""Fixtures for the sandbox tests: one sandbox per test module (reset before each test), a Graph
helper over plain requests, and a tiny tornado webhook receiver on a free port.

Import with `from sandbox_fixtures import *` (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from typing import Any, Callable

import pytest
import requests
import tornado.web

from helpers.serving import BackgroundServer

EXAMPLE_BUSINESS = "100000000000001"
EXAMPLE_WABA = "200000000000001"
MARKETING_WABA = "200000000000003"
EXAMPLE_APP = "300000000000001"
DEMO_PHONE = "400000000000001"          # VERIFIED, not registered
UNVERIFIED_PHONE = "400000000000002"
EXPIRED_PHONE = "400000000000003"
ONPREM_PHONE = "400000000000004"
TEST_PHONE = "400000000000005"          # account_mode SANDBOX, allow-list +16505550100
LIVE_PHONE = "400000000000006"          # registered, HIGH throughput
STANDARD_LIVE_PHONE = "400000000000007"  # registered, STANDARD throughput
BLUEFIN_BUSINESS = "100000000000002"
BLUEFIN_WABA = "200000000000002"
BLUEFIN_APP = "300000000000002"
BLUEFIN_PHONE = "400000000000011"
CONSUMER = "+16505550100"
UK_CONSUMER = "+447700900555"
VERSION = "v25.0"


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until condition() is truthy (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Graph:
    """Plain HTTP against the sandbox, as a client would send it."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self.env = env
        self.http = requests.Session()

    def token(self, name: str = "WHATSAPP_TOKEN") -> str:
        return self.env[name]

    def app_token(self, app_id: str = EXAMPLE_APP, secret_env: str = "WHATSAPP_APP_SECRET") -> str:
        return f"{app_id}|{self.env[secret_env]}"

    def request(self, method: str, path: str, *, token: str | None = "WHATSAPP_TOKEN", raw_token: str | None = None,
                version: str | None = VERSION, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        value = raw_token if raw_token is not None else (self.env[token] if token else None)
        if value:
            headers["Authorization"] = f"Bearer {value}"
        prefix = f"/{version}" if version else ""
        return self.http.request(method, f"{self.url}{prefix}/{path.lstrip('/')}", headers=headers, timeout=15, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def register(self, phone_id: str, pin_env: str = "WHATSAPP_PIN", **kwargs) -> requests.Response:
        return self.post(f"{phone_id}/register", json={"messaging_product": "whatsapp", "pin": self.env[pin_env]}, **kwargs)

    def send_template(self, phone_id: str, to: str = CONSUMER, **kwargs) -> requests.Response:
        return self.post(f"{phone_id}/messages", json={
            "messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}}}, **kwargs)

    def send_text(self, phone_id: str, to: str = CONSUMER, body: str = "hello", **kwargs) -> requests.Response:
        return self.post(f"{phone_id}/messages", json={
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": False, "body": body}}, **kwargs)

    def set_app_callback(self, callback_url: str, verify_token_env: str = "WHATSAPP_VERIFY_TOKEN",
                         app_id: str = EXAMPLE_APP, secret_env: str = "WHATSAPP_APP_SECRET") -> requests.Response:
        return self.post(f"{app_id}/subscriptions", token=None, params={
            "object": "whatsapp_business_account", "callback_url": callback_url,
            "verify_token": self.env[verify_token_env], "fields": "messages",
            "access_token": self.app_token(app_id, secret_env)})


def error_of(response: requests.Response) -> dict:
    body = response.json()
    assert "error" in body, body
    return body["error"]


class Receiver:
    """A webhook endpoint: answers the verification GET when the verify token matches, records POSTs.

    `fail_next` POSTs are answered 500 (to make the sandbox retry).
    """

    def __init__(self, verify_token: str) -> None:
        self.verify_token = verify_token
        self.handshakes: list[dict] = []
        self.posts: list[dict] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        receiver = self

        class Endpoint(tornado.web.RequestHandler):
            def get(self, path: str) -> None:
                args = {k: self.get_query_argument(k, None) for k in ("hub.mode", "hub.challenge", "hub.verify_token")}
                receiver.handshakes.append({"path": path, **args})
                if args["hub.mode"] == "subscribe" and args["hub.verify_token"] == receiver.verify_token:
                    self.set_header("Content-Type", "text/plain")
                    self.write(args["hub.challenge"] or "")
                else:
                    self.set_status(403)
                    self.write("forbidden")

            def post(self, path: str) -> None:
                with receiver._lock:
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= 1 if failing else 0
                    receiver.posts.append({"path": path, "body": bytes(self.request.body),
                                           "headers": dict(self.request.headers), "answered": 500 if failing else 200})
                self.set_status(500 if failing else 200)
                self.write("fail" if failing else "ok")

        self.server = BackgroundServer(tornado.web.Application([(r"/(.*)", Endpoint)]), name="test-receiver")

    def start(self) -> "Receiver":
        self.server.start()
        return self

    def url(self, path: str = "webhook") -> str:
        return f"{self.server.url}/{path}"

    def stop(self) -> None:
        self.server.stop()

    def posts_to(self, path: str) -> list[dict]:
        return [p for p in self.posts if p["path"] == path]


def signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    """Independent of helpers.webhooks.signature: HMAC-SHA256 over the raw bytes, hex, 'sha256=' prefix."""
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)











@pytest.fixture
def receiver(sb):
    r = Receiver(sb.demo_env()["WHATSAPP_VERIFY_TOKEN"]).start()
    yield r
    r.stop()
