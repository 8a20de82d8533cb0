"""Messages and the 24-hour customer service window: sending (content checks, throughput, the fate of each
message and its per-message pricing), consumers' messages that open the window, and mark-as-read.

Every rule raises the GraphError Meta would answer with.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any

from . import graph_errors as err
from . import spec_model
from .graph_errors import GraphError
from .models import (AUTH_INTERNATIONAL_MARKETS, COEXISTENCE_MPS, CONSUMER_MESSAGE_TYPES, CUSTOMER_SERVICE_WINDOW,
                     MAX_TEXT_BODY, PHONE_DIGITS, SERVICE_CHARGED_FROM, THROUGHPUT_MPS, PhoneNumber, StatusPlan,
                     country_of)
from .params import object_param, require_whatsapp_product
from .store import Store


class MessagesMixin(Store):
    """Messages sent and received, and the customer service window."""

    # ---- messages ---------------------------------------------------------------------------

    def send_message(self, phone: PhoneNumber, params: dict) -> tuple[dict, StatusPlan]:
        require_whatsapp_product(params)
        if not phone.registered:
            raise err.whatsapp(133010, "Phone number not registered on the WhatsApp Business Platform.")
        if phone.platform_type != "CLOUD_API":
            raise err.whatsapp(131045, "Message failed to send due to a phone number registration error.")
        raw_to = params.get("to")
        if raw_to in (None, ""):
            raise err.parameter_required("to")
        to = re.sub(r"[\s+().-]", "", str(raw_to))
        if not PHONE_DIGITS.match(to):
            raise err.whatsapp(131009, "Parameter 'to' is not a valid phone number.")
        kind = str(params.get("type") or "text")
        if kind not in spec_model.message_types():
            raise err.param_enum("type", list(spec_model.message_types()), kind)
        content = object_param(params, kind)
        template = self._check_content(phone, kind, content)
        if to == phone.digits:
            raise err.whatsapp(131021, "Sender and recipient phone number is the same.")
        allowed = {re.sub(r"\D", "", n) for n in phone.allowed_recipients}
        if phone.account_mode == "SANDBOX" and to not in allowed:
            raise err.whatsapp(131030, "Recipient phone number not in allowed list: Add recipient phone number to "
                                       "recipient list and try again.")
        self._take_throughput(phone)

        wamid = new_wamid(to)
        self.count_write("message_send", f"{phone.id}>{to}")
        message: dict[str, Any] = {"id": wamid}
        if template is not None:
            message["message_status"] = "accepted"
        response = {"messaging_product": "whatsapp", "contacts": [{"input": str(raw_to), "wa_id": to}],
                    "messages": [message]}
        return response, StatusPlan(wamid, phone.id, to, self._fate(phone, to, template))

    def _check_content(self, phone: PhoneNumber, kind: str, content: dict | None) -> dict | None:
        if content is None:
            raise err.parameter_required(kind)
        if kind == "text":
            body = content.get("body")
            if not body:
                raise err.parameter_required("text['body']")
            if len(str(body)) > MAX_TEXT_BODY:
                raise GraphError(100, f"(#100) Param text['body'] must be at most {MAX_TEXT_BODY} characters long.")
            return None
        if kind != "template":
            return None
        name = content.get("name")
        language = content.get("language")
        code = language.get("code") if isinstance(language, dict) else language
        if not name:
            raise err.parameter_required("template['name']")
        if not code:
            raise err.parameter_required("template['language']['code']")
        for template in self.wabas[phone.waba_id].templates:
            if template["name"] == name and template["language"] == code and template.get("status", "APPROVED") == "APPROVED":
                return template  # only an approved template can be sent; one in review "does not exist" yet
        raise err.whatsapp(132001, f"template name ({name}) does not exist in {code}")

    def _take_throughput(self, phone: PhoneNumber) -> None:
        """Token bucket on the sandbox clock: one second's worth of burst, refilled at the number's mps."""
        mps = COEXISTENCE_MPS if phone.is_on_biz_app else THROUGHPUT_MPS.get(phone.throughput_level, 80)
        now = self.now()
        tokens, at = self.throughput_buckets.get(phone.id, (float(mps), now))
        tokens = min(float(mps), tokens + max(0.0, now - at) * mps)
        if tokens < 1.0:
            self.throughput_buckets[phone.id] = (tokens, now)
            raise err.whatsapp(130429, "Message failed to send because there were too many messages sent from this "
                                       "phone number in a short period of time")
        self.throughput_buckets[phone.id] = (tokens - 1.0, now)

    def _fate(self, phone: PhoneNumber, to: str, template: dict | None) -> list[dict]:
        if to not in self.consumers:
            return [{"status": "failed", "error": (131026, "Message Undeliverable.")}]
        window_open = self.now() - self.windows.get(f"{phone.id}:{to}", float("-inf")) < CUSTOMER_SERVICE_WINDOW
        if template is None and not window_open:
            return [{"status": "failed", "error": (131047, "Message failed to send because more than 24 hours have "
                                                            "passed since the customer last replied to this number.")}]
        pricing = self.pricing(phone, to, template, window_open)
        if template is not None and pricing["billable"] and self.wabas[phone.waba_id].payment_method is None:
            # 141006: no payment method "will block business initiated conversations" (a paid template); Meta
            # documents no such failure for service messages, charged or not.
            return [{"status": "failed", "error": (131042, "Message failed to send because there were one or more "
                                                            "errors related to your payment method.")}]
        return [{"status": status, "pricing": pricing} for status in ("sent", "delivered", "read")]

    def pricing(self, phone: PhoneNumber, to: str, template: dict | None, window_open: bool) -> dict:
        """The `pricing` object of a delivered message's statuses under per-message pricing (PMP)."""
        category = template["category"].lower() if template else "service"
        business = self.businesses[self.wabas[phone.waba_id].business_id]
        market = country_of(to)[1]
        if category == "authentication" and market in AUTH_INTERNATIONAL_MARKETS and business.country != market:
            category = "authentication_international"
        free = (window_open and category in ("service", "utility") and self.now() < SERVICE_CHARGED_FROM)
        return {"billable": not free, "pricing_model": "PMP", "type": "free_customer_service" if free else "regular",
                "category": category}

    def consumer_message(self, phone_id: str, sender: str, text: str | None = None, name: str | None = None,
                         kind: str = "text", content: dict | None = None) -> dict:
        """A consumer writes to a business number: opens the 24-hour window; returns the webhook value.

        `kind` is one of CONSUMER_MESSAGE_TYPES; `content` fills in that type's object (defaults shaped
        like Meta's samples in the spec), `text` is the body of a text or the caption of an image.
        """
        phone = self.phones.get(str(phone_id))
        if phone is None:
            raise ValueError(f"no phone number with id {phone_id}")
        if not phone.registered or phone.platform_type != "CLOUD_API":
            raise ValueError(f"phone number {phone_id} is not registered on Cloud API: WhatsApp cannot deliver to it")
        wa_id = re.sub(r"\D", "", str(sender))
        if not PHONE_DIGITS.match(wa_id):
            raise ValueError("from must be a phone number with country code, e.g. +16505550100")
        if kind not in CONSUMER_MESSAGE_TYPES:
            raise ValueError(f"type must be one of {', '.join(CONSUMER_MESSAGE_TYPES)}")
        now = self.now()
        self.consumers.setdefault(wa_id, name or "WhatsApp User")
        self.windows[f"{phone.id}:{wa_id}"] = now
        message = {"from": wa_id, "id": new_wamid(wa_id), "timestamp": str(int(now)),
                   **consumer_content(kind, text, content or {}, phone)}
        phone.received = [*phone.received[-199:], message["id"]]
        contact = {"profile": {"name": name or self.consumers[wa_id]}, "wa_id": wa_id,
                   "user_id": self.business_scoped_id(phone, wa_id)}
        return {"messaging_product": "whatsapp", "metadata": self.metadata(phone), "contacts": [contact],
                "messages": [message]}

    def business_scoped_id(self, phone: PhoneNumber, wa_id: str) -> str:
        """The 2026 business-scoped user ID: stable per business portfolio and consumer, e.g. US.1349..."""
        business_id = self.wabas[phone.waba_id].business_id
        digits = str(int(hashlib.sha256(f"{business_id}:{wa_id}".encode()).hexdigest()[:16], 16)).zfill(20)[:20]
        return f"{country_of(wa_id)[1]}.{digits}"

    def mark_read(self, phone: PhoneNumber, params: dict) -> dict:
        """Mark a consumer's message read, optionally showing the typing indicator: {"success": true}."""
        require_whatsapp_product(params)
        if str(params.get("status")) != "read":
            raise err.param_enum("status", ["read"], str(params.get("status")))
        message_id = params.get("message_id")
        if not message_id:
            raise err.parameter_required("message_id")
        if str(message_id) not in phone.received:
            raise err.invalid_parameter(f"message_id {message_id} is not a message this phone number received.")
        typing = object_param(params, "typing_indicator")
        if typing is not None and typing.get("type") != "text":
            raise err.param_enum("typing_indicator[type]", ["text"], str(typing.get("type")))
        return {"success": True}

    def metadata(self, phone: PhoneNumber) -> dict:
        return {"display_phone_number": phone.digits, "phone_number_id": phone.id}


def new_wamid(wa_id: str) -> str:
    """A wamid shaped like Meta's: base64 of a small binary record that embeds the recipient."""
    raw = (b"\x1c\x18" + bytes([len(wa_id)]) + wa_id.encode() + b"\x15\x02\x00\x11\x18\x12"
           + secrets.token_hex(9).upper().encode() + b"\x00")
    return "wamid." + base64.b64encode(raw).decode("ascii")


def consumer_content(kind: str, text: str | None, content: dict, phone: PhoneNumber) -> dict:
    """The type-specific part of an incoming message, as in Meta's webhook samples."""
    if kind == "text":
        return {"type": "text", "text": {"body": str(text if text is not None else content.get("body", ""))}}
    if kind == "image":
        image = {"caption": text or content.get("caption", ""), "mime_type": content.get("mime_type", "image/jpeg"),
                 "sha256": content.get("sha256") or base64.b64encode(secrets.token_bytes(32)).decode(),
                 "id": str(content.get("id") or 1000000000000000 + secrets.randbelow(10**15))}
        return {"type": "image", "image": {k: v for k, v in image.items() if v != ""}}
    if kind == "location":
        location = {"latitude": float(content.get("latitude", 37.44221496582)),
                    "longitude": float(content.get("longitude", -122.16165924072))}
        location.update({k: str(content[k]) for k in ("name", "address") if content.get(k)})
        return {"type": "location", "location": location}
    if kind == "reaction":
        target = content.get("message_id")
        if not target:
            raise ValueError("a reaction needs content.message_id: the wamid it reacts to")
        return {"type": "reaction", "reaction": {"message_id": str(target), "emoji": str(content.get("emoji", "\U0001F44D"))}}
    if kind in ("button_reply", "list_reply"):
        reply = {"id": str(content.get("id", "option-1")), "title": str(text or content.get("title", "Yes"))}
        if kind == "list_reply" and content.get("description"):
            reply["description"] = str(content["description"])
        context = {"from": phone.digits, "id": str(content.get("context_id") or new_wamid(phone.digits))}
        return {"context": context, "type": "interactive", "interactive": {"type": kind, kind: reply}}
    # contacts: one shared contact card
    name = str(content.get("formatted_name") or text or "Lucía Gómez")
    card_phone = str(content.get("phone", "+1 (983) 555-2319"))
    phone_entry = {"phone": card_phone, "type": str(content.get("phone_type", "MOBILE"))}
    digits = re.sub(r"\D", "", card_phone)
    if content.get("wa_id", digits):
        phone_entry["wa_id"] = str(content.get("wa_id", digits))
    first, _, last = name.partition(" ")
    card_name = {"formatted_name": name, "first_name": first, **({"last_name": last} if last else {})}
    return {"type": "contacts", "contacts": [{"name": card_name, "phones": [phone_entry]}]}
