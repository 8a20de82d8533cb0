"""WhatsApp Business Accounts: the WABA node's fields, health status, subscribed apps and the webhook
targets of a WABA's (and its numbers') events.

Every rule raises the GraphError Meta would answer with.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from . import graph_errors as err
from .models import PAYMENT_METHOD_ERROR, SIP_NOT_CONFIGURED, PhoneNumber, Token, Waba
from .partner import primary_funding_id
from .store import Store
from .templates import view as template_view


class WabasMixin(Store):
    """A WABA's fields, health, subscribed apps and webhook targets."""

    # ---- WABA -------------------------------------------------------------------------------

    def waba_fields(self, waba: Waba, token: Token) -> dict[str, Callable[[], Any]]:
        """A getter per field of the WABA node (spec_model.node_fields(WABA)); None leaves the field out."""
        business = self.businesses[waba.business_id]
        partner = self.apps[token.app_id].business_id if token.app_id in self.apps else business.id
        return {
            "id": lambda: waba.id,
            "name": lambda: waba.name,
            "currency": lambda: waba.currency,
            "timezone_id": lambda: waba.timezone_id,
            "country": lambda: business.country,
            "message_template_namespace": lambda: waba.message_template_namespace,
            "account_review_status": lambda: waba.account_review_status,
            "business_verification_status": lambda: "VERIFIED",
            # A WABA reached through another business's app is a client's WABA shared with the partner.
            "ownership_type": lambda: "SELF_OWNED" if partner == business.id else "CLIENT_OWNED",
            "owner_business_info": lambda: {"name": business.name, "id": business.id},
            "on_behalf_of_business_info": lambda: {"name": business.name, "id": business.id},
            "purchase_order_number": lambda: None,
            "audiences": lambda: None,
            "dcc_config": lambda: None,
            "is_enabled_for_insights": lambda: False,
            "health_status": lambda: self.health(waba, app_id=token.app_id),
            # The receiving credential of the shared credit line, not the line itself (Meta's "Managing credit lines").
            "primary_funding_id": lambda: primary_funding_id(waba),
            # Edges asked for as fields come back as connections, as everywhere in the Graph API.
            "phone_numbers": lambda: {"data": [{"id": p.id, "display_phone_number": p.display_phone_number,
                                                "verified_name": p.verified_name} for p in self.waba_phones(waba)]},
            "subscribed_apps": lambda: self.subscribed_apps(waba),
            "message_templates": lambda: {"data": [template_view(waba, t) for t in waba.templates]},
            "schedules": lambda: {"data": []},
        }

    def health(self, waba: Waba, *first: dict, app_id: str | None = None) -> dict:
        """health_status: each entity (the number, if any, then its WABA, business and the caller's app: the last
        three always, as Meta's health-status page says), and the worst can_send_message of them (Meta's overall
        status covers messaging only, not can_receive_call_sip)."""
        app: dict[str, Any] = {"entity_type": "APP", "id": app_id or "", "can_send_message": "AVAILABLE",
                               **copy.deepcopy(SIP_NOT_CONFIGURED["APP"])}
        entities = [*first, self._waba_entity(waba),
                    {"entity_type": "BUSINESS", "id": waba.business_id, "can_send_message": "AVAILABLE"}, app]
        return {"can_send_message": _worst(e["can_send_message"] for e in entities), "entities": entities}

    def _waba_entity(self, waba: Waba) -> dict:
        entity: dict[str, Any] = {"entity_type": "WABA", "id": waba.id, "can_send_message": "AVAILABLE"}
        if waba.payment_method is None:
            # Meta's own health_status example (the spec's GET /{Flow-ID}): BLOCKED with 141006.
            entity["can_send_message"] = "BLOCKED"
            entity["errors"] = [dict(PAYMENT_METHOD_ERROR)]
        return entity

    def subscribed_apps(self, waba: Waba) -> dict:
        data = []
        for app_id, sub in waba.subscribed_apps.items():
            app = self.apps[app_id]
            entry: dict[str, Any] = {"whatsapp_business_api_data": {
                "link": f"https://www.facebook.com/games/?app_id={app.id}", "name": app.name, "id": app.id}}
            if sub.get("override_callback_uri"):
                entry["override_callback_uri"] = sub["override_callback_uri"]
            data.append(entry)
        return {"data": data}

    def ensure_can_override(self, token: Token, waba: Waba) -> None:
        if token.app_id not in waba.subscribed_apps:
            raise err.override_before_subscription()

    def subscribe_app(self, token: Token, waba: Waba, override: str | None, verify_token: str | None) -> dict:
        current = waba.subscribed_apps.get(token.app_id)
        if override:
            self.ensure_can_override(token, waba)
        if override is not None and current is not None:
            current.update(override_callback_uri=override or None, verify_token=verify_token)
        elif current is None:
            waba.subscribed_apps[token.app_id] = {"override_callback_uri": None, "verify_token": None}
        return {"success": True}

    def unsubscribe_app(self, token: Token, waba: Waba) -> dict:
        waba.subscribed_apps.pop(token.app_id, None)
        return {"success": True}

    # ---- a WABA's phone numbers -------------------------------------------------------------

    def waba_phones(self, waba: Waba) -> list[PhoneNumber]:
        return sorted((p for p in self.phones.values() if p.waba_id == waba.id), key=lambda p: p.id)

    # ---- webhooks ---------------------------------------------------------------------------

    def webhook_targets(self, phone: PhoneNumber, field_name: str) -> list[tuple[str, str, str]]:
        """(callback URL, app secret, app id) per subscribed app: phone override > WABA override > app callback."""
        targets = []
        for app_id, sub in self.wabas[phone.waba_id].subscribed_apps.items():
            app = self.apps[app_id]
            app_sub = app.subscriptions.get("whatsapp_business_account")
            if not app_sub or field_name not in app_sub["fields"]:
                continue
            url = ((phone.webhook_override or {}).get("override_callback_uri") or sub.get("override_callback_uri")
                   or app_sub["callback_url"])
            targets.append((url, app.secret, app.id))
        return targets

    def waba_webhook_targets(self, waba: Waba, field_name: str) -> list[tuple[str, str, str]]:
        """Account-level events: WABA override > app callback, for each subscribed app with that field."""
        targets = []
        for app_id, sub in waba.subscribed_apps.items():
            app_sub = self.apps[app_id].subscriptions.get("whatsapp_business_account")
            if app_sub and field_name in app_sub["fields"]:
                targets.append((sub.get("override_callback_uri") or app_sub["callback_url"], self.apps[app_id].secret,
                                app_id))
        return targets


def _worst(states) -> str:
    order = ("AVAILABLE", "LIMITED", "BLOCKED")
    return max(states, key=order.index, default="AVAILABLE")
