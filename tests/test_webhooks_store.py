"""The store's readers and wait functions, fed through a running receiver over HTTP."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing

import pandas as pd
import pytest

from helpers.errors import ConfigError
from helpers.webhooks import WebhookReceiver, WebhookStore, payloads
from webhook_fixtures import (APP_SECRET_ENV, VERIFY_TOKEN_ENV, as_meta_sends, post, receiver, store,  # noqa: F401
                              webhook_env)

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
        "display_phone_number", "contact_name", "received_at", "context_id", "group_id", "errors", "error_code"]
    assert list(fresh.statuses().columns) == [
        "message_id", "status", "timestamp", "recipient_id", "recipient_user_id", "errors", "error_code", "billable",
        "pricing_model", "pricing_type", "category", "phone_number_id", "waba_id", "received_at", "group_id"]
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


BSUID = "US.13491208655302741918"
PARENT_BSUID = "US.ENT.11815799212886844830"
GROUP_ID = "Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD"


def incoming(message_id: str, kind: str, **fields) -> dict:
    """A consumer's message of any type: a text message with its content swapped for `fields`."""
    notification = payloads.text_message(message_id=message_id, timestamp=1750030000)
    message = notification["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message.update(type=kind, **fields)
    return notification


def test_every_message_type_gets_a_readable_text(receiver, store):
    deliver(receiver,
            incoming("wamid.audio", "audio", audio={"mime_type": "audio/ogg; codecs=opus", "id": "1111",
                                                    "voice": True}),
            incoming("wamid.video", "video", video={"caption": "Unboxing", "mime_type": "video/mp4", "id": "2222"}),
            incoming("wamid.doc", "document", document={"filename": "invoice.pdf", "mime_type": "application/pdf",
                                                        "id": "3333"}),
            incoming("wamid.sticker", "sticker", sticker={"mime_type": "image/webp", "animated": False, "id": "4444"}),
            incoming("wamid.flow", "interactive", context={"from": payloads.DISPLAY_PHONE_NUMBER, "id": "wamid.sent"},
                     interactive={"type": "nfm_reply",
                                  "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{}"}}),
            incoming("wamid.unremoved", "reaction", reaction={"message_id": "wamid.sent", "emoji": ""}),
            incoming("wamid.unknown", "unknown", errors=[{"code": 131051, "title": "Message type unknown"}]),
            incoming("wamid.place", "location", location={"latitude": 52.52, "longitude": 13.405,
                                                          "address": "Pariser Platz, Berlin"}))
    rows = store.messages().set_index("id")
    assert rows.loc[["wamid.audio", "wamid.video", "wamid.doc", "wamid.sticker"], "media_id"].tolist() == [
        "1111", "2222", "3333", "4444"]
    assert rows.loc["wamid.video", "text"] == "Unboxing"
    assert rows.loc["wamid.doc", "text"] == "invoice.pdf"  # a document without caption: its file name
    assert pd.isna(rows.loc["wamid.audio", "text"]) and pd.isna(rows.loc["wamid.sticker", "text"])
    assert (rows.loc["wamid.flow", "text"], rows.loc["wamid.flow", "context_id"]) == ("Sent", "wamid.sent")
    assert (rows.loc["wamid.unremoved", "text"], rows.loc["wamid.unremoved", "context_id"]) == ("", "wamid.sent")
    assert (rows.loc["wamid.unknown", "text"], rows.loc["wamid.unknown", "error_code"]) == ("Message type unknown",
                                                                                            131051)
    assert json.loads(rows.loc["wamid.unknown", "errors"])[0]["code"] == 131051
    assert rows.loc["wamid.place", "text"] == "52.52,13.405 Pariser Platz, Berlin"  # no name: the address
    assert rows["error_code"].dtype == "Int64" and rows["error_code"].isna().sum() == 7
    assert not store.events()["flagged"].any()


def test_group_messages_and_username_only_senders(receiver, store):
    in_group = incoming("wamid.in-group", "text", text={"body": "hi all"}, group_id=GROUP_ID)
    username_only = payloads.text_message("no number", message_id="wamid.username")
    value = username_only["entry"][0]["changes"][0]["value"]
    del value["messages"][0]["from"], value["contacts"][0]["wa_id"]  # a username user shares no phone number
    value["messages"][0]["from_user_id"] = BSUID
    value["contacts"][0].update(user_id=BSUID, parent_user_id=PARENT_BSUID)
    deliver(receiver, in_group, username_only)
    rows = store.messages().set_index("id")
    assert rows.loc["wamid.in-group", "group_id"] == GROUP_ID
    assert (rows.loc["wamid.username", "user_id"], rows.loc["wamid.username", "contact_name"]) == (
        BSUID, payloads.CONSUMER_NAME)
    assert pd.isna(rows.loc["wamid.username", "from"])
    assert store.messages(from_number=BSUID)["id"].tolist() == ["wamid.username"]


def test_statuses_with_contacts_take_the_recipients_business_scoped_id(receiver, store):
    # Current status payloads name the recipient in `contacts` (wa_id, user_id, parent_user_id).
    with_contacts = payloads.status("wamid.to-person", "delivered", timestamp=1750030073)
    with_contacts["entry"][0]["changes"][0]["value"]["contacts"] = [
        {"wa_id": CONSUMER, "user_id": BSUID, "parent_user_id": PARENT_BSUID}]
    deliver(receiver, with_contacts)
    row = store.statuses().iloc[0]
    assert (row["recipient_id"], row["recipient_user_id"]) == (CONSUMER, BSUID)
    assert pd.isna(row["group_id"])
    assert not store.events()["flagged"].any()


def test_statuses_of_group_messages(receiver, store):
    # Live Meta: recipient_id is the group, the person is recipient_participant_id.
    live = payloads.status("wamid.to-group", "read", timestamp=1750030080)
    value = live["entry"][0]["changes"][0]["value"]
    value["statuses"][0].update(recipient_id=GROUP_ID, recipient_type="group", recipient_participant_id=CONSUMER)
    value["contacts"] = [{"wa_id": CONSUMER, "user_id": BSUID}]
    # The spec's Statuses schema: a separate group_id beside the person's recipient_id.
    spec_shaped = payloads.status("wamid.to-group-2", "sent", timestamp=1750030081)
    spec_shaped["entry"][0]["changes"][0]["value"]["statuses"][0]["group_id"] = GROUP_ID
    deliver(receiver, live, spec_shaped)
    statuses = store.statuses().set_index("message_id")
    assert statuses["group_id"].tolist() == [GROUP_ID, GROUP_ID]
    assert statuses.loc["wamid.to-group", "recipient_user_id"] == BSUID
    assert statuses.loc["wamid.to-group-2", "recipient_id"] == CONSUMER
    assert store.wait_for_status("wamid.to-group", "delivered", timeout=5)["group_id"] == GROUP_ID


def test_a_store_file_from_before_the_new_columns_is_upgraded(webhook_env, tmp_path):
    db = tmp_path / "old.sqlite"
    # The messages and statuses tables as the first release created them, with one row each.
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executescript("""
            CREATE TABLE messages (id TEXT PRIMARY KEY, "from" TEXT, user_id TEXT, type TEXT, text TEXT,
                media_id TEXT, timestamp TEXT, phone_number_id TEXT, waba_id TEXT, display_phone_number TEXT,
                contact_name TEXT, event_id INTEGER NOT NULL, received_at REAL NOT NULL);
            CREATE TABLE statuses (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, status TEXT NOT NULL,
                timestamp TEXT NOT NULL, recipient_id TEXT, recipient_user_id TEXT, errors TEXT, error_code INTEGER,
                billable INTEGER, pricing_model TEXT, pricing_type TEXT, category TEXT, phone_number_id TEXT,
                waba_id TEXT, event_id INTEGER NOT NULL, received_at REAL NOT NULL,
                UNIQUE (message_id, status, timestamp));
            INSERT INTO messages (id, "from", type, text, event_id, received_at)
                VALUES ('wamid.old', '16505551234', 'text', 'from before', 1, 1750000000);
            INSERT INTO statuses (message_id, status, timestamp, event_id, received_at)
                VALUES ('wamid.old-sent', 'sent', '1750000000', 1, 1750000000);
        """)
    old = WebhookStore(db)
    assert old.messages()[["id", "text"]].values.tolist() == [["wamid.old", "from before"]]
    assert old.messages()["context_id"].isna().all() and old.statuses()["group_id"].isna().all()
    with WebhookReceiver(db, VERIFY_TOKEN_ENV, APP_SECRET_ENV) as rx:
        reply = incoming("wamid.new", "button", context={"from": payloads.DISPLAY_PHONE_NUMBER, "id": "wamid.old-sent"},
                         button={"payload": "STOP", "text": "Stop promotions"})
        deliver(rx, reply)
    assert old.messages()["id"].tolist() == ["wamid.old", "wamid.new"]
    assert old.messages().iloc[1][["text", "context_id"]].tolist() == ["Stop promotions", "wamid.old-sent"]


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
