"""Customer profiles (customers/<slug>.yaml): the parameters of one customer's onboarding.

A profile's keys are the notebooks' parameter names plus `customer` (the slug used for run
folders). Secrets are never values here, only the names of the environment variables that
hold them (`*_env` keys). Loading validates everything before any network call.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import validate
from .errors import ConfigError

ID_KEYS = ("business_id", "waba_id", "app_id", "phone_number_id")
ENV_KEYS = ("token_env", "pin_env", "app_secret_env", "verify_token_env", "backup_password_env")
TEXT_KEYS = ("customer", "graph_url", "api_version", "display_phone_number", "consumer_number", "message_text",
             "callback_url", "onboarding", "data_localization_region", "backup_data", "template_name",
             "template_language", "notes")
NUMBER_KEYS = ("expected_peak_mps", "wait_seconds")
LIST_KEYS = ("compliance", "features")
KNOWN_KEYS = frozenset(ID_KEYS + ENV_KEYS + TEXT_KEYS + NUMBER_KEYS + LIST_KEYS + ("shares_whatsapp_business_app",))
# Keys that would hold a secret's value: refused with a pointer to the *_env key to use.
SECRET_VALUE_KEYS = {"token": "token_env", "access_token": "token_env", "pin": "pin_env", "app_secret": "app_secret_env",
                     "verify_token": "verify_token_env", "backup_password": "backup_password_env", "password": "backup_password_env"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read and validate a profile; raises ConfigError naming the file and the key to fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"profile {path} does not exist.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"profile {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"profile {path} must be a mapping of parameter names to values.")
    try:
        profile = validate_profile(raw)
    except ConfigError as exc:
        raise ConfigError(f"profile {path}: {exc}") from None
    profile.setdefault("customer", path.stem)
    return profile


def validate_profile(raw: dict[str, Any]) -> dict[str, Any]:
    profile: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECRET_VALUE_KEYS:
            raise ConfigError(f"'{key}' would put a secret in the profile. Put the value in an environment variable "
                              f"and name that variable with '{SECRET_VALUE_KEYS[key]}' instead.")
        if key not in KNOWN_KEYS:
            raise ConfigError(f"unknown key '{key}'. Known keys: {', '.join(sorted(KNOWN_KEYS))}.")
        if value is None or value == "":
            continue
        if key in ID_KEYS:
            value = validate.graph_id(value, key)
        elif key in ENV_KEYS:
            value = validate.env_name(value, key)
        elif key == "customer":
            value = str(value)
            if not _SLUG.match(value):
                raise ConfigError("customer must be a slug: lowercase letters, digits, '-' and '_' (used for run folders).")
        elif key == "api_version":
            value = validate.api_version(value)
        elif key == "graph_url":
            value = validate.url(value, "graph_url")
        elif key in ("display_phone_number", "consumer_number"):
            validate.phone_number(value, key)
            value = str(value)
        elif key == "onboarding" and value not in ("new", "migrate"):
            raise ConfigError("onboarding must be 'new' or 'migrate'.")
        elif key in NUMBER_KEYS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{key} must be a non-negative number.")
        elif key in LIST_KEYS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise ConfigError(f"{key} must be a list, e.g. [GDPR, SOC 2].")
            value = [str(v) for v in value]
        profile[key] = value
    return profile
