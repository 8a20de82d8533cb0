"""The webhook receiver over real HTTP on 127.0.0.1: handshake, signatures, storage before the 200."""
from __future__ import annotations

import importlib.util
import json
import logging
import signal
import socket
from pathlib import Path

import pytest
import requests

from helpers.errors import MissingSecretError
from helpers.webhooks import WebhookReceiver, payloads, sign
from webhook_fixtures import (APP_SECRET_ENV, FAKE_APP_SECRET, FAKE_VERIFY_TOKEN, VERIFY_TOKEN_ENV, as_meta_sends,
                              independent_signature, post, receiver, store, webhook_env)  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def handshake(url: str, mode="subscribe", token=FAKE_VERIFY_TOKEN, challenge="1158201444") -> requests.Response:
    return requests.get(url, params={"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge},
                        timeout=10)


def stored_counts(store) -> dict:
    return {"deliveries": len(store.deliveries()), "events": len(store.events()),
            "messages": len(store.messages()), "statuses": len(store.statuses())}


def test_public_signature_vector():
    # HMAC-SHA256(key="secret", msg="test"), published with hexdocs.pm/whatsapp_sdk.
    assert sign(b"test", "secret") == "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"


@pytest.mark.parametrize("path", ["/webhook", "/"])
def test_handshake_answers_the_raw_challenge(receiver, path):
    challenge = "a b/c+d\"1158201444"  # anything Meta sends comes back byte for byte
    response = handshake(receiver.url + path, challenge=challenge)
    assert response.status_code == 200
    assert response.content == challenge.encode()
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("mode, token", [("subscribe", "wrong-token"), ("unsubscribe", FAKE_VERIFY_TOKEN),
                                         ("subscribe", ""), ("", FAKE_VERIFY_TOKEN)])
def test_handshake_refuses_wrong_token_or_mode(receiver, mode, token):
    response = handshake(receiver.callback_url, mode=mode, token=token)
    assert response.status_code == 403
    assert b"1158201444" not in response.content


def test_signed_post_is_stored_before_the_200(receiver, store):
    notification = payloads.text_message("Olá, está aí? ✅ 日本語", message_id="wamid.signed-1")
    body = as_meta_sends(notification)
    assert b"\\u00e1" in body  # non-ASCII travels as \u escapes, as Meta sends it
    response = post(receiver.callback_url, body, signature=independent_signature(body))
    assert response.status_code == 200
    # The 200 came after the commit: the row is readable from another connection right away.
    messages = store.messages()
    assert messages["id"].tolist() == ["wamid.signed-1"]
    assert messages["text"][0] == "Olá, está aí? ✅ 日本語"
    assert store.deliveries()["body"][0] == body  # the raw bytes, kept for audit


@pytest.mark.parametrize("forge, status", [
    (lambda body: None, 401),
    (lambda body: "", 401),
    (lambda body: independent_signature(b"another body"), 403),
    (lambda body: independent_signature(body, "not-the-app-secret"), 403),
    (lambda body: "sha1=" + "0" * 40, 403),
    (lambda body: "sha256=zz", 403),
], ids=["missing", "empty", "other body", "other secret", "sha1", "garbage"])
def test_bad_or_missing_signature_is_rejected_and_nothing_stored(receiver, store, forge, status):
    body = as_meta_sends(payloads.text_message(message_id="wamid.forged"))
    assert post(receiver.callback_url, body, signature=forge(body)).status_code == status
    assert stored_counts(store) == {"deliveries": 0, "events": 0, "messages": 0, "statuses": 0}


def test_re_serialized_body_does_not_verify(receiver, store):
    """The classic bug, seen from the receiver: a signature over re-encoded JSON is not Meta's."""
    body = as_meta_sends(payloads.text_message("äöå"))
    re_encoded = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert post(receiver.callback_url, body, signature=independent_signature(re_encoded)).status_code == 403
    assert store.deliveries().empty


def test_retries_are_stored_once(receiver, store):
    message = as_meta_sends(payloads.text_message(message_id="wamid.retried"))
    for _ in range(3):
        assert post(receiver.callback_url, message).status_code == 200
    status = payloads.status("wamid.retried", "delivered", timestamp=1750030073)
    compact, spaced = as_meta_sends(status), json.dumps(status, indent=1).encode()  # same event, other bytes
    for body in (compact, spaced, compact):
        assert post(receiver.callback_url, body).status_code == 200
    assert stored_counts(store) == {"deliveries": 3, "events": 3, "messages": 1, "statuses": 1}


MALFORMED = {
    "not JSON": b"this is not json",
    "truncated JSON": b'{"object":"whatsapp_business_account","entry":[',
    "not an object": b"[1, 2, 3]",
    "other object": b'{"object":"page","entry":[{"id":"1","changes":[]}]}',
    "no entry": b'{"object":"whatsapp_business_account"}',
    "entry without changes": b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398"}]}',
    "unknown field": as_meta_sends(payloads.notification({"x": 1}, field="brand_new_field")),
    "message without id": as_meta_sends(payloads.notification({"messages": [{"from": "16505551234"}]})),
    "value not an object": as_meta_sends(payloads.notification("just text")),  # type: ignore[arg-type]
    "group change without groups": as_meta_sends(payloads.notification(
        {"messaging_product": "whatsapp", "groups": "Y2FwaV9ncm91cDo"}, field="group_lifecycle_update")),
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "invalid UTF-8": b'{"object":"whatsapp_business_account","entry":"\xff\xfe"}',
    "empty": b"",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_signed_malformed_bodies_are_kept_raw_flagged_and_answered_200(receiver, store, name):
    body = MALFORMED[name]
    assert post(receiver.callback_url, body).status_code == 200
    deliveries = store.deliveries()
    assert deliveries["body"].tolist() == [body]
    assert deliveries["flagged"].tolist() == [True]
    events = store.events()
    assert events["flagged"].any() and events["problem"].notna().any()
    # Still serving, and still storing well-formed deliveries.
    assert post(receiver.callback_url, as_meta_sends(payloads.text_message())).status_code == 200
    assert len(store.messages()) == 1


def test_oversized_body_gets_413_and_is_not_stored(webhook_env, tmp_path):
    with WebhookReceiver(tmp_path / "w.sqlite", VERIFY_TOKEN_ENV, APP_SECRET_ENV, max_body_bytes=1024) as small:
        big = b'{"object":"whatsapp_business_account","pad":"' + b"x" * 2000 + b'"}'
        assert post(small.callback_url, big).status_code == 413

        def chunked():  # no Content-Length: the cap applies while reading
            for start in range(0, len(big), 500):
                yield big[start:start + 500]

        assert post(small.callback_url, chunked(), signature=independent_signature(big)).status_code == 413
        assert post(small.callback_url, as_meta_sends(payloads.text_message())).status_code == 200
        assert len(small.store.deliveries()) == 1


def test_unknown_path_and_method(receiver):
    assert requests.get(receiver.url + "/other", timeout=10).status_code == 404
    assert requests.put(receiver.callback_url, data=b"{}", timeout=10).status_code == 405


def test_missing_secret_is_named_at_start(monkeypatch, tmp_path):
    monkeypatch.setenv(VERIFY_TOKEN_ENV, FAKE_VERIFY_TOKEN)
    monkeypatch.delenv(APP_SECRET_ENV, raising=False)
    with pytest.raises(MissingSecretError, match=APP_SECRET_ENV):
        WebhookReceiver(tmp_path / "w.sqlite", VERIFY_TOKEN_ENV, APP_SECRET_ENV).start()


def test_secrets_stay_out_of_repr_and_logs(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    handshake(receiver.callback_url)
    handshake(receiver.callback_url, token="wrong")
    post(receiver.callback_url, b"{}", signature=None)
    server_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("tornado", "helpers")))
    assert "403 GET /webhook" in server_logs
    text = repr(receiver) + server_logs
    assert FAKE_VERIFY_TOKEN not in text and FAKE_APP_SECRET not in text


def test_stops_cleanly_and_restarts_on_the_same_store(webhook_env, tmp_path):
    db = tmp_path / "w.sqlite"
    first = WebhookReceiver(db, VERIFY_TOKEN_ENV, APP_SECRET_ENV).start()
    assert post(first.callback_url, as_meta_sends(payloads.text_message(message_id="wamid.1"))).status_code == 200
    port = first.port
    first.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with WebhookReceiver(db, VERIFY_TOKEN_ENV, APP_SECRET_ENV) as second:
        assert post(second.callback_url, as_meta_sends(payloads.text_message(message_id="wamid.2"))).status_code == 200
        assert second.store.messages()["id"].tolist() == ["wamid.1", "wamid.2"]


def test_sigkill_mid_load_loses_nothing_and_reposts_store_nothing_twice():
    """`python -m helpers webhooks serve` killed with SIGKILL under concurrent posts (bench/sigkill_webhooks.py)."""
    spec = importlib.util.spec_from_file_location("sigkill_webhooks", ROOT / "bench" / "sigkill_webhooks.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    result = script.run(events=300, workers=6)
    assert result["killed_by_signal"] == signal.SIGKILL
    assert 150 <= result["answered_200_before_kill"] < 300  # killed mid-load
    assert result["lost"] == 0
    assert result["integrity_check"] == "ok"
    assert result["reposted_answered_200"] == 300
    assert result["stored_twice"] == 0
    assert result["stored_after_repost"] == result["distinct_events"] == 300
    assert result["deliveries_after_repost"] == 300
