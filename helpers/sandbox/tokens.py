"""Tokens and apps: authenticating a call, who may reach which WABA, phone number and app, debug_token,
issuing tokens, Embedded Signup's code exchange, an app's webhook subscriptions and the usage header.

Every rule raises the GraphError Meta would answer with.
"""
from __future__ import annotations

import json
import secrets
from typing import Any

from . import graph_errors as err
from .graph_errors import GraphError
from .models import DAY, HOUR, MANAGEMENT, MESSAGING, SIGNUP_CODE_TTL, App, PhoneNumber, Token, Waba
from .store import Store


class TokensMixin(Store):
    """Tokens, apps and who may reach what."""

    # ---- tokens and access ------------------------------------------------------------------

    def authenticate(self, value: str | None) -> Token:
        """The caller's token, or Meta's error for a missing, unparsable or expired one."""
        if not value:
            raise err.missing_token()
        token = self._lookup_token(value)
        if token is None:
            raise err.unparsable_token()
        if token.expired(self.now()):
            raise err.token_expired(token.expires_at, self.now())
        return token

    def _lookup_token(self, value: str) -> Token | None:
        if "|" in value:  # app token {app_id}|{app_secret}
            app_id, _, secret = value.partition("|")
            app = self.apps.get(app_id)
            if app is None or not secrets.compare_digest(app.secret, secret):
                return None
            return Token(value=value, type="APP", app_id=app.id, business_id=app.business_id)
        return self.tokens.get(value)

    def _granted(self, token: Token, waba: Waba) -> bool:
        if token.type == "APP":
            return False
        if token.target_ids is not None:
            return waba.id in token.target_ids
        # An admin system user reaches its business's WABAs and the client WABAs shared with it.
        return token.business_id == waba.business_id or token.business_id in waba.shared_with

    def waba_for(self, token: Token, waba_id: str, method: str, scope: str = MANAGEMENT) -> Waba:
        waba = self.wabas.get(waba_id)
        if waba is None:
            raise err.unsupported_request(method, waba_id)
        self._check_access(token, waba, waba_id, method, scope)
        return waba

    def phone_for(self, token: Token, phone_id: str, method: str, scope: str = MANAGEMENT) -> PhoneNumber:
        phone = self.phones.get(phone_id)
        if phone is None:
            raise err.unsupported_request(method, phone_id)
        self._check_access(token, self.wabas[phone.waba_id], phone_id, method, scope)
        return phone

    def app_for(self, token: Token, app_id: str, method: str) -> App:
        """Only the app's own app token manages its webhook subscriptions."""
        app = self.apps.get(app_id)
        if app is None or (token.type == "APP" and token.app_id != app_id):
            raise err.unsupported_request(method, app_id)
        if token.type != "APP":
            raise err.app_token_required()
        return app

    def _check_access(self, token: Token, waba: Waba, object_id: str, method: str, scope: str) -> None:
        if not self._granted(token, waba):
            # Same business but not assigned to this system user: writes say so, reads look like a wrong ID.
            if method != "GET" and token.type != "APP" and token.business_id == waba.business_id:
                raise err.permissions_error(
                    f"The system user that issued this token has not been assigned the WhatsApp Business Account {waba.id}.")
            raise err.unsupported_request(method, object_id)
        if scope not in token.scopes:
            if scope == MESSAGING:
                raise err.whatsapp(131005, f"The access token does not have the {MESSAGING} permission.")
            raise err.permissions_error(f"The access token does not have the {scope} permission.")

    def debug_token(self, caller: Token, input_token: str | None) -> dict:
        if not input_token:
            raise err.parameter_required("input_token")
        target = self._lookup_token(input_token)
        if target is None:
            return {"data": {"error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
                             "is_valid": False, "scopes": []}}
        if caller.app_id != target.app_id:
            raise err.app_mismatch()
        app = self.apps[target.app_id]
        if target.type == "APP":
            return {"data": {"app_id": app.id, "type": "APP", "application": app.name, "is_valid": True, "scopes": []}}
        data: dict[str, Any] = {
            "app_id": app.id,
            "type": target.type,
            "application": app.name,
            "data_access_expires_at": 0 if target.type == "SYSTEM_USER" else int(target.issued_at + 90 * DAY),
            "expires_at": int(target.expires_at),
            "is_valid": not target.expired(self.now()),
            "issued_at": int(target.issued_at),
            "scopes": list(target.scopes),
            "granular_scopes": [self._granular(target, scope) for scope in target.scopes],
            "user_id": target.user_id,
        }
        if not data["is_valid"]:
            expired = err.token_expired(target.expires_at, self.now())
            data["error"] = {"code": 190, "message": expired.message, "subcode": 463}
        return {"data": data}

    def _granular(self, token: Token, scope: str) -> dict:
        entry: dict[str, Any] = {"scope": scope}
        if token.target_ids is not None:
            if scope == "business_management":
                entry["target_ids"] = sorted({self.wabas[t].business_id for t in token.target_ids if t in self.wabas})
            else:
                entry["target_ids"] = list(token.target_ids)
        return entry

    def issue_token(self, *, business_id: str, app_id: str, scopes: list[str], target_ids: list[str] | None = None,
                    expires_in: float = 0, token_type: str = "SYSTEM_USER", label: str = "generated") -> Token:
        """A new token, as Business Settings' 'Generate token' or an Embedded Signup exchange makes one."""
        if business_id not in self.businesses or app_id not in self.apps:
            raise ValueError("unknown business_id or app_id")
        now = self.now()
        token = Token(
            value=f"SANDBOX-{label}-token-{secrets.token_hex(8)}-not-real", type=token_type, app_id=app_id,
            business_id=business_id, user_id=str(500000000000100 + len(self.tokens)), scopes=list(scopes),
            target_ids=list(target_ids) if target_ids is not None else None,
            expires_at=now + expires_in if expires_in else 0, issued_at=int(now))
        self.tokens[token.value] = token
        return token

    # ---- Embedded Signup --------------------------------------------------------------------

    def mint_signup_code(self, waba_id: str, app_id: str) -> dict:
        if waba_id not in self.wabas or app_id not in self.apps:
            raise ValueError("unknown waba_id or app_id")
        code = "SANDBOX-ES-" + secrets.token_urlsafe(24)
        self.signup_codes[code] = {"waba_id": waba_id, "app_id": app_id, "expires_at": self.now() + SIGNUP_CODE_TTL,
                                   "used": False}
        return {"code": code, "expires_at": self.signup_codes[code]["expires_at"]}

    def exchange_code(self, client_id: str | None, client_secret: str | None, code: str | None,
                      grant_type: str | None = None) -> dict:
        """GET /oauth/access_token: an Embedded Signup code for a business token, or (grant_type
        client_credentials) the app's own access token."""
        needed = ("client_id", "client_secret") + (() if grant_type == "client_credentials" else ("code",))
        for name, value in (("client_id", client_id), ("client_secret", client_secret), ("code", code)):
            if name in needed and not value:
                raise err.parameter_required(name)
        app = self.apps.get(str(client_id))
        if app is None:
            raise GraphError(101, "Error validating application. Invalid application ID.")
        if not secrets.compare_digest(app.secret, str(client_secret)):
            raise err.client_secret_invalid()
        if grant_type == "client_credentials":
            return {"access_token": f"{app.id}|{app.secret}", "token_type": "bearer"}
        grant = self.signup_codes.get(str(code))
        if grant is None or grant["app_id"] != app.id:
            raise err.code_invalid()
        if grant["used"]:
            raise err.code_used()
        if self.now() >= grant["expires_at"]:
            raise err.code_expired()
        grant["used"] = True
        waba = self.wabas[grant["waba_id"]]
        token = self.issue_token(business_id=waba.business_id, app_id=app.id, target_ids=[waba.id],
                                 scopes=[MANAGEMENT, MESSAGING, "business_management"], label="business")
        return {"access_token": token.value, "token_type": "bearer"}

    # ---- an app's webhook subscriptions -----------------------------------------------------

    def set_app_subscription(self, app: App, obj: str, callback_url: str, verify_token: str, fields: list[str]) -> dict:
        current = app.subscriptions.get(obj, {"fields": []})
        merged = list(dict.fromkeys(current["fields"] + fields))
        app.subscriptions[obj] = {"callback_url": callback_url, "verify_token": verify_token, "fields": merged}
        return {"success": True}

    def app_subscriptions(self, app: App, version: str) -> dict:
        return {"data": [{"object": obj, "callback_url": sub["callback_url"], "active": True,
                          "fields": [{"name": f, "version": version} for f in sub["fields"]]}
                         for obj, sub in app.subscriptions.items()]}

    def delete_app_subscription(self, app: App, obj: str | None, fields: list[str]) -> dict:
        if obj is None:
            app.subscriptions.clear()
        elif fields and obj in app.subscriptions:
            remaining = [f for f in app.subscriptions[obj]["fields"] if f not in fields]
            if remaining:
                app.subscriptions[obj]["fields"] = remaining
            else:
                del app.subscriptions[obj]
        else:
            app.subscriptions.pop(obj, None)
        return {"success": True}

    # ---- usage header -----------------------------------------------------------------------

    def usage_header(self, business_id: str, buc_type: str) -> str:
        """X-Business-Use-Case-Usage: this hour's calls as a percentage of the allowance (not enforced)."""
        hour = int(self.now() // HOUR)
        key = (business_id, buc_type, hour)
        self.usage_calls[key] = calls = self.usage_calls.get(key, 0) + 1
        if len(self.usage_calls) > 1000:
            self.usage_calls = {k: v for k, v in self.usage_calls.items() if k[2] == hour}
        active = any(p.registered for p in self.phones.values()
                     if self.wabas[p.waba_id].business_id == business_id)
        percent = min(100, -(-calls * 100 // (5000 if active else 200)))  # rounded up, as Meta shows 1 for a few calls
        entry = {"type": buc_type, "call_count": percent, "total_cputime": 1, "total_time": 1,
                 "estimated_time_to_regain_access": 0}
        return json.dumps({business_id: [entry]}, separators=(",", ":"))

