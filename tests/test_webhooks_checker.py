"""The endpoint checker, acting as Meta against small, deliberately broken endpoints on 127.0.0.1."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web

from helpers.serving import BackgroundServer
from helpers.errors import ConfigError
from helpers.webhooks import check_endpoint, cli, format_report
from helpers.webhooks.checker import BUDGET_MS, COLUMNS
from webhook_fixtures import (APP_SECRET_ENV, FAKE_APP_SECRET, FAKE_VERIFY_TOKEN, VERIFY_TOKEN_ENV, receiver,  # noqa: F401
                              webhook_env)

HANDSHAKE = "handshake answers the challenge"
WRONG_TOKEN = "wrong verify token refused"
WRONG_MODE = "hub.mode other than subscribe refused"
SIGNED = "signed notification answered 200 in time"
BAD_SIGNATURE = "bad signature rejected"
NO_SIGNATURE = "missing signature rejected"
SLOW_SECONDS = 2.5 * BUDGET_MS / 1000  # well beyond the budget


class PartnerEndpoint(tornado.web.RequestHandler):
    """A partner's webhook endpoint, correct unless told which mistakes to make."""

    def initialize(self, flaws: set[str]) -> None:
        self.flaws = flaws

    def get(self) -> None:
        if "echoes_query" in self.flaws:
            return self.write(self.request.query)
        mode = self.get_query_argument("hub.mode", "")
        token = self.get_query_argument("hub.verify_token", "")
        challenge = self.get_query_argument("hub.challenge", "", strip=False)
        if (token != FAKE_VERIFY_TOKEN and "accepts_any_token" not in self.flaws) or (
                mode != "subscribe" and "ignores_mode" not in self.flaws):
            self.set_status(403)
            return
        self.set_header("Content-Type", "text/plain")
        if "json_quoted" in self.flaws:
            self.write(json.dumps(challenge))
        elif "padded" in self.flaws:
            self.write(challenge + "\n")
        else:
            self.write(challenge)

    async def post(self) -> None:
        body = self.request.body
        if "re_serializes" in self.flaws:  # the classic bug: hashing a re-encoded copy, not the bytes received
            body = json.dumps(json.loads(body)).encode()
        if "no_signature_check" not in self.flaws:
            header = self.request.headers.get("X-Hub-Signature-256")
            if header is None and "crashes_without_signature" in self.flaws:
                raise KeyError("X-Hub-Signature-256")
            expected = "sha256=" + hmac.new(FAKE_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            if not header or not hmac.compare_digest(header, expected):
                self.set_status(403)
                return
        if "slow" in self.flaws:
            await asyncio.sleep(SLOW_SECONDS)
        self.write("EVENT_RECEIVED")


def serve(*flaws: str) -> BackgroundServer:
    app = tornado.web.Application([(r"/webhook", PartnerEndpoint, {"flaws": set(flaws)})])
    return BackgroundServer(app).start()


@pytest.fixture
def endpoint(request, webhook_env):
    server = serve(*getattr(request, "param", ()))
    yield server.url + "/webhook"
    server.stop()


def check(url: str, **kwargs):
    return check_endpoint(url, verify_token_env=VERIFY_TOKEN_ENV, app_secret_env=APP_SECRET_ENV, **kwargs)


def failing(frame) -> set[str]:
    return set(frame.loc[~frame["passed"], "check"])


def assert_no_secrets(text: str) -> None:
    assert FAKE_VERIFY_TOKEN not in text and FAKE_APP_SECRET not in text


def test_a_correct_endpoint_passes_every_check(endpoint):
    frame = check(endpoint)
    assert list(frame.columns) == COLUMNS
    assert frame["check"].tolist() == [HANDSHAKE, WRONG_TOKEN, WRONG_MODE, SIGNED, BAD_SIGNATURE, NO_SIGNATURE]
    assert frame["passed"].all(), format_report(frame)
    assert (frame["fix"] == "").all()
    assert frame["latency_ms"].notna().all()
    assert "6 of 6 checks passed." in format_report(frame)


def test_the_webhook_receiver_passes_every_check(receiver):
    frame = check(receiver.callback_url)
    assert frame["passed"].all(), format_report(frame)
    # The checker's notification was stored like any other, text intact.
    assert receiver.store.messages()["text"].tolist() == ["Olá! Está disponível em azul? ✅ 日本語 äöå"]


@pytest.mark.parametrize("endpoint, failed, detail, fix", [
    (("accepts_any_token",), {WRONG_TOKEN}, "accepted: HTTP 200", "answer 403"),
    (("ignores_mode",), {WRONG_MODE}, "accepted: HTTP 200", "hub.mode is 'subscribe'"),
    (("json_quoted",), {HANDSHAKE}, "JSON-quoted", "raw text body"),
    (("padded",), {HANDSHAKE}, "padded with whitespace", "no newline"),
    (("no_signature_check",), {BAD_SIGNATURE, NO_SIGNATURE}, "accepted: HTTP 200", "HMAC-SHA256 of the raw request body"),
    (("crashes_without_signature",), {NO_SIGNATURE}, "failed on it: HTTP 500", "do not crash"),
    (("re_serializes",), {SIGNED}, "correctly signed notification was rejected", "\\u escapes"),
    (("slow",), {SIGNED}, f"over the {BUDGET_MS:.0f} ms budget", "answer 200 at once"),
], indirect=["endpoint"], ids=lambda value: value[0] if isinstance(value, tuple) else None)
def test_each_broken_endpoint_fails_its_check_with_a_fix(endpoint, failed, detail, fix):
    frame = check(endpoint)
    assert failing(frame) == failed, format_report(frame)
    for row in frame[~frame["passed"]].itertuples():
        assert detail in row.detail
        assert fix in row.fix
    report = format_report(frame)
    assert f"{6 - len(failed)} of 6 checks passed." in report and "fix: " in report
    assert_no_secrets(report)


@pytest.mark.parametrize("endpoint", [("slow",)], indirect=True)
def test_no_answer_within_the_timeout_is_a_failed_row(endpoint):
    frame = check(endpoint, timeout=0.5)
    row = frame.set_index("check").loc[SIGNED]
    assert not row["passed"] and "no answer within 0.5 s" in row["detail"] and row["fix"]


@pytest.mark.parametrize("endpoint", [("echoes_query",)], indirect=True)
def test_secrets_echoed_by_the_endpoint_are_redacted(endpoint):
    frame = check(endpoint)
    assert "inside a larger body" in frame.set_index("check").loc[HANDSHAKE, "detail"]
    assert "***" in frame.to_string()
    assert_no_secrets(frame.to_string() + format_report(frame))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_gives_failed_rows_not_a_traceback(webhook_env):
    frame = check(f"http://127.0.0.1:{free_port()}/webhook", timeout=2)
    assert not frame["passed"].any()
    assert frame["detail"].str.contains("connection refused").all()
    assert (frame["fix"] != "").all()
    assert_no_secrets(frame.to_string())


def test_unresolvable_host_is_named(webhook_env):
    frame = check("http://no-such-host.invalid/webhook", timeout=2)
    assert not frame["passed"].any()
    assert frame["detail"].str.contains("does not resolve").all()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_a_self_signed_certificate_is_named_as_the_cause(webhook_env, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")  # listening before the checker connects
    port = sockets[0].getsockname()[1]
    loop = asyncio.new_event_loop()

    def run_https() -> None:
        asyncio.set_event_loop(loop)
        app = tornado.web.Application([(r"/webhook", PartnerEndpoint, {"flaws": set()})])
        tornado.httpserver.HTTPServer(app, ssl_options=context).add_sockets(sockets)
        loop.run_forever()

    thread = threading.Thread(target=run_https, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{port}/webhook"
        frame = check(url, timeout=5)
        assert not frame["passed"].any()
        handshake = frame.set_index("check").loc[HANDSHAKE]
        assert "self-signed" in handshake["detail"] and "Meta refuses self-signed certificates" in handshake["fix"]
        assert check(url, timeout=5, verify_tls=False)["passed"].all()  # the endpoint itself is fine
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_bad_input_is_refused_before_any_request(webhook_env, monkeypatch):
    with pytest.raises(ConfigError, match="callback_url must start with http"):
        check("ftp://example.com/webhook")
    monkeypatch.delenv(APP_SECRET_ENV)
    with pytest.raises(ConfigError, match=APP_SECRET_ENV):
        check("https://example.com/webhook")


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.handler(args)


@pytest.mark.parametrize("endpoint, exit_code", [((), 0), (("json_quoted",), 1)], indirect=["endpoint"])
def test_check_command_prints_the_table_and_exits_0_only_when_all_pass(endpoint, exit_code, capsys):
    assert run_cli("webhooks", "check", endpoint, "--verify-token-env", VERIFY_TOKEN_ENV,
                   "--app-secret-env", APP_SECRET_ENV, "--timeout", "5") == exit_code
    out = capsys.readouterr().out
    assert HANDSHAKE in out and "checks passed." in out
    assert ("fix: Return the challenge as the raw text body" in out) == bool(exit_code)
    assert_no_secrets(out)


def test_commands_name_a_missing_secret_and_exit_2(monkeypatch, capsys):
    monkeypatch.delenv("WEBHOOK_TEST_UNSET", raising=False)
    assert run_cli("webhooks", "check", "https://example.com/webhook", "--verify-token-env", "WEBHOOK_TEST_UNSET") == 2
    assert run_cli("webhooks", "serve", "--port", "0", "--verify-token-env", "WEBHOOK_TEST_UNSET") == 2
    assert capsys.readouterr().err.count("WEBHOOK_TEST_UNSET is not set") == 2
