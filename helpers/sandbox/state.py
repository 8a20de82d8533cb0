"""The sandbox's model (businesses, apps, tokens, WABAs, phone numbers) and Meta's rules over it.

Every rule raises the GraphError Meta would answer with. The model is plain dataclasses so it
serializes to a snapshot (persistence.py) and back. All calls happen on the server's event
loop thread, so nothing here locks.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

from . import graph_errors as err
from . import spec_model
from .clock import SandboxClock
from .graph_errors import GraphError

MANAGEMENT = "whatsapp_business_management"
MESSAGING = "whatsapp_business_messaging"
HOUR = 3600.0
DAY = 24 * HOUR
REGISTER_WINDOW = 72 * HOUR          # 10 register (and 10 deregister) calls per number per 72 h, rolling
REGISTER_LIMIT = 10
PIN_GUESS_LIMIT = 5                  # wrong PINs before 133008
PIN_LOCKOUT = 12 * HOUR
VERIFICATION_CODE_TTL = 600.0        # request_code codes last about 10 minutes
SIGNUP_CODE_TTL = 30.0               # Embedded Signup codes are short-lived
CUSTOMER_SERVICE_WINDOW = DAY
THROUGHPUT_MPS = {"STANDARD": 80, "HIGH": 1000, "NOT_APPLICABLE": 80}
COEXISTENCE_MPS = 20
MAX_TEXT_BODY = 4096
_PHONE_DIGITS = re.compile(r"^[0-9]{6,15}$")
# Consumers can send these (each shaped like Meta's sample of that type in the spec).
CONSUMER_MESSAGE_TYPES = ("text", "image", "location", "reaction", "button_reply", "list_reply", "contacts")
# Live Meta's limits where they differ from the spec's schema (helpers/spec/live_meta.yaml).
BUSINESS_PROFILE_LIMITS = {"description": 512}
# The deprecated per-number tier that answers for each portfolio-level limit (no 2K tier existed before).
LEGACY_LIMIT_TIER = {"TIER_250": "TIER_250", "TIER_2K": "TIER_1K", "TIER_10K": "TIER_10K", "TIER_100K": "TIER_100K",
                     "TIER_UNLIMITED": "TIER_UNLIMITED"}
UNIFIED_CERT_STATUS = {"APPROVED": "APPROVED", "AVAILABLE_WITHOUT_REVIEW": "APPROVED",
                       "PENDING_REVIEW": "NAME_PENDING_REVIEW", "DECLINED": "NAME_NOT_APPROVED"}
# health_status of a WABA without a valid payment method, as Meta's own example shows it (the vendored spec's
# GET /{Flow-ID} example; docs/meta-facts.md).
PAYMENT_METHOD_ERROR = {"error_code": 141006,
                        "error_description": "There is an error with the payment method. This will block business "
                                             "initiated conversations.",
                        "possible_solution": "There was an error with your payment method. Please add a new payment "
                                             "method to the account."}
# No number in the sandbox has SIP calling configured: Meta's "Example Blocked Response for receiving calls over
# SIP" (support/health-status).
_SIP_NOT_CONFIGURED = {
    "PHONE_NUMBER": {"can_receive_call_sip": "BLOCKED", "errors": [{
        "error_code": 138024, "error_description": "WhatsApp Business calling cannot use SIP because it is not enabled",
        "possible_solution": "Configure SIP using {PHONE_NUMBER_ID}/settings API"}]},
    "APP": {"can_receive_call_sip": "BLOCKED", "errors": [{
        "error_code": 138025, "error_description": "This app cannot use SIP for WhatsApp Business calling because it "
                                                   "has not configured a SIP server for this business phone number",
        "possible_solution": "Configure SIP server using {PHONE_NUMBER_ID}/settings API"}]},
}
# Per-message pricing (status webhooks' `pricing`): Meta charges service messages and utility templates sent
# inside an open customer service window from 2026-10-01 ("Upcoming pricing updates for Meta Business Agent,
# service and utility messages", pricing/non-template-messages); before, both were free_customer_service.
SERVICE_CHARGED_FROM = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc).timestamp()
# Every pricing category a status can carry (Meta's status webhook reference); marketing_lite comes only from
# the Marketing Messages API, which the sandbox does not serve.
PRICING_CATEGORIES = ("authentication", "authentication_international", "marketing", "marketing_lite", "service",
                      "utility")
PRICING_TYPES = ("regular", "free_customer_service", "free_entry_point")
# Markets with an authentication-international rate among the sandbox's countries (Meta's
# pricing/authentication-international-rates): an authentication template to a number there from a business
# portfolio in another country is priced authentication_international.
AUTH_INTERNATIONAL_MARKETS = ("IN",)
_COUNTRIES = (("44", "GB"), ("1", "US"), ("91", "IN"), ("52", "MX"), ("55", "BR"), ("49", "DE"), ("33", "FR"))


@dataclass
class Business:
    id: str
    name: str
    terms_of_service_accepted: bool = True
    messaging_limit: str = "TIER_2K"      # portfolio-level since Oct 2025 (TIER_250 ... TIER_UNLIMITED)
    country: str = "US"
    credit_lines: list[dict] = field(default_factory=list)   # the partner's extended credit: [{id, legal_entity_name}]


@dataclass
class App:
    id: str
    name: str
    business_id: str
    secret: str
    subscriptions: dict[str, dict] = field(default_factory=dict)  # object -> {callback_url, verify_token, fields}


@dataclass
class Token:
    value: str
    type: str                       # SYSTEM_USER, USER or APP
    app_id: str
    business_id: str
    user_id: str | None = None
    scopes: list[str] = field(default_factory=list)
    target_ids: list[str] | None = None   # None: every asset of the business (admin system user)
    expires_at: float = 0           # 0: never
    issued_at: float = 0

    def expired(self, now: float) -> bool:
        return bool(self.expires_at) and now >= self.expires_at


@dataclass
class Waba:
    id: str
    name: str
    business_id: str
    currency: str = "USD"
    timezone_id: str = "1"
    message_template_namespace: str = ""
    templates: list[dict] = field(default_factory=list)
    subscribed_apps: dict[str, dict] = field(default_factory=dict)  # app_id -> {override_callback_uri, verify_token}
    account_review_status: str = "APPROVED"
    shared_with: list[str] = field(default_factory=list)      # partner businesses the client WABA is shared with
    payment_method: str | None = "OWN"                        # None: no way to pay (a partner's client before its credit line)
    credit_allocation: dict | None = None                     # {allocation_config_id, credit_line_id, currency}
    assigned_users: dict[str, list[str]] = field(default_factory=dict)   # system user id -> tasks
    # Shared through a Multi-Partner Solution: the tasks its owner granted the partners (None: a plain share).
    partner_tasks: list[str] | None = None
    review_rejects: str | None = None   # every new template's review rejects it with this reason (training)


@dataclass
class PhoneNumber:
    id: str
    waba_id: str
    display_phone_number: str
    verified_name: str
    code_verification_status: str = "VERIFIED"
    registered: bool = False
    platform_type: str = "CLOUD_API"
    status: str = "PENDING"
    name_status: str = "APPROVED"
    quality_rating: str = "GREEN"
    throughput_level: str = "STANDARD"
    account_mode: str = "LIVE"
    is_on_biz_app: bool = False
    pin: str | None = None
    allowed_recipients: list[str] = field(default_factory=list)
    backup_data: str | None = None
    backup_password: str | None = None
    webhook_override: dict | None = None
    data_localization_region: str | None = None
    last_onboarded_time: float | None = None
    register_calls: list[float] = field(default_factory=list)
    deregister_calls: list[float] = field(default_factory=list)
    pin_failures: int = 0
    pin_locked_until: float = 0
    verification: dict | None = None   # {code, expires_at, used}
    last_sms: dict | None = None       # what the "SMS" said, for the control API
    business_profile: dict = field(default_factory=dict)
    received: list[str] = field(default_factory=list)   # wamids of consumers' messages, for mark-as-read

    @property
    def digits(self) -> str:
        return re.sub(r"\D", "", self.display_phone_number)


@dataclass
class StatusPlan:
    """What happens to an accepted message afterwards: statuses to report by webhook."""
    wamid: str
    phone_id: str
    recipient: str
    statuses: list[dict]


# The writes that must happen once per key in an onboarding: template "WABA/NAME/LANG", message "PHONE_ID>TO",
# assignment "WABA/USER", credit line share "WABA", registration "PHONE_ID".
WRITE_KINDS = ("template_create", "message_send", "user_assign", "credit_share", "register")
MODEL = {"businesses": Business, "apps": App, "tokens": Token, "wabas": Waba, "phones": PhoneNumber}


class SandboxState:
    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self.businesses: dict[str, Business] = {}
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, Token] = {}
        self.wabas: dict[str, Waba] = {}
        self.phones: dict[str, PhoneNumber] = {}
        self.consumers: dict[str, str] = {}            # wa_id -> profile name
        self.windows: dict[str, float] = {}            # "phone_id:wa_id" -> last inbound message time
        self.signup_codes: dict[str, dict] = {}
        self._buckets: dict[str, tuple[float, float]] = {}   # phone_id -> (tokens, at); not persisted
        self._usage: dict[tuple[str, str, int], int] = {}    # (business, BUC type, hour) -> calls
        # Writes applied, per kind and key (GET /_sandbox/writes): counted even when the answer is then lost.
        self.writes: dict[str, dict[str, int]] = {kind: {} for kind in WRITE_KINDS}

    # ---- snapshot ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = {name: {key: dataclasses.asdict(obj) for key, obj in getattr(self, name).items()} for name in MODEL}
        data.update(consumers=self.consumers, windows=self.windows, signup_codes=self.signup_codes,
                    writes=self.writes, clock=self.clock.to_dict())
        return data

    @classmethod
    def from_dict(cls, data: dict, clock: SandboxClock | None = None) -> "SandboxState":
        state = cls(clock or SandboxClock.from_dict(data.get("clock", {})))
        for name, kind in MODEL.items():
            setattr(state, name, {key: kind(**value) for key, value in data.get(name, {}).items()})
        state.consumers = dict(data.get("consumers", {}))
        state.windows = dict(data.get("windows", {}))
        state.signup_codes = dict(data.get("signup_codes", {}))
        for kind, counts in (data.get("writes") or {}).items():
            state.writes[kind] = dict(counts)
        return state

    def now(self) -> float:
        return self.clock.now()

    def count_write(self, kind: str, key: str) -> None:
        """Note a write the sandbox has just applied (the ledger that tells a doubled write)."""
        counts = self.writes.setdefault(kind, {})
        counts[key] = counts.get(key, 0) + 1

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

    # ---- WABA -------------------------------------------------------------------------------

    def waba_fields(self, waba: Waba, token: Token) -> dict[str, Callable[[], Any]]:
        """A getter per field of the WABA node (spec_model.node_fields(WABA)); None leaves the field out."""
        from .templates import view as template_view  # templates.py builds on this module
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
            "health_status": lambda: self._health(waba, app_id=token.app_id),
            # The receiving credential of the shared credit line, not the line itself (Meta's "Managing credit lines").
            "primary_funding_id": lambda: _primary_funding_id(waba),
            # Edges asked for as fields come back as connections, as everywhere in the Graph API.
            "phone_numbers": lambda: {"data": [{"id": p.id, "display_phone_number": p.display_phone_number,
                                                "verified_name": p.verified_name} for p in self.waba_phones(waba)]},
            "subscribed_apps": lambda: self.subscribed_apps(waba),
            "message_templates": lambda: {"data": [template_view(waba, t) for t in waba.templates]},
            "schedules": lambda: {"data": []},
        }

    def _health(self, waba: Waba, *first: dict, app_id: str | None = None) -> dict:
        """health_status: each entity (the number, if any, then its WABA, business and the caller's app: the last
        three always, as Meta's health-status page says), and the worst can_send_message of them (Meta's overall
        status covers messaging only, not can_receive_call_sip)."""
        app: dict[str, Any] = {"entity_type": "APP", "id": app_id or "", "can_send_message": "AVAILABLE",
                               **copy.deepcopy(_SIP_NOT_CONFIGURED["APP"])}
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

    # ---- phone numbers ----------------------------------------------------------------------

    def waba_phones(self, waba: Waba) -> list[PhoneNumber]:
        return sorted((p for p in self.phones.values() if p.waba_id == waba.id), key=lambda p: p.id)

    def phone_fields(self, phone: PhoneNumber, app_id: str) -> dict[str, Callable[[], Any]]:
        """A getter per field of the phone number node (spec_model.node_fields(PHONE_NUMBER)); None leaves it out."""
        dial, country = _country(phone.digits)
        limit = self.businesses[self.wabas[phone.waba_id].business_id].messaging_limit
        return {
            "id": lambda: phone.id,
            "display_phone_number": lambda: phone.display_phone_number,
            "verified_name": lambda: phone.verified_name,
            "code_verification_status": lambda: phone.code_verification_status,
            "quality_rating": lambda: phone.quality_rating,
            "quality_score": lambda: {"score": "UNKNOWN" if phone.quality_rating == "NA" else phone.quality_rating},
            "platform_type": lambda: phone.platform_type,
            "throughput": lambda: {"level": phone.throughput_level},
            "webhook_configuration": lambda: self._webhook_configuration(phone, app_id),
            "name_status": lambda: phone.name_status,
            "new_name_status": lambda: "NONE",
            "unified_cert_status": lambda: UNIFIED_CERT_STATUS.get(phone.name_status),
            "status": lambda: phone.status,
            "account_mode": lambda: phone.account_mode,
            "is_official_business_account": lambda: False,
            "is_pin_enabled": lambda: phone.pin is not None,
            "is_on_biz_app": lambda: phone.is_on_biz_app,
            "is_preverified_number": lambda: False,
            "eligibility_for_api_business_global_search": lambda: "NON_ELIGIBLE_UNDEFINED",
            "messaging_limit_tier": lambda: LEGACY_LIMIT_TIER[limit],
            "whatsapp_business_manager_messaging_limit": lambda: limit,
            "search_visibility": lambda: "VISIBLE" if phone.registered else "NON_VISIBLE",
            "health_status": lambda: self._health_status(phone, app_id),
            "country_code": lambda: country,
            "country_dial_code": lambda: dial,
            "data_localization_region": lambda: phone.data_localization_region,
            "host_platform": lambda: phone.platform_type,
            "username": lambda: None,
            "last_onboarded_time": lambda: _iso(phone.last_onboarded_time) if phone.last_onboarded_time else None,
            "conversational_automation": lambda: {"enable_welcome_message": False, "prompts": [], "commands": [],
                                                  "id": phone.id},
            "certificate": lambda: None,
            "new_certificate": lambda: None,
        }

    def _webhook_configuration(self, phone: PhoneNumber, app_id: str) -> dict | None:
        config = {}
        if phone.webhook_override:
            config["phone_number"] = phone.webhook_override["override_callback_uri"]
        waba_sub = self.wabas[phone.waba_id].subscribed_apps.get(app_id) or {}
        if waba_sub.get("override_callback_uri"):
            config["whatsapp_business_account"] = waba_sub["override_callback_uri"]
        app_sub = self.apps[app_id].subscriptions.get("whatsapp_business_account") if app_id in self.apps else None
        if app_sub:
            config["application"] = app_sub["callback_url"]
        return config or None

    def _health_status(self, phone: PhoneNumber, app_id: str | None = None) -> dict:
        waba = self.wabas[phone.waba_id]
        phone_entity: dict[str, Any] = {"entity_type": "PHONE_NUMBER", "id": phone.id, "can_send_message": "AVAILABLE"}
        if phone.status in ("BANNED", "RESTRICTED"):
            phone_entity["can_send_message"] = "BLOCKED"
            phone_entity["errors"] = [{"error_code": 131031, "error_description": "Business account has been locked: the "
                                       "phone number is restricted for violating a WhatsApp Business policy.",
                                       "possible_solution": "Review the policy violation in WhatsApp Manager > Account "
                                       "quality and request a review if you disagree."}]
        elif not phone.registered or phone.platform_type != "CLOUD_API":
            phone_entity["can_send_message"] = "BLOCKED"
            phone_entity["errors"] = [{"error_code": 133010, "error_description": "Phone number is not registered on Cloud API.",
                                       "possible_solution": "Register the phone number with POST /{PHONE_NUMBER_ID}/register."}]
        elif phone.quality_rating == "RED":
            phone_entity["can_send_message"] = "LIMITED"
            phone_entity["additional_info"] = ["The phone number's quality rating is low (RED): its messaging limit may be "
                                               "lowered. Check the templates' quality and the feedback consumers give in "
                                               "WhatsApp Manager > Insights."]
        phone_entity["can_receive_call_sip"] = _SIP_NOT_CONFIGURED["PHONE_NUMBER"]["can_receive_call_sip"]
        phone_entity["errors"] = [*phone_entity.get("errors", []),
                                  *copy.deepcopy(_SIP_NOT_CONFIGURED["PHONE_NUMBER"]["errors"])]
        return self._health(waba, phone_entity, app_id=app_id)

    def set_pin(self, phone: PhoneNumber, pin: Any) -> dict:
        pin = _require_pin(pin)
        phone.pin = pin
        phone.pin_failures = 0
        phone.pin_locked_until = 0
        return {"success": True}

    def set_webhook_override(self, phone: PhoneNumber, uri: str, verify_token: str | None) -> dict:
        phone.webhook_override = {"override_callback_uri": uri, "verify_token": verify_token} if uri else None
        return {"success": True}

    def request_code(self, phone: PhoneNumber, method: Any, language: Any) -> dict:
        if not method:
            raise err.parameter_required("code_method")
        if str(method).upper() not in ("SMS", "VOICE"):
            raise err.param_enum("code_method", ["SMS", "VOICE"], str(method))
        if not language:
            raise err.parameter_required("language")
        code = f"{secrets.randbelow(900000) + 100000}"
        now = self.now()
        phone.verification = {"code": code, "expires_at": now + VERIFICATION_CODE_TTL, "used": False}
        spoken = " ".join(code) if str(method).upper() == "VOICE" else f"{code[:3]}-{code[3:]}"
        phone.last_sms = {"phone_number_id": phone.id, "code": code, "code_method": str(method).upper(),
                          "language": str(language), "text": f"WhatsApp code {spoken}", "sent_at": now,
                          "expires_at": now + VERIFICATION_CODE_TTL}
        return {"success": True}

    def verify_code(self, phone: PhoneNumber, code: Any) -> dict:
        if not code:
            raise err.parameter_required("code")
        given = re.sub(r"[\s-]", "", str(code))
        pending = phone.verification
        if pending is None or not secrets.compare_digest(pending["code"], given):
            raise err.whatsapp(136025, "Code couldn't be verified, You have entered an incorrect code.")
        if pending["used"]:
            raise err.whatsapp(136025, "Code couldn't be verified, this code has already been used. Request a new code.")
        if self.now() >= pending["expires_at"]:
            raise err.whatsapp(136025, "Code couldn't be verified, the code has expired. Request a new code.")
        pending["used"] = True
        phone.code_verification_status = "VERIFIED"
        return {"success": True, "id": phone.id}

    def register(self, phone: PhoneNumber, params: dict) -> dict:
        _require_whatsapp_product(params)
        if params.get("pin") in (None, ""):
            raise err.parameter_required("pin")
        pin = _require_pin(params["pin"])
        region = params.get("data_localization_region")
        if region is not None and str(region) not in spec_model.local_storage_regions():
            raise err.param_enum("data_localization_region", list(spec_model.local_storage_regions()), str(region))
        backup = object_param(params, "backup")
        self._count_registration_call(phone.register_calls, "Registration")
        if not self.businesses[self.wabas[phone.waba_id].business_id].terms_of_service_accepted:
            raise err.permissions_error(
                "The business has not accepted the WhatsApp Business Platform Terms of Service. Accept them in "
                "WhatsApp Manager, then register the phone number again.")
        if phone.code_verification_status != "VERIFIED":
            raise err.whatsapp(133006, "Phone number needs to be verified before registering. Request a code with "
                                       "request_code and enter it with verify_code.")
        if backup is not None:
            self._check_backup(phone, backup)
        elif phone.platform_type == "ON_PREMISE":
            raise err.invalid_parameter("This phone number is registered on the On-Premises API. To move it to Cloud "
                                        "API, register with backup {data, password} from the On-Premises client.")
        self._check_pin(phone, pin)
        # Re-registering a coexistence number takes it away from the WhatsApp Business app, as at Meta.
        phone.is_on_biz_app = False
        self.count_write("register", phone.id)
        if phone.registered and phone.platform_type == "CLOUD_API" and backup is None:
            phone.data_localization_region = region or phone.data_localization_region
            return {"success": True}
        phone.registered = True
        phone.platform_type = "CLOUD_API"
        phone.status = "CONNECTED"
        phone.data_localization_region = region
        phone.last_onboarded_time = self.now()
        if backup is not None:
            phone.backup_data = phone.backup_password = None
            return {"success": "true"}  # Meta's migration response carries the string
        return {"success": True}

    def deregister(self, phone: PhoneNumber) -> dict:
        self._count_registration_call(phone.deregister_calls, "Deregistration")
        phone.registered = False
        phone.status = "DISCONNECTED"
        phone.data_localization_region = None
        return {"success": True}

    def _count_registration_call(self, calls: list[float], what: str) -> None:
        now = self.now()
        calls[:] = [t for t in calls if now - t < REGISTER_WINDOW]
        if len(calls) >= REGISTER_LIMIT:
            raise err.whatsapp(133016, f"{what} failed because there were too many attempts for this phone number in "
                                       f"a short period of time. Try again after {_when(calls[0] + REGISTER_WINDOW)}.")
        calls.append(now)

    def _check_pin(self, phone: PhoneNumber, pin: str) -> None:
        now = self.now()
        if phone.pin_locked_until > now:
            raise err.whatsapp(133008, "Too many two-step verification PIN guesses for this phone number. Try again "
                                       f"after {_when(phone.pin_locked_until)} "
                                       f"(in {_duration(phone.pin_locked_until - now)}).")
        if phone.pin is None:
            phone.pin = pin  # no two-step PIN yet: the one given becomes it
            return
        if not secrets.compare_digest(phone.pin, pin):
            phone.pin_failures += 1
            if phone.pin_failures >= PIN_GUESS_LIMIT:
                phone.pin_locked_until = now + PIN_LOCKOUT
                phone.pin_failures = 0
            raise err.whatsapp(133005, "Two-step verification PIN incorrect.")
        phone.pin_failures = 0

    def _check_backup(self, phone: PhoneNumber, backup: dict) -> None:
        if phone.platform_type != "ON_PREMISE" or phone.backup_data is None:
            raise err.invalid_parameter("backup is only accepted when migrating a number from the On-Premises API.")
        data, password = backup.get("data"), backup.get("password")
        if not data or not password:
            raise err.parameter_required("backup['data'] and backup['password']" if not (data or password)
                                         else "backup['data']" if not data else "backup['password']")
        if not (secrets.compare_digest(str(data), phone.backup_data)
                and secrets.compare_digest(str(password), phone.backup_password or "")):
            raise err.whatsapp(131009, "The backup data could not be decrypted with this password.")

    # ---- messages ---------------------------------------------------------------------------

    def send_message(self, phone: PhoneNumber, params: dict) -> tuple[dict, StatusPlan]:
        _require_whatsapp_product(params)
        if not phone.registered:
            raise err.whatsapp(133010, "Phone number not registered on the WhatsApp Business Platform.")
        if phone.platform_type != "CLOUD_API":
            raise err.whatsapp(131045, "Message failed to send due to a phone number registration error.")
        raw_to = params.get("to")
        if raw_to in (None, ""):
            raise err.parameter_required("to")
        to = re.sub(r"[\s+().-]", "", str(raw_to))
        if not _PHONE_DIGITS.match(to):
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
        tokens, at = self._buckets.get(phone.id, (float(mps), now))
        tokens = min(float(mps), tokens + max(0.0, now - at) * mps)
        if tokens < 1.0:
            self._buckets[phone.id] = (tokens, now)
            raise err.whatsapp(130429, "Message failed to send because there were too many messages sent from this "
                                       "phone number in a short period of time")
        self._buckets[phone.id] = (tokens - 1.0, now)

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
        market = _country(to)[1]
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
        if not _PHONE_DIGITS.match(wa_id):
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
        return f"{_country(wa_id)[1]}.{digits}"

    def mark_read(self, phone: PhoneNumber, params: dict) -> dict:
        """Mark a consumer's message read, optionally showing the typing indicator: {"success": true}."""
        _require_whatsapp_product(params)
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

    # ---- business profile -------------------------------------------------------------------

    def business_profile(self, phone: PhoneNumber, fields: Any) -> dict:
        profile = {"messaging_product": "whatsapp", **phone.business_profile}
        profile.setdefault("vertical", "UNDEFINED")
        if fields:
            wanted = set(list_param(fields)) | {"messaging_product"}
            known = set(spec_model.business_profile_fields())
            for name in wanted - known:
                raise err.nonexisting_field(name, "WhatsAppBusinessProfile")
            profile = {k: v for k, v in profile.items() if k in wanted}
        return {"data": [profile]}

    def update_business_profile(self, phone: PhoneNumber, params: dict) -> dict:
        """Meta's checks on each field (lengths, email, websites, vertical), then all-or-nothing."""
        _require_whatsapp_product(params)
        rules = spec_model.business_profile_fields()
        update: dict[str, Any] = {}
        for name in ("about", "address", "description", "email"):
            if name in params:
                value = str(params[name])
                limit = BUSINESS_PROFILE_LIMITS.get(name, rules[name].get("maxLength"))
                if name == "about" and not value:
                    raise err.invalid_parameter("about must not be empty.")
                if limit and len(value) > limit:
                    raise GraphError(100, f"(#100) Param {name} must be at most {limit} characters long.")
                if name == "email" and value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
                    raise err.invalid_parameter("email must be a valid email address")
                update[name] = value
        if "websites" in params:
            websites = list_param(params["websites"])
            if len(websites) > rules["websites"]["maxItems"]:
                raise GraphError(100, f"(#100) Param websites must have at most {rules['websites']['maxItems']} items.")
            for site in websites:
                if not re.match(r"https?://[^\s/]+", site) or len(site) > rules["websites"]["items"]["maxLength"]:
                    raise err.invalid_parameter(f"websites: {site!r} must be an http:// or https:// URL of at most "
                                                f"{rules['websites']['items']['maxLength']} characters.")
            update["websites"] = websites
        if "vertical" in params:
            verticals = rules["vertical"]["enum"]
            if str(params["vertical"]) not in verticals:
                raise err.param_enum("vertical", verticals, str(params["vertical"]))
            update["vertical"] = str(params["vertical"])
        if "profile_picture_handle" in params:
            handle = str(params["profile_picture_handle"])
            if not handle:
                raise err.invalid_parameter("profile_picture_handle must be the handle of an uploaded picture.")
            digest = hashlib.sha256(handle.encode()).hexdigest()[:16]
            update["profile_picture_url"] = f"https://pps.whatsapp.net/v/t61.24694-24/{digest}_n.jpg"
        phone.business_profile.update(update)
        return {"success": True}

    def metadata(self, phone: PhoneNumber) -> dict:
        return {"display_phone_number": phone.digits, "phone_number_id": phone.id}

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
        self._usage[key] = calls = self._usage.get(key, 0) + 1
        if len(self._usage) > 1000:
            self._usage = {k: v for k, v in self._usage.items() if k[2] == hour}
        active = any(p.registered for p in self.phones.values()
                     if self.wabas[p.waba_id].business_id == business_id)
        percent = min(100, -(-calls * 100 // (5000 if active else 200)))  # rounded up, as Meta shows 1 for a few calls
        entry = {"type": buc_type, "call_count": percent, "total_cputime": 1, "total_time": 1,
                 "estimated_time_to_regain_access": 0}
        return json.dumps({business_id: [entry]}, separators=(",", ":"))


# ---- helpers -------------------------------------------------------------------------------

def new_wamid(wa_id: str) -> str:
    """A wamid shaped like Meta's: base64 of a small binary record that embeds the recipient."""
    raw = (b"\x1c\x18" + bytes([len(wa_id)]) + wa_id.encode() + b"\x15\x02\x00\x11\x18\x12"
           + secrets.token_hex(9).upper().encode() + b"\x00")
    return "wamid." + base64.b64encode(raw).decode("ascii")


def _require_whatsapp_product(params: dict) -> None:
    product = params.get("messaging_product")
    if not product:
        raise err.parameter_required("messaging_product")
    if str(product).lower() != "whatsapp":
        raise err.param_enum("messaging_product", ["whatsapp"], str(product))


def _require_pin(value: Any) -> str:
    pin = "" if value is None else str(value)
    if not re.fullmatch(r"[0-9]{6}", pin):
        raise err.invalid_parameter("The PIN must be a 6-digit number.")
    return pin


def object_param(params: dict, name: str) -> dict | None:
    """A nested object parameter, sent as JSON or as a form/query field holding JSON."""
    value = params.get(name)
    if value is None or isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise err.invalid_parameter(f"Param {name} must be a JSON object.")
    return parsed


def list_param(value: Any) -> list[str]:
    """A list parameter: a JSON array, a list, or a comma-separated string."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return list_param(json.loads(text))
        except ValueError:
            raise err.invalid_parameter("A list must be comma-separated or a JSON array.") from None
    return [v.strip() for v in text.split(",") if v.strip()]


def _country(digits: str) -> tuple[str, str]:
    for dial, country in _COUNTRIES:
        if digits.startswith(dial):
            return dial, country
    return digits[:2], "ZZ"


def _primary_funding_id(waba: Waba) -> str | None:
    from .partner import primary_funding_id  # partner.py builds on this module
    return primary_funding_id(waba)


def _worst(states) -> str:
    order = ("AVAILABLE", "LIMITED", "BLOCKED")
    return max(states, key=order.index, default="AVAILABLE")


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


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(max(0, seconds)), 3600)
    return f"{hours} h {rest // 60} min"
