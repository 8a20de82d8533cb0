"""Customer profiles (customers/<slug>.yaml): the parameters of one customer's onboarding.

A profile's keys are the notebooks' parameter names plus `customer` (the slug used for run
folders). Secrets are never values here, only the names of the environment variables that
hold them (`*_env` keys). Loading validates everything before any network call, with the rules of the
parameter registry (helpers.parameters).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .parameters import PROFILE_KEYS, PROFILE_RULES
from .parameters import SECRET_ENV_PARAMS as ENV_KEYS  # noqa: F401  (the runner's name for them)
from .errors import ConfigError
from .i18n import _

# Keys that would hold a secret's value: refused with a pointer to the *_env key to use.
SECRET_VALUE_KEYS = {"token": "token_env", "access_token": "token_env", "pin": "pin_env", "app_secret": "app_secret_env",
                     "verify_token": "verify_token_env", "backup_password": "backup_password_env", "password": "backup_password_env"}


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read and validate a profile; raises ConfigError naming the file and the key to fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(_("profile {path} does not exist.").format(path=path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(_("profile {path} is not valid YAML: {error}").format(path=path, error=exc)) from None
    if not isinstance(raw, dict):
        raise ConfigError(_("profile {path} must be a mapping of parameter names to values.").format(path=path))
    try:
        profile = validate_profile(raw)
    except ConfigError as exc:
        raise ConfigError(_("profile {path}: {problem}").format(path=path, problem=exc)) from None
    profile.setdefault("customer", path.stem)
    return profile


def validate_profile(raw: dict[str, Any]) -> dict[str, Any]:
    """The profile's values, each checked and normalised by its entry in the parameter registry."""
    profile: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECRET_VALUE_KEYS:
            raise ConfigError(_("'{key}' would put a secret in the profile. Put the value in an environment variable "
                                "and name that variable with '{env_key}' instead.").format(
                                    key=key, env_key=SECRET_VALUE_KEYS[key]))
        if key not in PROFILE_KEYS:
            raise ConfigError(_("unknown key '{key}'. Known keys: {keys}.").format(
                key=key, keys=", ".join(sorted(PROFILE_KEYS))))
        if value is None or value == "":
            continue
        profile[key] = PROFILE_RULES[key].clean(value)
    return profile
