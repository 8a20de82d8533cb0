"""Meta's own sample webhooks, from the vendored OpenAPI spec (v23.0), through a real receiver.

Each sample is signed over its exact bytes, posted to a `WebhookReceiver` on 127.0.0.1, and must be:
answered 200; stored without a problem flag; stored once (the same bytes again add nothing); and
readable through the store's readers with the values the sample carries. The samples are the full
notifications in the spec (the `/whatsapp/webhooks` examples, and any found elsewhere) plus the
message examples of its schemas, wrapped in an envelope made of the spec's own example values.

The expected reader values are worked out here from each sample, not by the code under test.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests

from helpers import spec
from helpers.webhooks import payloads
from helpers.webhooks.store import KNOWN_FIELDS, MEDIA_TYPES
from webhook_fixtures import (APP_SECRET_ENV, FAKE_APP_SECRET, FAKE_VERIFY_TOKEN, VERIFY_TOKEN_ENV,  # noqa: F401
                              receiver, store, webhook_env)

ROOT = Path(__file__).resolve().parents[2]
SPEC = spec.load()
SCHEMAS = SPEC["components"]["schemas"]
WEBHOOK_EXAMPLES = SPEC["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]["content"]["application/json"]["examples"]
MESSAGE_KEYS = {"from", "id", "timestamp", "type"}


def _envelopes(node, path=()) -> dict[str, dict]:
    """Every full notification anywhere in the spec, named by its example name (or its path)."""
    found: dict[str, dict] = {}
    if isinstance(node, dict):
        if node.get("object") == "whatsapp_business_account" and isinstance(node.get("entry"), list):
            in_examples = len(path) >= 2 and path[-1] == "value" and "examples" in path
            return {path[-2] if in_examples else "/".join(map(str, path)): node}
        for key, child in node.items():
            found.update(_envelopes(child, path + (key,)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.update(_envelopes(child, path + (index,)))
    return found


def _message_examples() -> dict[str, dict]:
    """The schemas' examples of one incoming message (from, id, timestamp, type), by schema name."""
    found = {}

    def walk(name, node):
        if isinstance(node, dict):
            example = node.get("example")
            if isinstance(example, dict) and MESSAGE_KEYS <= example.keys():
                found[f"schema {name}"] = example
            for child in node.values():
                walk(name, child)
        elif isinstance(node, list):
            for child in node:
                walk(name, child)

    for name, schema in SCHEMAS.items():
        walk(name, schema)
    return found


def _example(schema: str, *keys: str):
    node = SCHEMAS[schema]
    for key in keys:
        node = node["properties"][key]
    return node["example"]


def _wrapped(message: dict) -> dict:
    """One schema message example in a notification built from the spec's own example values."""
    metadata = {key: prop["example"] for key, prop in SCHEMAS["Metadata"]["properties"].items()}
    value = {"messaging_product": "whatsapp", "metadata": metadata}
    if message["type"] != "system":  # IncomingMessageValueSystem: system messages carry no contacts
        value["contacts"] = [{"profile": {"name": _example("ContactProfile", "profile", "name")},
                              "wa_id": _example("ContactProfile", "wa_id")}]
    value["messages"] = [message]
    return {"object": _example("WebhookPayload", "object"),
            "entry": [{"id": _example("Entry", "id"), "changes": [{"value": value, "field": "messages"}]}]}


ENVELOPES = _envelopes(SPEC)
MESSAGE_EXAMPLES = _message_examples()
SAMPLES = {**ENVELOPES, **{name: _wrapped(message) for name, message in MESSAGE_EXAMPLES.items()}}

# The `text` column for the spec's samples, written out: the readable line each type promises.
SUMMARIES = {
    "Text Message": "Does it come in another color?",
    "Text Message with Context (Product Inquiry)": "Is this still available?",
    "Text Message from Click to WhatsApp Ad": "Hello! Can I get more info on this?",
    "Reaction Message": "👍",
    "Image Message": "Taj Mahal",
    "Location Message": "37.44221496582,-122.16165924072 Philz Coffee",
    "Contact Sharing Message": "Lucía Gómez",
    "Unsupported Message": "Message type unknown",
    "Button Message": "Unsubscribe",
    "Interactive List Reply Message": "Priority Mail Express",
    "Interactive Button Reply Message": "Cancel",
    "Order Message": "2 × di9ozbzfi4, 1 × nqryix03ez",
    "System Message": "User Sheena Nelson changed from 16505551234 to 12195555358",
}


# --- what the readers should show, worked out from a sample ---------------------------------------

MESSAGE_READ = ("id", "from", "user_id", "type", "text", "media_id", "timestamp", "phone_number_id", "waba_id",
                "display_phone_number", "contact_name", "context_id", "group_id", "errors", "error_code")
STATUS_READ = ("message_id", "status", "timestamp", "recipient_id", "recipient_user_id", "errors", "error_code",
               "billable", "pricing_model", "pricing_type", "category", "phone_number_id", "waba_id", "group_id")


def _summary(message: dict):
    kind = message["type"]
    part = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return part["body"]
    if kind in MEDIA_TYPES:
        return part.get("caption") or part.get("filename")
    if kind == "reaction":
        return part["emoji"]
    if kind == "location":
        return f"{part['latitude']},{part['longitude']} {part.get('name') or part['address']}"
    if kind == "contacts":
        return ", ".join(card["name"]["formatted_name"] for card in message["contacts"])
    if kind == "button":
        return part["text"]
    if kind == "interactive":
        return part[part["type"]]["title"]
    if kind == "order":
        items = ", ".join(f"{item['quantity']} × {item['product_retailer_id']}" for item in part["product_items"])
        return f"{part['text']}: {items}" if part.get("text") else items
    if kind == "system":
        return part["body"]
    return message["errors"][0]["title"]  # unsupported / unknown


def _expected_message(message: dict, value: dict, waba_id: str) -> dict:
    contacts = value.get("contacts") or []
    contact = next((c for c in contacts if c.get("wa_id") == message["from"]),
                   contacts[0] if len(contacts) == 1 else {})
    kind = message["type"]
    errors = message.get("errors")
    return {
        "id": message["id"], "from": message["from"], "user_id": message.get("from_user_id") or contact.get("user_id"),
        "type": kind, "text": _summary(message),
        "media_id": message[kind]["id"] if kind in MEDIA_TYPES else None,
        "timestamp": pd.Timestamp(int(message["timestamp"]), unit="s", tz="UTC"),
        "phone_number_id": value["metadata"]["phone_number_id"], "waba_id": waba_id,
        "display_phone_number": value["metadata"]["display_phone_number"],
        "contact_name": (contact.get("profile") or {}).get("name"),
        "context_id": (message.get("context") or {}).get("id") or (message.get("reaction") or {}).get("message_id"),
        "group_id": message.get("group_id"),
        "errors": errors, "error_code": errors[0]["code"] if errors else None,
    }


def _expected_status(status: dict, value: dict, waba_id: str) -> dict:
    pricing = status.get("pricing") or {}
    errors = status.get("errors")
    to_group = status.get("recipient_type") == "group"
    person = status.get("recipient_participant_id") if to_group else status.get("recipient_id")
    contact = next((c for c in value.get("contacts") or [] if person and c.get("wa_id") == person), {})
    return {
        "message_id": status["id"], "status": status["status"],
        "timestamp": pd.Timestamp(int(status["timestamp"]), unit="s", tz="UTC"),
        "recipient_id": status.get("recipient_id"),
        "recipient_user_id": status.get("recipient_user_id") or contact.get("user_id"),
        "errors": errors, "error_code": errors[0]["code"] if errors else None,
        "billable": pricing.get("billable"), "pricing_model": pricing.get("pricing_model"),
        "pricing_type": pricing.get("type"), "category": pricing.get("category"),
        "phone_number_id": value["metadata"]["phone_number_id"], "waba_id": waba_id,
        "group_id": status.get("group_id") or (status.get("recipient_id") if to_group else None),
    }


def _plain(row: pd.Series, keys) -> dict:
    """A reader row as plain values: missing ones as None, JSON columns parsed."""
    out = {}
    for key in keys:
        cell = row[key]
        cell = None if pd.api.types.is_scalar(cell) and pd.isna(cell) else cell
        out[key] = json.loads(cell) if key == "errors" and cell is not None else cell
    return out


def _changes(sample: dict):
    for entry in sample["entry"]:
        for change in entry["changes"]:
            yield entry["id"], change


def _counts(store) -> dict:
    return {"deliveries": len(store.deliveries()), "events": len(store.events()),
            "messages": len(store.messages()), "statuses": len(store.statuses())}


def _post(url: str, body: bytes) -> requests.Response:
    return requests.post(url, data=body, headers=payloads.signed_headers(body, FAKE_APP_SECRET), timeout=10)


# --- the tests -----------------------------------------------------------------------------------

def test_every_sample_in_the_spec_is_found():
    # Counted from the text as well, so a sample the walker missed shows up as a mismatch.
    in_text = len(re.findall(r"^\s*object: whatsapp_business_account\s*$",
                             spec.SPEC_PATH.read_text(encoding="utf-8"), flags=re.MULTILINE))
    print(f"\n{len(SAMPLES)} spec samples: {len(ENVELOPES)} notifications "
          f"({len(WEBHOOK_EXAMPLES)} under /whatsapp/webhooks), {len(MESSAGE_EXAMPLES)} schema message examples")
    assert len(ENVELOPES) == in_text > 0
    assert set(WEBHOOK_EXAMPLES) <= set(ENVELOPES)
    assert len(MESSAGE_EXAMPLES) > 0
    assert len(SAMPLES) == len(ENVELOPES) + len(MESSAGE_EXAMPLES)
    assert set(SUMMARIES) <= set(SAMPLES)  # the written-out table names real samples


def test_every_field_the_spec_uses_is_known_to_the_receiver():
    used = {change["field"] for sample in SAMPLES.values() for _, change in _changes(sample)}
    declared = set(SCHEMAS["Change"]["properties"]["field"]["enum"])
    assert {"messages", "group_lifecycle_update"} <= used
    assert (used | declared) - KNOWN_FIELDS == set()


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_round_trips_through_the_receiver(receiver, store, name):
    sample = SAMPLES[name]
    body = payloads.encode(sample)
    response = _post(receiver.callback_url, body)
    assert response.status_code == 200, response.text

    deliveries = store.deliveries()
    assert deliveries["body"].tolist() == [body]
    assert deliveries["problem"].isna().all(), deliveries["problem"].tolist()
    changes = list(_changes(sample))
    events = store.events()
    assert not events["flagged"].any(), events["problem"].tolist()
    assert events["field"].tolist() == [change["field"] for _, change in changes]
    assert events["waba_id"].tolist() == [waba_id for waba_id, _ in changes]
    assert [json.loads(value) for value in events["value"]] == [json.loads(json.dumps(change["value"]))
                                                                for _, change in changes]
    for field in {change["field"] for _, change in changes}:  # readable by field, as a notebook asks
        assert len(store.events(field=field)) == sum(change["field"] == field for _, change in changes)

    expected_messages = [_expected_message(m, change["value"], waba_id) for waba_id, change in changes
                         for m in change["value"].get("messages") or []]
    expected_statuses = [_expected_status(s, change["value"], waba_id) for waba_id, change in changes
                         for s in change["value"].get("statuses") or []]
    messages, statuses = store.messages(), store.statuses()
    assert [_plain(row, MESSAGE_READ) for _, row in messages.iterrows()] == expected_messages
    assert [_plain(row, STATUS_READ) for _, row in statuses.iterrows()] == expected_statuses
    if name in SUMMARIES:
        assert messages["text"].tolist() == [SUMMARIES[name]]
    if any(change["field"] != "messages" for _, change in changes):  # group changes live in events only
        assert messages.empty and statuses.empty

    # Meta retries with the same bytes: answered 200 again, nothing stored twice.
    before = _counts(store)
    assert _post(receiver.callback_url, body).status_code == 200
    assert _counts(store) == before == {"deliveries": 1, "events": len(changes),
                                        "messages": len(expected_messages), "statuses": len(expected_statuses)}


def test_the_receiver_never_reads_the_spec(tmp_path):
    """The receiver is benchmarked at 3,000 events/s: the spec (YAML) stays out of its process."""
    body = payloads.encode(SAMPLES["Group Create Message"])
    (tmp_path / "body.json").write_bytes(body)
    script = f"""
import os, sys, requests
from helpers.webhooks import WebhookReceiver, payloads
body = open({str(tmp_path / "body.json")!r}, "rb").read()
with WebhookReceiver({str(tmp_path / "w.sqlite")!r}, {VERIFY_TOKEN_ENV!r}, {APP_SECRET_ENV!r}) as rx:
    headers = payloads.signed_headers(body, os.environ[{APP_SECRET_ENV!r}])
    status = requests.post(rx.callback_url, data=body, headers=headers, timeout=10).status_code
    flagged = rx.store.events()["flagged"].tolist()
print(status, flagged, sorted(m for m in sys.modules if m == "yaml" or m.startswith("helpers.spec")))
"""
    env = {**os.environ, VERIFY_TOKEN_ENV: FAKE_VERIFY_TOKEN, APP_SECRET_ENV: FAKE_APP_SECRET}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "200 [False] []"
