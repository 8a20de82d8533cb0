"""The store's readers and wait functions, fed through a running receiver over HTTP."""
from __future__ import annotations

import json
import threading
import time

import pandas as pd
import pytest

from helpers.errors import ConfigError
from helpers.webhooks import WebhookStore, payloads
from webhook_fixtures import as_meta_sends, post, receiver, store, webhook_env  # noqa: F401

CONSUMER = "16505551234"
OTHER_PHONE_NUMBER_ID = "109876543210987"


def deliver(receiver, *notifications) -> None:
    for notification in notifications:
        assert post(receiver.callback_url, as_meta_sends(notification)).status_code == 200


def test_a_new_store_reads_empty_tables_with_their_columns(tmp_path):
    fresh = WebhookStore(tmp_path / "sub" / "new.sqlite")
    assert fresh.messages().empty and fresh.statuses().empty and fresh.events().empty
    assert list(fresh.messages().columns) == [
        "id", "from", "user_id", "type", "text", "media_id", "timestamp", "phone_number_id", "waba_id",
        "display_phone_number", "contact_name", "received_at"]
    assert list(fresh.statuses().columns) == [
        "message_id", "status", "timestamp", "recipient_id", "recipient_user_id", "errors", "error_code", "billable",
        "pricing_model", "pricing_type", "category", "phone_number_id", "waba_id", "received_at"]
    assert fresh.latest_statuses().empty


def test_messages_table(receiver, store):
    deliver(receiver,
            payloads.text_message("Olá ✅", message_id="wamid.text", timestamp=1749416383),
            payloads.image_message("1003383421387256", message_id="wamid.image"),
            payloads.text_message("other number", message_id="wamid.other", from_number="+447700900123",
                                  phone_number_id=OTHER_PHONE_NUMBER_ID))
    messages = store.messages()
    assert messages["id"].tolist() == ["wamid.text", "wamid.image", "wamid.other"]
    text = messages.iloc[0]
    assert (text["from"], text["type"], text["text"], text["contact_name"]) == (CONSUMER, "text", "Olá ✅", "Sheena Nelson")
    assert (text["phone_number_id"], text["waba_id"], text["display_phone_number"]) == (
        payloads.PHONE_NUMBER_ID, payloads.WABA_ID, payloads.DISPLAY_PHONE_NUMBER)
    assert text["timestamp"] == pd.Timestamp(1749416383, unit="s", tz="UTC")
    assert messages.iloc[1][["type", "media_id", "text"]].tolist() == ["image", "1003383421387256", "Taj Mahal"]
    assert str(messages["received_at"].dtype).startswith("datetime64") and messages["received_at"].dt.tz is not None

    # `from` is stored without '+'; the filter takes either form.
    for number in ("+1 650-555-1234", CONSUMER, "+16505551234"):
        assert store.messages(from_number=number)["id"].tolist() == ["wamid.text", "wamid.image"]
    assert store.messages(phone_number_id=OTHER_PHONE_NUMBER_ID)["from"].tolist() == ["447700900123"]
    assert store.messages(phone_number_id=OTHER_PHONE_NUMBER_ID, from_number=CONSUMER).empty


def test_business_scoped_user_ids(receiver, store):
    message = payloads.text_message(message_id="wamid.bsuid")
    value = message["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = "US.13491208655302741918"
    status = payloads.status("wamid.sent-1", "sent")
    status["entry"][0]["changes"][0]["value"]["statuses"][0]["recipient_user_id"] = "US.13491208655302741918"
    deliver(receiver, message, status)
    assert store.messages()["user_id"].tolist() == ["US.13491208655302741918"]
    assert store.messages(from_number="US.13491208655302741918")["id"].tolist() == ["wamid.bsuid"]
    assert store.statuses()["recipient_user_id"].tolist() == ["US.13491208655302741918"]


def test_statuses_and_latest_status(receiver, store):
    deliver(receiver,
            payloads.status("wamid.a", "sent", timestamp=100),
            payloads.status("wamid.a", "read", timestamp=105),  # may arrive before "delivered"
            payloads.status("wamid.a", "delivered", timestamp=105),
            payloads.status("wamid.b", "sent", timestamp=100),
            payloads.status("wamid.b", "failed", timestamp=101))
    statuses = store.statuses()
    assert len(statuses) == 5
    sent = statuses.iloc[0]
    assert (sent["billable"], sent["pricing_model"], sent["pricing_type"], sent["category"]) == (
        True, "PMP", "regular", "utility")
    failed = store.statuses(message_id="wamid.b").iloc[-1]
    assert failed["error_code"] == 131047
    assert json.loads(failed["errors"])[0]["code"] == 131047
    assert pd.isna(failed["billable"])

    latest = store.latest_statuses().set_index("message_id")["status"].to_dict()
    assert latest == {"wamid.a": "read", "wamid.b": "failed"}


def test_events_keep_other_fields_whole(receiver, store):
    deliver(receiver, payloads.account_update("PARTNER_ADDED"), payloads.text_message())
    events = store.events()
    assert events["field"].tolist() == ["account_update", "messages"]
    assert not events["flagged"].any()
    update = store.events(field="account_update").iloc[0]
    assert update["waba_id"] == payloads.WABA_ID
    assert json.loads(update["value"])["event"] == "PARTNER_ADDED"


def test_wait_for_message_returns_a_stored_one(receiver, store):
    deliver(receiver, payloads.text_message("first", message_id="wamid.first"),
            payloads.text_message("second", message_id="wamid.second"))
    found = store.wait_for_message(from_number="+16505551234", phone_number_id=payloads.PHONE_NUMBER_ID, timeout=5)
    assert (found["id"], found["text"]) == ("wamid.second", "second")


def test_wait_for_message_since_waits_for_a_new_one(receiver, store):
    deliver(receiver, payloads.text_message("old", message_id="wamid.old"))
    since = time.time()
    sender = threading.Timer(0.3, deliver, args=(receiver, payloads.text_message("new", message_id="wamid.new")))
    sender.start()
    try:
        found = store.wait_for_message(from_number=CONSUMER, since=since, timeout=30, poll=0.05)
    finally:
        sender.join()
    assert found["id"] == "wamid.new"


def test_wait_for_message_times_out_with_what_it_saw(receiver, store):
    deliver(receiver, payloads.text_message(from_number="+447700900123"))
    with pytest.raises(TimeoutError) as raised:
        store.wait_for_message(from_number="+1 650 555 1234", timeout=0.3, poll=0.05)
    message = str(raised.value)
    assert "16505551234" in message and "447700900123" in message and "0.3 s" in message


def test_wait_for_status_accepts_a_later_status(receiver, store):
    deliver(receiver, payloads.status("wamid.m", "sent"), payloads.status("wamid.m", "read"))
    assert store.wait_for_status("wamid.m", "delivered", timeout=5)["status"] == "read"
    assert store.wait_for_status("wamid.m", "sent", timeout=5)["status"] == "sent"


def test_wait_for_status_returns_a_failure_at_once(receiver, store):
    deliver(receiver, payloads.status("wamid.f", "sent"), payloads.status("wamid.f", "failed"))
    failed = store.wait_for_status("wamid.f", "delivered", timeout=60)  # no waiting out the 60 s
    assert failed["status"] == "failed" and failed["error_code"] == 131047


def test_wait_for_status_times_out_listing_statuses_seen(receiver, store):
    deliver(receiver, payloads.status("wamid.s", "sent"))
    with pytest.raises(TimeoutError, match=r"wamid\.s did not reach status 'read'.*statuses seen: sent"):
        store.wait_for_status("wamid.s", "read", timeout=0.3, poll=0.05)
    with pytest.raises(ConfigError, match="status must be one of"):
        store.wait_for_status("wamid.s", "seen")


def test_reading_while_the_receiver_writes(receiver, store):
    bodies = [as_meta_sends(payloads.text_message(f"n{i}", message_id=f"wamid.c{i}")) for i in range(200)]
    writer = threading.Thread(target=lambda: [post(receiver.callback_url, body) for body in bodies])
    writer.start()
    counts = []
    while writer.is_alive():
        counts.append(len(store.messages()))
    writer.join()
    assert counts == sorted(counts)  # never a locked database, never a row seen then gone
    assert len(store.messages()) == 200
