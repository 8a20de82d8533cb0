"""Checks on user input, run before any network call. Each error says what to fix.

Errors name environment variables but never echo a secret's value.
"""
from __future__ import annotations

import os
import re
import warnings
from typing import Mapping

from .errors import ConfigError, MissingSecretError
from .i18n import N_, _
from .versions import DEFAULT_API_VERSION, LATEST_KNOWN_VERSION, version_status

_DIGITS = re.compile(r"^[0-9]+$")
_PIN = re.compile(r"^[0-9]{6}$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_VERSION = re.compile(r"^v[0-9]{1,3}\.0$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_SAID: set[str] = set()


def _format_warning(message, category, filename, lineno, line=None, _standard=warnings.formatwarning):
    # An expiring version is the user's setting, not our code: one plain line, no source line of helpers,
    # and once per process (IPython resets the warning registry every cell, so filters alone repeat it).
    if isinstance(category, type) and issubclass(category, ApiVersionWarning):
        text = _("warning: {message}").format(message=message) + "\n"
        if text in _SAID:
            return ""
        _SAID.add(text)
        return text
    return _standard(message, category, filename, lineno, line)


class ApiVersionWarning(UserWarning):
    """The API version has expired or expires within 90 days."""


def local_storage_regions() -> tuple[str, ...]:
    """The countries Local Storage can keep data in: the spec's WhatsAppDataLocalizationRegion enum."""
    from . import spec  # not a loop: the webhook receiver imports this module and must not load the spec (yaml)
    return tuple(spec.index()["local_storage_regions"])


def local_storage_region(value) -> str:
    """A Local Storage country (data_localization_region): 2 letters, one Meta offers; upper-cased."""
    region = str(value).strip().upper()
    if len(region) != 2 or not region.isalpha():
        raise ConfigError(_("data_localization_region must be a 2-letter country code such as DE or IN."))
    if region not in local_storage_regions():
        raise ConfigError(_("data_localization_region {region} is not a country Local Storage offers; use one of "
                            "{regions}.").format(region=region, regions=", ".join(local_storage_regions())))
    return region


# A `name` is a parameter's name (waba_id: stays as it is) or, by default, a word (translated when said).
def graph_id(value, name: str = N_("id")) -> str:
    """A Graph object ID: a non-empty string of digits (ints are accepted and turned into strings)."""
    if isinstance(value, bool) or value is None:
        raise ConfigError(_("{name} is missing: give the numeric ID as a string of digits, e.g. "
                            "'106540352242922'.").format(name=_(name)))
    text = str(value).strip()
    if not text:
        raise ConfigError(_("{name} is empty: give the numeric ID as a string of digits, e.g. "
                            "'106540352242922'.").format(name=_(name)))
    if not _DIGITS.match(text):
        raise ConfigError(_("{name} must be digits only (a Graph ID such as '106540352242922'), got "
                            "{value}.").format(name=_(name), value=repr(text)))
    return text


def pin(value: str, name: str = N_("PIN")) -> str:
    """A two-step verification PIN: exactly 6 digits. The value is never echoed."""
    text = "" if value is None else str(value).strip()
    if not _PIN.match(text):
        if text.isdigit() or not text:
            message = _("{name} must be exactly 6 digits (got {count} characters).")
        else:
            message = _("{name} must be exactly 6 digits (got {count} characters, not all digits).")
        raise ConfigError(message.format(name=_(name), count=len(text)))
    return text


def verification_code(value) -> str:
    """The code from the SMS or voice call: 6 digits (Meta's codes, the spec's pattern); dashes and spaces allowed."""
    digits = re.sub(r"[\s-]", "", "" if value is None else str(value))
    if not (digits.isdigit() and len(digits) == 6):
        raise ConfigError(_("verification_code must be the 6 digits from the SMS or call, e.g. 123830 or 123-830."))
    return digits


def phone_number(value, name: str = N_("phone number")) -> str:
    """A phone number: digits with country code, an optional leading +; spaces, dashes and dots allowed."""
    text = re.sub(r"[\s\-().]", "", "" if value is None else str(value))
    if not _PHONE.match(text):
        raise ConfigError(_("{name} must be digits with the country code, optionally starting with + "
                            "(e.g. +16505551234), got {value}.").format(name=_(name), value=repr(value)))
    return text


def api_version(value: str) -> str:
    """'vNN.0', a version Meta has published; warns (ApiVersionWarning) when it has expired or expires within 90 days."""
    text = str(value or "").strip()
    if not _VERSION.match(text):
        raise ConfigError(_("api_version must look like 'v25.0' (v, a number, '.0'), got {value}.").format(
            value=repr(value)))
    status = version_status(text)
    if status["status"] == "unknown":
        raise ConfigError(_("api_version {version} is not a version Meta has published (latest known "
                            "{latest}); use {default}.").format(version=text, latest=LATEST_KNOWN_VERSION,
                                                                 default=DEFAULT_API_VERSION))
    if status["status"] in ("expired", "expires soon"):
        warnings.warn(status["note"], ApiVersionWarning, stacklevel=2)
    return text


warnings.formatwarning = _format_warning
# Validated again by every step and every worker: said once per process.
warnings.filterwarnings("once", category=ApiVersionWarning)


def env_name(value: str, name: str = N_("environment variable name")) -> str:
    """The *name* of an environment variable (not its value)."""
    text = str(value or "").strip()
    if not _ENV_NAME.match(text):
        raise ConfigError(_("{name} must be the name of an environment variable such as WHATSAPP_TOKEN, got "
                            "a value that is not a valid name. Put the secret itself in the environment, not "
                            "here.").format(name=_(name)))
    return text


def secret_from_env(env: str, what: str = N_("secret"), environ: Mapping[str, str] | None = None) -> str:
    """The value of a secret's environment variable (in `environ`, default os.environ);
    MissingSecretError naming the variable if unset."""
    env = env_name(env, _("name of the variable holding the {what}").format(what=_(what)))
    value = (os.environ if environ is None else environ).get(env, "")
    if not value.strip():
        raise MissingSecretError(env, what)
    return value.strip()


def url(value: str, name: str = N_("URL")) -> str:
    text = str(value or "").strip()
    if not re.match(r"^https?://[^\s/]+", text):
        raise ConfigError(_("{name} must start with http:// or https:// and name a host, got {value}.").format(
            name=_(name), value=repr(value)))
    return text.rstrip("/")
