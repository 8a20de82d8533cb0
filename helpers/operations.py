"""The guide's operations, one function per action, each over a `GraphClient`.

Every function validates its input before the network call, takes secrets only as the
*names* of environment variables, and returns the parsed Graph response (or a small dict
built from it). Graph errors raise `GraphAPIError` with a remedy.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any, Iterable

from . import validate
from .client import GraphClient
from .i18n import N_, _

REQUIRED_SCOPES = ("whatsapp_business_management", "whatsapp_business_messaging")

# Every phone number field the playbook shows (docs/meta-facts.md and the spec in helpers/spec/).
PHONE_NUMBER_FIELDS = (
    "id", "display_phone_number", "verified_name", "code_verification_status", "quality_rating",
    "platform_type", "throughput", "status", "name_status", "new_name_status", "account_mode",
    "is_official_business_account", "is_pin_enabled", "is_on_biz_app", "messaging_limit_tier",
    "whatsapp_business_manager_messaging_limit", "webhook_configuration", "health_status",
    "search_visibility", "country_code", "country_dial_code", "host_platform", "last_onboarded_time",
)
MAX_PAGE_SIZE = 100  # the spec's maximum for `limit` on /{WABA_ID}/phone_numbers
WABA_FIELDS = ("id", "name", "currency", "timezone_id", "message_template_namespace", "account_review_status",
               "business_verification_status", "ownership_type", "owner_business_info", "on_behalf_of_business_info")


def app_token(app_id: str, app_secret_env: str) -> str:
    """`{app_id}|{app_secret}` from the app ID and the env var holding the app secret."""
    secret = validate.secret_from_env(app_secret_env, N_("app secret"))
    return f"{validate.graph_id(app_id, 'app_id')}|{secret}"


def _app_token(client: GraphClient, app_id: str, app_secret_env: str) -> str:
    """The app token, with the app secret's variable named to the client (its call log shows $NAME)."""
    client.refer_secrets(app_secret_env)
    return app_token(app_id, app_secret_env)


# ---- Step 1: the access token ------------------------------------------------------------
def check_token(
    client: GraphClient,
    *,
    app_id: str | None = None,
    app_secret_env: str | None = None,
    waba_id: str | None = None,
    required_scopes: Iterable[str] = REQUIRED_SCOPES,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Debug the client's token (GET /debug_token) and judge it for onboarding.

    Calls with the app token `{app_id}|{app_secret}` when both are given, else with the
    token itself. Returns a report: validity, type, app, expiry, scopes present and
    missing, whether `waba_id` is among the granular target_ids (None when the token has
    no target list, i.e. it covers every asset), and `problems` (empty when usable).
    """
    if app_id is not None:
        app_id = validate.graph_id(app_id, "app_id")
    if waba_id:
        waba_id = validate.graph_id(waba_id, "waba_id")
    subject = client.secret(client.token_env, N_("access token"))
    caller = _app_token(client, app_id, app_secret_env) if (app_id and app_secret_env) else None
    data = client.request("GET", "debug_token", secret_params={"input_token": subject}, token=caller).get("data", {})

    now = now or dt.datetime.now(dt.timezone.utc)
    scopes = list(data.get("scopes") or [])
    required = list(required_scopes)
    missing = [s for s in required if s not in scopes]
    targets: set[str] = set()
    has_target_list = False
    for grant in data.get("granular_scopes") or []:
        if grant.get("scope") in required and "target_ids" in grant:
            has_target_list = True
            targets.update(str(t) for t in grant.get("target_ids") or [])
    expires_at = int(data.get("expires_at") or 0)
    expires = "never" if expires_at == 0 else dt.datetime.fromtimestamp(expires_at, dt.timezone.utc)

    problems: list[str] = []
    if not data.get("is_valid"):
        err = data.get("error") or {}
        problems.append(f"token is not valid: {err.get('message', 'no reason given')} (code {err.get('code')}/{err.get('subcode')})")
    if app_id and str(data.get("app_id")) != app_id:
        problems.append(f"token belongs to app {data.get('app_id')}, not to app {app_id}")
    if missing:
        problems.append("missing scope(s): " + ", ".join(missing) + " (regenerate the token with both WhatsApp permissions)")
    if waba_id and has_target_list and waba_id not in targets:
        problems.append(f"WABA {waba_id} is not among the token's target_ids; assign it to the system user and regenerate")
    if expires != "never" and expires <= now:
        problems.append(f"token expired at {expires:%Y-%m-%d %H:%M} UTC")
    if data.get("type") not in (None, "SYSTEM_USER"):
        problems.append(f"token type is {data.get('type')}; use a system user token for production (user tokens expire)")

    return {
        "is_valid": bool(data.get("is_valid")),
        "type": data.get("type"),
        "app_id": str(data.get("app_id")) if data.get("app_id") is not None else None,
        "application": data.get("application"),
        "user_id": data.get("user_id"),
        "error": data.get("error") or None,  # debug_token's reason when the token is not valid
        "expires_at": expires_at,
        "expires": expires if expires == "never" else expires.isoformat(),
        "scopes": scopes,
        "missing_scopes": missing,
        "target_ids": sorted(targets) if has_target_list else None,
        "waba_in_targets": (waba_id in targets) if (waba_id and has_target_list) else None,
        "problems": problems,
        "ok": not problems,
    }


def exchange_signup_code(client: GraphClient, *, app_id: str, app_secret_env: str, code: str,
                         store_in_env: str) -> dict[str, Any]:
    """Embedded Signup: trade the single-use `code` for the business token (GET /oauth/access_token).

    The token is put into the environment variable `store_in_env` and never returned, so
    it cannot end up in a notebook's output. Returns {'token_env', 'token_type'}.
    """
    app_id = validate.graph_id(app_id, "app_id")
    store_in_env = validate.env_name(store_in_env, "store_in_env")
    if not str(code or "").strip():
        raise validate.ConfigError(_("code is empty: paste the code returned by the Embedded Signup flow (it is single-use and "
                                    "expires in seconds)."))
    secret = client.secret(app_secret_env, N_("app secret"))
    response = client.request("GET", "oauth/access_token", authenticate=False,
                              secret_params={"client_id": app_id, "client_secret": secret, "code": str(code).strip()})
    token = response.get("access_token") or response.get("business_token")
    if not token:
        raise validate.ConfigError(_("the code exchange answered without an access_token; run the signup flow again."))
    os.environ[store_in_env] = token
    return {"token_env": store_in_env, "token_type": response.get("token_type", "bearer")}


# ---- Assets ------------------------------------------------------------------------------
def get_waba(client: GraphClient, waba_id: str, fields: Iterable[str] = WABA_FIELDS) -> dict[str, Any]:
    """The WhatsApp Business Account node."""
    return client.get(validate.graph_id(waba_id, "waba_id"), fields=list(fields))


# ---- Step 2: the app's webhook -----------------------------------------------------------
def set_app_webhook(client: GraphClient, *, app_id: str, app_secret_env: str, callback_url: str,
                    verify_token_env: str, fields: Iterable[str] = ("messages",)) -> dict[str, Any]:
    """Set the app's callback URL and verify token (POST /{app_id}/subscriptions, app token).

    Meta (and the sandbox) first performs the GET handshake against the callback and
    refuses to save if it fails.
    """
    app_id = validate.graph_id(app_id, "app_id")
    callback_url = validate.url(callback_url, "callback_url")
    token = _app_token(client, app_id, app_secret_env)
    verify_token = client.secret(verify_token_env, N_("webhook verify token"))
    return client.request("POST", f"{app_id}/subscriptions", token=token, data={
        "object": "whatsapp_business_account", "callback_url": callback_url,
        "verify_token": verify_token, "fields": ",".join(fields), "include_values": "true",
    }, idempotent=True)


def get_app_webhook(client: GraphClient, *, app_id: str, app_secret_env: str) -> list[dict[str, Any]]:
    """The app's webhook subscriptions (GET /{app_id}/subscriptions, app token)."""
    app_id = validate.graph_id(app_id, "app_id")
    return client.request("GET", f"{app_id}/subscriptions", token=_app_token(client, app_id, app_secret_env)).get("data", [])


def set_phone_webhook_override(client: GraphClient, phone_number_id: str, *, callback_url: str,
                               verify_token_env: str) -> dict[str, Any]:
    """Point one number's webhooks at another callback (POST /{PHONE_ID} webhook_configuration); '' removes it."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    callback = validate.url(callback_url, "callback_url") if callback_url else ""
    verify_token = client.secret(verify_token_env, N_("webhook verify token")) if callback else ""
    return client.post(phone_number_id, json={"webhook_configuration": {
        "override_callback_uri": callback, "verify_token": verify_token}})


# ---- Step 3: subscribe the app to the WABA -----------------------------------------------
def subscribe_app(client: GraphClient, waba_id: str, *, override_callback_uri: str | None = None,
                  verify_token_env: str | None = None) -> dict[str, Any]:
    """POST /{waba_id}/subscribed_apps (optionally with a WABA-level callback override)."""
    waba_id = validate.graph_id(waba_id, "waba_id")
    body = None
    if override_callback_uri:
        body = {"override_callback_uri": validate.url(override_callback_uri, "override_callback_uri"),
                "verify_token": client.secret(verify_token_env or "", N_("webhook verify token"))}
    return client.request("POST", f"{waba_id}/subscribed_apps", json=body, idempotent=True)


def list_subscribed_apps(client: GraphClient, waba_id: str) -> list[dict[str, Any]]:
    """GET /{waba_id}/subscribed_apps: the apps that receive this WABA's webhooks."""
    return client.get(f"{validate.graph_id(waba_id, 'waba_id')}/subscribed_apps").get("data", [])


def unsubscribe_app(client: GraphClient, waba_id: str) -> dict[str, Any]:
    """DELETE /{waba_id}/subscribed_apps."""
    return client.delete(f"{validate.graph_id(waba_id, 'waba_id')}/subscribed_apps")


def is_app_subscribed(client: GraphClient, waba_id: str, app_id: str) -> bool:
    """Whether the app is among the WABA's subscribed apps (GET /{waba_id}/subscribed_apps)."""
    return app_in(list_subscribed_apps(client, waba_id), validate.graph_id(app_id, "app_id"))


def app_in(subscribed_apps: list[dict[str, Any]], app_id: str) -> bool:
    """Whether app_id is among rows of GET /{waba_id}/subscribed_apps (no network call)."""
    return any(str((row.get("whatsapp_business_api_data") or {}).get("id")) == str(app_id) for row in subscribed_apps)


# ---- Step 4: phone numbers ---------------------------------------------------------------
def list_phone_numbers(client: GraphClient, waba_id: str, *, fields: Iterable[str] = PHONE_NUMBER_FIELDS,
                       limit: int | None = None) -> list[dict[str, Any]]:
    """Every phone number of the WABA, across all pages (GET /{waba_id}/phone_numbers)."""
    waba_id = validate.graph_id(waba_id, "waba_id")
    if limit is not None and not (isinstance(limit, int) and 0 < limit <= MAX_PAGE_SIZE):
        raise validate.ConfigError(_("limit must be a whole number from 1 to {maximum} (the page size).").format(
            maximum=MAX_PAGE_SIZE))
    return list(client.paginate(f"{waba_id}/phone_numbers", fields=list(fields), limit=limit))


def get_phone_number(client: GraphClient, phone_number_id: str, *,
                     fields: Iterable[str] = PHONE_NUMBER_FIELDS) -> dict[str, Any]:
    """GET /{phone_number_id}."""
    return client.get(validate.graph_id(phone_number_id, "phone_number_id"), fields=list(fields))


def find_phone_number(numbers: list[dict[str, Any]], *, display_phone_number: str = "",
                      phone_number_id: str = "") -> dict[str, Any]:
    """Pick one number from a listing by its ID or by its display number (digits compared)."""
    if phone_number_id:
        phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
        matches = [n for n in numbers if str(n.get("id")) == phone_number_id]
        not_found = _("No number with phone_number_id {wanted} in this WABA. Numbers found: {numbers}.")
        wanted = phone_number_id
    elif display_phone_number:
        digits = validate.phone_number(display_phone_number, "display_phone_number").lstrip("+")
        matches = [n for n in numbers if "".join(c for c in str(n.get("display_phone_number", "")) if c.isdigit()) == digits]
        not_found = _("No number with display_phone_number {wanted} in this WABA. Numbers found: {numbers}.")
        wanted = display_phone_number
    else:
        raise validate.ConfigError(_("give display_phone_number or phone_number_id to pick the number to onboard."))
    if not matches:
        shown = ", ".join(f"{n.get('display_phone_number')} ({n.get('id')})" for n in numbers) or _("none")
        raise validate.ConfigError(not_found.format(wanted=wanted, numbers=shown))
    return matches[0]


def request_code(client: GraphClient, phone_number_id: str, *, code_method: str = "SMS",
                 language: str = "en_US") -> dict[str, Any]:
    """POST /{phone_number_id}/request_code: Meta sends a verification code by SMS or voice."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    code_method = str(code_method).upper()
    if code_method not in ("SMS", "VOICE"):
        raise validate.ConfigError(_("code_method must be SMS or VOICE."))
    # A JSON body, as the spec's request schema and required Content-Type header describe (the
    # query string works on live Graph too, but arrives without the Content-Type the spec requires).
    return client.post(f"{phone_number_id}/request_code", json={"code_method": code_method, "language": language})


def verify_code(client: GraphClient, phone_number_id: str, code: str) -> dict[str, Any]:
    """POST /{phone_number_id}/verify_code with the code received (6 digits; dashes allowed)."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    digits = validate.verification_code(code)
    return client.post(f"{phone_number_id}/verify_code", data={"code": digits})


# ---- Step 5: register --------------------------------------------------------------------
def register_phone_number(client: GraphClient, phone_number_id: str, *, pin_env: str,
                          data_localization_region: str | None = None, backup_data: str | None = None,
                          backup_password_env: str | None = None) -> dict[str, Any]:
    """POST /{phone_number_id}/register with the 6-digit two-step PIN.

    With `backup_data` and `backup_password_env` it migrates a number from the On-Premises
    API (legacy). `data_localization_region` (one of validate.LOCAL_STORAGE_REGIONS) turns on Local Storage.
    """
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    body: dict[str, Any] = {"messaging_product": "whatsapp",
                            "pin": validate.pin(client.secret(pin_env, N_("two-step verification PIN")),
                                                _("the PIN in {env}").format(env=pin_env))}
    if data_localization_region:
        body["data_localization_region"] = validate.local_storage_region(data_localization_region)
    if backup_data or backup_password_env:
        if not (backup_data and backup_password_env):
            raise validate.ConfigError(_("migration needs both backup_data (from the On-Premises backup) and "
                                        "backup_password_env."))
        body["backup"] = {"data": str(backup_data), "password": client.secret(backup_password_env, N_("backup password"))}
    return client.post(f"{phone_number_id}/register", json=body)


def deregister_phone_number(client: GraphClient, phone_number_id: str) -> dict[str, Any]:
    """POST /{phone_number_id}/deregister (counts toward the 10-per-72-hours limit too)."""
    return client.post(f"{validate.graph_id(phone_number_id, 'phone_number_id')}/deregister")


def set_two_step_pin(client: GraphClient, phone_number_id: str, *, pin_env: str) -> dict[str, Any]:
    """POST /{phone_number_id} {"pin"}: set or reset the two-step verification PIN."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    pin = validate.pin(client.secret(pin_env, N_("two-step verification PIN")), _("the PIN in {env}").format(env=pin_env))
    return client.post(phone_number_id, json={"pin": pin})


# ---- Step 7: send ------------------------------------------------------------------------
def send_text(client: GraphClient, phone_number_id: str, to: str, body: str, *,
              preview_url: bool = False) -> dict[str, Any]:
    """POST /{phone_number_id}/messages, a free-form text (only delivered inside the 24-hour window)."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    to = validate.phone_number(to, "to")
    text = str(body or "")
    if not text.strip() or len(text) > 4096:
        raise validate.ConfigError(_("the text body must be 1 to 4096 characters."))
    return client.post(f"{phone_number_id}/messages", json={
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
        "text": {"preview_url": bool(preview_url), "body": text}})


def send_template(client: GraphClient, phone_number_id: str, to: str, *, name: str = "hello_world",
                  language: str = "en_US", components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """POST /{phone_number_id}/messages, an approved template (starts a conversation outside the window)."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    to = validate.phone_number(to, "to")
    if not name or not str(name).replace("_", "").isalnum():
        raise validate.ConfigError(_("template name must be letters, digits and underscores, e.g. hello_world."))
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = components
    return client.post(f"{phone_number_id}/messages", json={
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template",
        "template": template})


def message_id(send_response: dict[str, Any]) -> str:
    """The wamid from a send response envelope."""
    return send_response["messages"][0]["id"]


# ---- Solution Partner: the customer's WABA before registration ---------------------------
CREDIT_CURRENCIES = ("USD", "EUR", "INR", "IDR", "GBP", "AUD")  # what a shared credit line can bill in
HEALTH_ENTITY_ORDER = ("PHONE_NUMBER", "WABA", "BUSINESS", "APP", "MESSAGE_TEMPLATE")
# health_status errors about receiving calls over SIP (`can_receive_call_sip`), reported beside messaging on the
# number and the app; they never block messages (Meta's health-status page, docs/meta-facts.md).
CALLING_HEALTH_CODES = frozenset({138024, 138025})


def list_credit_lines(client: GraphClient, business_id: str) -> list[dict[str, Any]]:
    """GET /{business_id}/extendedcredits: the partner's extended credit lines (partner's system user token)."""
    return list(client.paginate(f"{validate.graph_id(business_id, 'business_id')}/extendedcredits"))


def share_credit_line(client: GraphClient, credit_line_id: str, *, waba_id: str, waba_currency: str) -> dict[str, Any]:
    """POST /{credit_line_id}/whatsapp_credit_sharing_and_attach: share the partner's credit line with the
    customer and attach it to the customer's WABA; {allocation_config_id, waba_id}."""
    credit_line_id = validate.graph_id(credit_line_id, "credit_line_id")
    waba_id = validate.graph_id(waba_id, "waba_id")
    currency = str(waba_currency or "").strip().upper()
    if currency not in CREDIT_CURRENCIES:
        raise validate.ConfigError(_("waba_currency must be one of {currencies}, not {value}.").format(
            currencies=", ".join(CREDIT_CURRENCIES), value=repr(waba_currency)))
    return client.request("POST", f"{credit_line_id}/whatsapp_credit_sharing_and_attach",
                          params={"waba_currency": currency, "waba_id": waba_id}, idempotent=True)


def credit_allocations(client: GraphClient, credit_line_id: str, *,
                       receiving_business_id: str | None = None) -> list[dict[str, Any]]:
    """GET /{credit_line_id}/owning_credit_allocation_configs: the line's active shares, each with the id of
    the credential the receiving business pays with (`receiving_credential`), optionally for one business."""
    credit_line_id = validate.graph_id(credit_line_id, "credit_line_id")
    params: dict[str, Any] = {"fields": "id,receiving_credential,receiving_business"}
    if receiving_business_id:
        params["receiving_business_id"] = validate.graph_id(receiving_business_id, "receiving_business_id")
    return list(client.paginate(f"{credit_line_id}/owning_credit_allocation_configs", **params))


def receiving_credential(client: GraphClient, allocation_config_id: str) -> str:
    """GET /{allocation_config_id}?fields=receiving_credential: the id of the credential a share created.
    Meta's check that a line is attached: the client WABA's `primary_funding_id` is this id (not the line's)."""
    allocation_config_id = validate.graph_id(allocation_config_id, "allocation_config_id")
    answer = client.request("GET", allocation_config_id, params={"fields": "receiving_credential"})
    return str((answer.get("receiving_credential") or {}).get("id") or "")


def list_assigned_users(client: GraphClient, waba_id: str, *, business_id: str) -> list[dict[str, Any]]:
    """GET /{waba_id}/assigned_users?business=...: the users (and system users) on the WABA with their tasks."""
    waba_id = validate.graph_id(waba_id, "waba_id")
    return list(client.paginate(f"{waba_id}/assigned_users", business=validate.graph_id(business_id, "business_id")))


def assign_user(client: GraphClient, waba_id: str, *, user_id: str, tasks: Iterable[str] = ("MANAGE",)) -> dict[str, Any]:
    """POST /{waba_id}/assigned_users user=...&tasks=[...]: give a (system) user tasks on the WABA."""
    waba_id = validate.graph_id(waba_id, "waba_id")
    user_id = validate.graph_id(user_id, "user_id")
    tasks = [str(t).strip().upper() for t in tasks if str(t).strip()]
    if not tasks:
        raise validate.ConfigError(_("tasks is empty: give MANAGE, or granular tasks such as MANAGE_TEMPLATES."))
    return client.post(f"{waba_id}/assigned_users", data={"user": user_id, "tasks": json.dumps(tasks)})


# ---- After registration: business profile, templates, health -------------------------------
BUSINESS_PROFILE_FIELDS = ("about", "address", "description", "email", "websites", "vertical", "profile_picture_url")


def get_business_profile(client: GraphClient, phone_number_id: str, *,
                         fields: Iterable[str] = BUSINESS_PROFILE_FIELDS) -> dict[str, Any]:
    """GET /{phone_number_id}/whatsapp_business_profile: what consumers see of the business."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    data = client.get(f"{phone_number_id}/whatsapp_business_profile", fields=",".join(fields)).get("data") or [{}]
    return dict(data[0])


def set_business_profile(client: GraphClient, phone_number_id: str, **profile: Any) -> dict[str, Any]:
    """POST /{phone_number_id}/whatsapp_business_profile with the keys given (about, address, description,
    email, websites, vertical, profile_picture_handle); empty values are left out."""
    phone_number_id = validate.graph_id(phone_number_id, "phone_number_id")
    allowed = {"about", "address", "description", "email", "websites", "vertical", "profile_picture_handle"}
    unknown = sorted(set(profile) - allowed)
    if unknown:
        raise validate.ConfigError(_("not business profile fields: {unknown}; fields are {fields}.").format(
            unknown=", ".join(unknown), fields=", ".join(sorted(allowed))))
    body = {k: (list(v) if k == "websites" else v) for k, v in profile.items() if v not in (None, "", [], ())}
    if not body:
        raise validate.ConfigError(_("nothing to set: give at least one business profile field."))
    return client.post(f"{phone_number_id}/whatsapp_business_profile", json={"messaging_product": "whatsapp", **body})


TEMPLATE_FIELDS = ("name", "language", "status", "category", "quality_score", "rejected_reason", "id")


def list_message_templates(client: GraphClient, waba_id: str, *, name: str | None = None) -> list[dict[str, Any]]:
    """GET /{waba_id}/message_templates (every page; only `name` when given)."""
    waba_id = validate.graph_id(waba_id, "waba_id")
    return list(client.paginate(f"{waba_id}/message_templates", name=name or None))


def create_message_template(client: GraphClient, waba_id: str, *, name: str, language: str, body: str,
                            category: str = "UTILITY") -> dict[str, Any]:
    """POST /{waba_id}/message_templates: a template with one BODY (variables get sample values for review)."""
    waba_id = validate.graph_id(waba_id, "waba_id")
    if not re.fullmatch(r"[a-z0-9_]{1,512}", str(name or "")):
        raise validate.ConfigError(_("template name must be lowercase letters, digits and underscores."))
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", str(language or "")):
        raise validate.ConfigError(_("template language {language} is not a language code such as en_US.").format(
            language=repr(language)))
    category = str(category).upper()
    if category not in ("UTILITY", "MARKETING", "AUTHENTICATION"):
        raise validate.ConfigError(_("category must be UTILITY, MARKETING or AUTHENTICATION."))
    text = str(body or "")
    if not text.strip():
        raise validate.ConfigError(_("the template body is empty."))
    component: dict[str, Any] = {"type": "BODY", "text": text}
    variables = sorted({int(n) for n in re.findall(r"{{\s*(\d+)\s*}}", text)})
    if variables:  # Meta reviews a template with variables only with sample values
        component["example"] = {"body_text": [[f"sample {n}" for n in variables]]}
    return client.post(f"{waba_id}/message_templates", json={"name": name, "language": language,
                                                              "category": category, "components": [component]})


def get_health_status(client: GraphClient, node_id: str) -> dict[str, Any]:
    """GET /{node_id}?fields=health_status (a phone number, WABA or template): can_send_message and entities."""
    node_id = validate.graph_id(node_id, "node_id")
    return client.get(node_id, fields="health_status").get("health_status") or {}
