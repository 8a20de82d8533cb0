"""Read a seed YAML (the default is seed.yaml beside this file) into a fresh SandboxState.

A secret in the seed is `{env: NAME, value: VALUE}` (or a bare value when no variable names it);
`demo_env()` collects every NAME -> VALUE so the CLI can print the exports. The format is
documented in docs/sandbox.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .clock import SandboxClock
from . import spec_model
from .models import LEGACY_LIMIT_TIER, App, Business, PhoneNumber, Token, Waba
from .partner import CREDIT_CURRENCIES, attach_credit_line
from .state import SandboxState
from .templates import CATEGORIES, TEMPLATE_STATUSES

DEFAULT_SEED = Path(__file__).with_name("seed.yaml")


class SeedError(ValueError):
    """The seed file is missing something or has a wrong shape; the message names it."""


class Seed:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else DEFAULT_SEED
        try:
            self.data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SeedError(f"cannot read seed {self.path}: {exc}") from exc
        if not isinstance(self.data.get("businesses"), list):
            raise SeedError(f"seed {self.path} needs a 'businesses' list")
        self._env: dict[str, str] = {}
        self.build(SandboxClock())  # validates the whole file and fills the env map

    def demo_env(self) -> dict[str, str]:
        """Environment variable name -> value for every secret the seed names."""
        return dict(self._env)

    def build(self, clock: SandboxClock) -> SandboxState:
        state = SandboxState(clock)
        self._env = {str(k): str(v) for k, v in (self.data.get("customer_env") or {}).items()}
        for consumer in self.data.get("consumers") or []:
            state.consumers[_text(consumer, "wa_id")] = str(consumer.get("name") or "WhatsApp User")
        for biz in self.data["businesses"]:
            business = Business(_text(biz, "id"), _text(biz, "name"), bool(biz.get("terms_of_service_accepted", True)),
                                credit_lines=[{"id": _text(c, "id"), "legal_entity_name": str(c.get("legal_entity_name") or biz["name"])}
                                              for c in biz.get("extended_credits") or []])
            if biz.get("messaging_limit") is not None:
                business.messaging_limit = str(biz["messaging_limit"])
                if business.messaging_limit not in LEGACY_LIMIT_TIER:
                    raise SeedError(f"business {business.id} in seed {self.path}: messaging_limit "
                                    f"{business.messaging_limit!r} is not a value Meta uses ({', '.join(LEGACY_LIMIT_TIER)})")
            state.businesses[business.id] = business
            for app in biz.get("apps") or []:
                state.apps[_text(app, "id")] = App(_text(app, "id"), _text(app, "name"), business.id,
                                                   self._secret(app, "secret"))
            for waba_data in biz.get("wabas") or []:
                self._add_waba(state, business, waba_data)
            for token_data in biz.get("tokens") or []:
                self._add_token(state, business, token_data, clock.now())
        self._check_links(state)
        return state

    def _check_links(self, state: SandboxState) -> None:
        """What a WABA names in other businesses (partners, their credit line and app) must exist."""
        for waba in state.wabas.values():
            for partner_id in waba.shared_with:
                if partner_id not in state.businesses:
                    raise SeedError(f"WABA {waba.id} in seed {self.path}: shared_with {partner_id} is no business")
            for app_id in waba.subscribed_apps:
                if app_id not in state.apps:
                    raise SeedError(f"WABA {waba.id} in seed {self.path}: subscribed_apps {app_id} is no app")
            line = (waba.credit_allocation or {}).get("credit_line_id")
            if line is None:
                continue
            owner = next((b for b in state.businesses.values() if any(c["id"] == line for c in b.credit_lines)), None)
            if owner is None or (owner.id != waba.business_id and owner.id not in waba.shared_with):
                raise SeedError(f"WABA {waba.id} in seed {self.path}: credit_line {line} is not the extended credit of "
                                "its business or of a partner it is shared with")

    def _add_waba(self, state: SandboxState, business: Business, data: dict) -> None:
        waba = Waba(_text(data, "id"), _text(data, "name"), business.id,
                    currency=str(data.get("currency", "USD")), timezone_id=str(data.get("timezone_id", "1")),
                    message_template_namespace=str(data.get("message_template_namespace", "")),
                    templates=[self._template(data, t) for t in data.get("templates") or []],
                    shared_with=[str(b) for b in data.get("shared_with") or []],
                    payment_method=None if data.get("payment_method", "OWN") in (None, "none") else str(data.get("payment_method", "OWN")),
                    assigned_users={str(a["user"]): [str(t) for t in a.get("tasks") or ["MANAGE"]]
                                    for a in data.get("assigned_users") or []},
                    # The app subscriptions a customer already has (Embedded Signup subscribes the partner's app).
                    subscribed_apps={str(a): {"override_callback_uri": None, "verify_token": None}
                                     for a in data.get("subscribed_apps") or []},
                    partner_tasks=None if data.get("partner_tasks") is None
                    else [str(t) for t in data["partner_tasks"]],
                    review_rejects=None if data.get("review_rejects") is None else str(data["review_rejects"]))
        if data.get("credit_line"):  # the partner's credit line, already shared and attached
            if waba.currency not in CREDIT_CURRENCIES:
                raise SeedError(f"WABA {waba.id} in seed {self.path}: a credit line bills in {', '.join(CREDIT_CURRENCIES)}, "
                                f"not {waba.currency}")
            attach_credit_line(waba, str(data["credit_line"]), waba.currency)
        state.wabas[waba.id] = waba
        for phone in data.get("phone_numbers") or []:
            backup = phone.get("backup") or {}
            number = PhoneNumber(
                id=_text(phone, "id"), waba_id=waba.id,
                display_phone_number=_text(phone, "display_phone_number"),
                verified_name=str(phone.get("verified_name", waba.name)),
                code_verification_status=str(phone.get("code_verification_status", "VERIFIED")),
                registered=bool(phone.get("registered", False)),
                platform_type=str(phone.get("platform_type", "CLOUD_API")),
                status=str(phone.get("status", "CONNECTED" if phone.get("registered") else "PENDING")),
                name_status=str(phone.get("name_status", "APPROVED")),
                quality_rating=str(phone.get("quality_rating", "GREEN")),
                throughput_level=str(phone.get("throughput_level", "STANDARD")),
                account_mode=str(phone.get("account_mode", "LIVE")),
                is_on_biz_app=bool(phone.get("is_on_biz_app", False)),
                pin=self._secret(phone, "pin") if phone.get("pin") is not None else None,
                allowed_recipients=[str(n) for n in phone.get("allowed_recipients") or []],
                backup_data=self._secret(backup, "data") if backup else None,
                backup_password=self._secret(backup, "password") if backup else None,
            )
            for name, value in (("code_verification_status", number.code_verification_status),
                                ("status", number.status), ("name_status", number.name_status),
                                ("quality_rating", number.quality_rating), ("account_mode", number.account_mode),
                                ("host_platform", number.platform_type)):
                allowed = spec_model.allowed(spec_model.PHONE_NUMBER, name)
                if value not in allowed:
                    raise SeedError(f"phone number {number.id} in seed {self.path}: {name} {value!r} is not a value "
                                    f"Meta uses ({', '.join(sorted(allowed))})")
            if number.registered:
                number.last_onboarded_time = state.now()
            state.phones[number.id] = number

    def _template(self, waba: dict, data: dict) -> dict:
        template = {"name": str(data["name"]), "language": str(data.get("language", "en_US")),
                    "category": str(data.get("category", "UTILITY")).upper(), "status": str(data.get("status", "APPROVED"))}
        for key, allowed in (("category", CATEGORIES), ("status", TEMPLATE_STATUSES)):
            if template[key] not in allowed:
                raise SeedError(f"template {template['name']} of WABA {waba.get('id')} in seed {self.path}: {key} "
                                f"{template[key]!r} is not a value Meta uses ({', '.join(allowed)})")
        if data.get("rejected_reason"):
            template["rejected_reason"] = str(data["rejected_reason"])
        return template

    def _add_token(self, state: SandboxState, business: Business, data: dict, now: float) -> None:
        value = self._secret(data, "access_token")
        app_id = _text(data, "app_id")
        if app_id not in state.apps:
            raise SeedError(f"token for app {app_id} in seed {self.path}: no such app")
        if "expires_in" in data:
            expires_at = now + float(data["expires_in"])
        else:
            expires_at = float(data.get("expires_at", 0))
        targets = data.get("target_ids")
        state.tokens[value] = Token(
            value=value, type=str(data.get("type", "SYSTEM_USER")), app_id=app_id, business_id=business.id,
            user_id=str(data["user_id"]) if data.get("user_id") else None,
            scopes=[str(s) for s in data.get("scopes") or []],
            target_ids=[str(t) for t in targets] if targets is not None else None,
            expires_at=expires_at, issued_at=int(min(now, expires_at - 86400) if expires_at else now))

    def _secret(self, data: dict, key: str) -> str:
        value: Any = data.get(key)
        if isinstance(value, dict):
            if "value" not in value:
                raise SeedError(f"'{key}' in seed {self.path} needs a 'value'")
            if value.get("env"):
                self._env[str(value["env"])] = str(value["value"])
            return str(value["value"])
        if value is None:
            raise SeedError(f"'{key}' is missing in seed {self.path} (entry id {data.get('id')!r})")
        return str(value)


def _text(data: dict, key: str) -> str:
    if data.get(key) in (None, ""):
        raise SeedError(f"'{key}' is missing in a seed entry (entry id {data.get('id')!r})")
    return str(data[key])
