"""Real-shaped webhook notifications, as Meta sends them (the samples in helpers/spec/ and docs/meta-facts.md).

Each builder returns the notification as a dict; `encode` turns it into the bytes Meta puts
on the wire (compact JSON, non-ASCII escaped as \\uXXXX), which is what gets signed.

>>> body = encode(text_message("Olá — está aí? ✅"))
>>> headers = signed_headers(body, app_secret)
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

from .signature import HEADER, sign

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
CONSUMER_NUMBER = "16505551234"
CONSUMER_NAME = "Sheena Nelson"
NON_ASCII_TEXT = "Olá! Está disponível em azul? ✅ 日本語 äöå"


def encode(notification: dict[str, Any]) -> bytes:
    """The exact bytes Meta sends: compact JSON with non-ASCII characters as \\u escapes."""
    return json.dumps(notification, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signed_headers(body: bytes, app_secret: str) -> dict[str, str]:
    """The headers of a delivery from Meta for `body`, signed with `app_secret`."""
    return {"Content-Type": "application/json", HEADER: sign(body, app_secret)}


def new_message_id() -> str:
    return "wamid." + secrets.token_urlsafe(36)


def notification(value: dict[str, Any], field: str = "messages", waba_id: str = WABA_ID) -> dict[str, Any]:
    """Wrap one change's value in Meta's envelope."""
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": field}]}]}


def _metadata(phone_number_id: str, display_phone_number: str) -> dict[str, str]:
    return {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}


def _timestamp(timestamp: int | str | None) -> str:
    # Meta sends epoch seconds as a string.
    return str(int(time.time()) if timestamp is None else timestamp)


def _incoming(message: dict[str, Any], from_number: str, contact_name: str, phone_number_id: str,
              display_phone_number: str, waba_id: str, message_id: str | None,
              timestamp: int | str | None) -> dict[str, Any]:
    wa_id = from_number.lstrip("+")
    message = {"from": wa_id, "id": message_id or new_message_id(), "timestamp": _timestamp(timestamp), **message}
    return notification({
        "messaging_product": "whatsapp",
        "metadata": _metadata(phone_number_id, display_phone_number),
        "contacts": [{"profile": {"name": contact_name}, "wa_id": wa_id}],
        "messages": [message],
    }, waba_id=waba_id)


def text_message(text: str = NON_ASCII_TEXT, *, from_number: str = CONSUMER_NUMBER,
                 contact_name: str = CONSUMER_NAME, phone_number_id: str = PHONE_NUMBER_ID,
                 display_phone_number: str = DISPLAY_PHONE_NUMBER, waba_id: str = WABA_ID,
                 message_id: str | None = None, timestamp: int | str | None = None) -> dict[str, Any]:
    """A consumer's text message to the business number."""
    return _incoming({"type": "text", "text": {"body": text}}, from_number, contact_name, phone_number_id,
                     display_phone_number, waba_id, message_id, timestamp)


def image_message(media_id: str = "1003383421387256", caption: str = "Taj Mahal", *,
                  from_number: str = CONSUMER_NUMBER, contact_name: str = CONSUMER_NAME,
                  phone_number_id: str = PHONE_NUMBER_ID, display_phone_number: str = DISPLAY_PHONE_NUMBER,
                  waba_id: str = WABA_ID, message_id: str | None = None,
                  timestamp: int | str | None = None) -> dict[str, Any]:
    """A consumer's image: the media id to download, no media bytes."""
    image = {"caption": caption, "mime_type": "image/jpeg",
             "sha256": "SfInY0gDfu6lhnv8XwC0U5Ipj7iA8m8f0ZLz9K1X2QE=", "id": media_id}
    return _incoming({"type": "image", "image": image}, from_number, contact_name, phone_number_id,
                     display_phone_number, waba_id, message_id, timestamp)


def status(message_id: str, status: str = "delivered", *, recipient_id: str = CONSUMER_NUMBER,
           phone_number_id: str = PHONE_NUMBER_ID, display_phone_number: str = DISPLAY_PHONE_NUMBER,
           waba_id: str = WABA_ID, timestamp: int | str | None = None,
           errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A status of a message the business sent: sent, delivered, read, played or failed.

    Non-failed statuses carry per-message pricing (PMP, since Jul 2025); failed ones carry `errors`.
    """
    item: dict[str, Any] = {"id": message_id, "status": status, "timestamp": _timestamp(timestamp),
                            "recipient_id": recipient_id.lstrip("+")}
    if status == "failed":
        item["errors"] = errors or [REENGAGEMENT_ERROR]
    else:
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
    return notification({"messaging_product": "whatsapp",
                         "metadata": _metadata(phone_number_id, display_phone_number),
                         "statuses": [item]}, waba_id=waba_id)


REENGAGEMENT_ERROR = {
    "code": 131047,
    "title": "Re-engagement message",
    "message": "Re-engagement message",
    "error_data": {"details": "Message failed to send because more than 24 hours have passed "
                              "since the customer last replied to this number."},
    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
}


def account_update(event: str = "PARTNER_ADDED", waba_id: str = WABA_ID) -> dict[str, Any]:
    """An account-level change (kept whole in the store's events)."""
    payload = notification({"event": event, "waba_info": {"waba_id": waba_id, "owner_business_id": "2329417887457253"}},
                           field="account_update", waba_id=waba_id)
    payload["entry"][0]["time"] = int(time.time())
    return payload
