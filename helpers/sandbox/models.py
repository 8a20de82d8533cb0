"""The sandbox's resource models and Meta's constants over them.

Businesses, apps, tokens, WABAs and phone numbers are plain dataclasses, so the state serializes to a
snapshot (persistence.py) and back; MODEL names each collection of them. The fields Meta's API answers
with, and their enums, come from the spec (spec_model.py); the constants here are the limits, windows
and fixed answers Meta documents beyond the spec.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

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
PHONE_DIGITS = re.compile(r"^[0-9]{6,15}$")
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
SIP_NOT_CONFIGURED = {
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


def country_of(digits: str) -> tuple[str, str]:
    """The dial code and country of a number's digits ("ZZ" where the sandbox knows none)."""
    for dial, country in _COUNTRIES:
        if digits.startswith(dial):
            return dial, country
    return digits[:2], "ZZ"
