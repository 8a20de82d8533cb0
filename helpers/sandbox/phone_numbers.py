"""Phone numbers and their registration: the phone number node's fields and health status, the two-step PIN,
request_code/verify_code, register/deregister (with Meta's attempt limits and PIN lockout) and the
per-number webhook override.

Every rule raises the GraphError Meta would answer with.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
import secrets
from typing import Any, Callable

from . import graph_errors as err
from . import spec_model
from .models import (LEGACY_LIMIT_TIER, PIN_GUESS_LIMIT, PIN_LOCKOUT, REGISTER_LIMIT, REGISTER_WINDOW,
                     SIP_NOT_CONFIGURED, UNIFIED_CERT_STATUS, VERIFICATION_CODE_TTL, PhoneNumber, country_of)
from .params import object_param, require_pin, require_whatsapp_product
from .store import Store


class PhoneNumbersMixin(Store):
    """A phone number's fields, health and registration."""

    # ---- phone numbers ----------------------------------------------------------------------

    def phone_fields(self, phone: PhoneNumber, app_id: str) -> dict[str, Callable[[], Any]]:
        """A getter per field of the phone number node (spec_model.node_fields(PHONE_NUMBER)); None leaves it out."""
        dial, country = country_of(phone.digits)
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
        phone_entity["can_receive_call_sip"] = SIP_NOT_CONFIGURED["PHONE_NUMBER"]["can_receive_call_sip"]
        phone_entity["errors"] = [*phone_entity.get("errors", []),
                                  *copy.deepcopy(SIP_NOT_CONFIGURED["PHONE_NUMBER"]["errors"])]
        return self.health(waba, phone_entity, app_id=app_id)

    def set_pin(self, phone: PhoneNumber, pin: Any) -> dict:
        pin = require_pin(pin)
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
        require_whatsapp_product(params)
        if params.get("pin") in (None, ""):
            raise err.parameter_required("pin")
        pin = require_pin(params["pin"])
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


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(max(0, seconds)), 3600)
    return f"{hours} h {rest // 60} min"
