"""Webhooks the sandbox sends: shapes, the signature over the exact bytes, precedence, retries."""
from __future__ import annotations

import datetime as dt
import json
import re

from sandbox_fixtures import *  # noqa: F401,F403
from sandbox_fixtures import (CONSUMER, EXAMPLE_WABA, LIVE_PHONE, UK_CONSUMER, signature_ok, wait_for)


def subscribe(graph, receiver, path: str = "app") -> None:
    assert graph.set_app_callback(receiver.url(path)).status_code == 200
    assert graph.post(f"{EXAMPLE_WABA}/subscribed_apps").status_code == 200


def statuses_of(posts: list[dict]) -> list[dict]:
    return [s for p in posts for c in json.loads(p["body"])["entry"][0]["changes"] for s in c["value"].get("statuses", [])]


def test_incoming_message_shape_and_signature(graph, sb, receiver):
    subscribe(graph, receiver)
    sent = sb.control.consumer_message(LIVE_PHONE, CONSUMER, "Does it come in äöå?")
    assert sent["id"].startswith("wamid.") and sent["webhook_callbacks"] == 1
    (post,) = wait_for(lambda: receiver.posts_to("app"), what="the incoming message webhook")
    body = post["body"]
    assert b"\\u00e4\\u00f6\\u00e5" in body and "ä".encode() not in body  # escaped as Meta sends it
    assert signature_ok(body, post["headers"].get("X-Hub-Signature-256"), graph.env["WHATSAPP_APP_SECRET"])
    assert not signature_ok(body + b" ", post["headers"].get("X-Hub-Signature-256"), graph.env["WHATSAPP_APP_SECRET"])
    assert post["headers"]["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["object"] == "whatsapp_business_account"
    (entry,) = payload["entry"]
    assert entry["id"] == EXAMPLE_WABA
    (change,) = entry["changes"]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": "15550100006", "phone_number_id": LIVE_PHONE}
    (contact,) = value["contacts"]
    assert contact["profile"] == {"name": "Alex Rivera"} and contact["wa_id"] == "16505550100"
    assert re.fullmatch(r"US\.[0-9]{20}", contact["user_id"])  # the business-scoped user ID
    (message,) = value["messages"]
    assert message == {"from": "16505550100", "id": sent["id"], "timestamp": message["timestamp"], "type": "text",
                       "text": {"body": "Does it come in äöå?"}}
    assert message["timestamp"].isdigit()


def test_template_statuses_sent_delivered_read_with_pmp_pricing(graph, receiver):
    subscribe(graph, receiver)
    wamid = graph.send_template(LIVE_PHONE).json()["messages"][0]["id"]
    posts = wait_for(lambda: len(receiver.posts) >= 3 and receiver.posts, what="three status webhooks")
    statuses = statuses_of(posts)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    for status in statuses:
        assert status["id"] == wamid and status["recipient_id"] == "16505550100" and status["timestamp"].isdigit()
        assert status["pricing"] == {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
    assert all(signature_ok(p["body"], p["headers"]["X-Hub-Signature-256"], graph.env["WHATSAPP_APP_SECRET"]) for p in posts)


def test_text_inside_the_window_is_charged_since_october_2026(graph, sb, receiver):
    """Meta charges service messages from 2026-10-01 (pricing/non-template-messages): a text in the window
    is billable, type regular, category service."""
    subscribe(graph, receiver)
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    graph.send_text(LIVE_PHONE)
    posts = wait_for(lambda: len(receiver.posts) >= 4 and receiver.posts, what="message + three statuses")
    pricing = statuses_of(posts)[0]["pricing"]
    assert pricing == {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "service"}


def _back_to(sb, when: dt.datetime) -> None:
    """Set the (in-process) sandbox clock back to `when`: the control API only moves it forward."""
    clock = sb.service.clock
    shift = clock.now() - when.timestamp()
    if clock.frozen_at is not None:
        clock.frozen_at -= shift
    else:
        clock.offset -= shift


def test_before_october_2026_the_window_was_free_for_service_and_utility(graph, sb, receiver):
    subscribe(graph, receiver)
    _back_to(sb, dt.datetime(2026, 9, 15, 12, tzinfo=dt.timezone.utc))
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    graph.send_text(LIVE_PHONE)
    graph.send_template(LIVE_PHONE)
    posts = wait_for(lambda: len(statuses_of(receiver.posts)) >= 6 and receiver.posts, what="two messages' statuses")
    prices = {s["pricing"]["category"]: s["pricing"] for s in statuses_of(posts)}
    assert prices == {c: {"billable": False, "pricing_model": "PMP", "type": "free_customer_service", "category": c}
                      for c in ("service", "utility")}


def test_a_utility_template_inside_the_window_is_charged_since_october_2026(graph, sb, receiver):
    subscribe(graph, receiver)
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "where is my order?")
    graph.send_template(LIVE_PHONE)
    posts = wait_for(lambda: len(statuses_of(receiver.posts)) >= 3 and receiver.posts, what="three statuses")
    assert {json.dumps(s["pricing"], sort_keys=True) for s in statuses_of(posts)} == {json.dumps(
        {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}, sort_keys=True)}


def test_an_authentication_template_abroad_is_priced_authentication_international(graph, sb, receiver):
    """Meta's authentication-international rates: a US business's authentication template to an Indian number."""
    subscribe(graph, receiver)
    assert graph.post(f"{EXAMPLE_WABA}/message_templates", json={
        "name": "login_code", "language": "en_US", "category": "AUTHENTICATION",
        "components": [{"type": "BODY", "text": "{{1}} is your verification code."}]}).status_code == 200
    sb.control.advance_clock(61)
    india = "+919812345678"
    sb.control.consumer_message(LIVE_PHONE, india, "hi")
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    for to in (india, CONSUMER):
        assert graph.post(f"{LIVE_PHONE}/messages", json={
            "messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": "login_code", "language": {"code": "en_US"}}}).status_code == 200
    posts = wait_for(lambda: len(statuses_of(receiver.posts)) >= 6 and receiver.posts, what="six statuses")
    categories = {s["recipient_id"]: s["pricing"]["category"] for s in statuses_of(posts)}
    assert categories == {"919812345678": "authentication_international", "16505550100": "authentication"}


def test_text_outside_the_window_is_accepted_then_fails_131047(graph, sb, receiver):
    subscribe(graph, receiver)
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    sb.control.advance_clock(24 * 3600 + 1)
    response = graph.send_text(LIVE_PHONE)
    assert response.status_code == 200
    wamid = response.json()["messages"][0]["id"]
    wait_for(lambda: statuses_of(receiver.posts), what="the failed status")
    (status,) = statuses_of(receiver.posts)
    assert status["id"] == wamid and status["status"] == "failed" and "pricing" not in status
    (error,) = status["errors"]
    assert error["code"] == 131047 and error["title"] == "Re-engagement message"
    assert "24 hours" in error["error_data"]["details"]


def test_message_to_a_non_whatsapp_number_fails_131026(graph, receiver):
    subscribe(graph, receiver)
    assert graph.send_template(LIVE_PHONE, to="+15550001234").status_code == 200
    wait_for(lambda: statuses_of(receiver.posts), what="the failed status")
    assert statuses_of(receiver.posts)[0]["errors"][0]["code"] == 131026


def test_callback_precedence_phone_then_waba_then_app(graph, sb, receiver):
    subscribe(graph, receiver, "app")
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "1")
    wait_for(lambda: receiver.posts_to("app"), what="delivery to the app callback")

    verify = graph.env["WHATSAPP_VERIFY_TOKEN"]
    graph.post(f"{EXAMPLE_WABA}/subscribed_apps", json={"override_callback_uri": receiver.url("waba"), "verify_token": verify})
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "2")
    wait_for(lambda: receiver.posts_to("waba"), what="delivery to the WABA override")

    graph.post(LIVE_PHONE, json={"webhook_configuration": {"override_callback_uri": receiver.url("phone"), "verify_token": verify}})
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "3")
    wait_for(lambda: receiver.posts_to("phone"), what="delivery to the phone override")
    assert [len(receiver.posts_to(p)) for p in ("app", "waba", "phone")] == [1, 1, 1]

    graph.post(LIVE_PHONE, json={"webhook_configuration": {"override_callback_uri": ""}})
    sb.control.consumer_message(LIVE_PHONE, UK_CONSUMER, "4")
    wait_for(lambda: len(receiver.posts_to("waba")) == 2, what="back to the WABA override")


def test_nothing_is_sent_without_subscriptions(graph, sb, receiver):
    assert graph.set_app_callback(receiver.url("app")).status_code == 200  # app callback, WABA not subscribed
    assert sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")["webhook_callbacks"] == 0
    graph.send_template(LIVE_PHONE)
    assert [d["kind"] for d in sb.control.deliveries()] == ["verification"]


def test_non_200_is_retried_with_backoff_so_duplicates_arrive(graph, sb, receiver):
    subscribe(graph, receiver)
    receiver.fail_next = 1
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "retry me")
    wait_for(lambda: receiver.posts, what="the first attempt")
    failed = wait_for(lambda: [d for d in sb.control.deliveries() if d["kind"] == "message"], what="the logged attempt")
    assert failed[0]["status"] == 500 and failed[0]["attempt"] == 1
    assert len(receiver.posts) == 1  # the retry waits for the backoff on the sandbox clock
    sb.control.advance_clock(30)
    wait_for(lambda: len(receiver.posts) == 2, what="the retry")
    first, second = receiver.posts
    assert first["answered"] == 500 and second["answered"] == 200
    assert first["body"] == second["body"]  # the same event, delivered again: a duplicate
    attempts = [d for d in sb.control.deliveries() if d["kind"] == "message"]
    assert [(d["attempt"], d["status"]) for d in attempts] == [(1, 500), (2, 200)]
    assert attempts[0]["event_id"] == attempts[1]["event_id"]
    assert attempts[0]["url"] == receiver.url("app")


def test_unreachable_callback_is_retried_later(graph, sb, receiver):
    subscribe(graph, receiver)
    receiver.stop()
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "anyone there?")
    wait_for(lambda: [d for d in sb.control.deliveries() if d["kind"] == "message"], what="the failed attempt")
    delivery = [d for d in sb.control.deliveries() if d["kind"] == "message"][0]
    assert delivery["status"] is None and delivery["error"]


def test_signed_with_the_subscribed_apps_secret(graph, sb, receiver):
    subscribe(graph, receiver)
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    (post,) = wait_for(lambda: receiver.posts, what="the webhook")
    assert signature_ok(post["body"], post["headers"]["X-Hub-Signature-256"], graph.env["WHATSAPP_APP_SECRET"])
    assert not signature_ok(post["body"], post["headers"]["X-Hub-Signature-256"], graph.env["BLUEFIN_APP_SECRET"])
    assert post["headers"]["X-Hub-Signature"].startswith("sha1=")
