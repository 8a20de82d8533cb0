"""The parameter registry: every parameter of the playbook, once.

Each `Param` entry says a parameter's name, type, default, help, form label and kind, its
validator (`clean`), whether a profile may set it, which secret it names (for `*_env`
parameters) and which steps declare it. Everything else is derived from `PARAMS`:

- profile validation (`helpers.profiles.validate_profile`): `PROFILE_KEYS`, `clean`
- parameter cleaning in the notebooks (`helpers.steps.clean_params`): `clean_params`
- the forms' fields and labels (`helpers.forms`): `field`
- the notebooks' `parameters` cells: `parameters_cell`, written by
  ``python -m helpers.parameters --write-notebooks`` and checked by a test
- the preflight of ``helpers run`` (`helpers.runner.preflight`): `SECRET_ENV_PARAMS`, `secret_problem`

Adding a parameter is one `_p(...)` entry in `PARAMS` (plus, when a step requires it, that
step's `required`/`secrets` in `STEPS`).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from . import spec, validate
from .errors import ConfigError
from .i18n import N_, LanguageError, _, check_language, joined
from .versions import DEFAULT_API_VERSION

ALL = "*"  # `steps` value of the parameters every notebook declares



# ---- validators: one per kind of value; each returns the cleaned value or raises ConfigError ----
def is_empty(value: Any) -> bool:
    """None, or an empty string, list or mapping: a parameter nobody gave."""
    return value is None or (isinstance(value, (str, list, tuple, dict)) and len(value) == 0)


def _optional(check: Callable[[Any], Any], empty: Any = None) -> Callable[[Any], Any]:
    """Empty values pass (presence is checked per step); others go through `check`."""
    def clean(value: Any) -> Any:
        if is_empty(value):
            return value if empty is None else empty
        return check(value)
    return clean


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _number(name: str) -> Callable[[Any], float]:
    def clean(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
            raise ConfigError(_("{name} must be a non-negative number.").format(name=name))
        return float(value)
    return clean


def _flag(name: str) -> Callable[[Any], bool]:
    def clean(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0"):
            raise ConfigError(_("{name} must be True or False.").format(name=name))
        return text in ("true", "1")
    return clean


def _items(name: str) -> Callable[[Any], list[str]]:
    # A comma-separated string (the form's text box, a profile's one-liner) is a list too.
    def clean(value: Any) -> list[str]:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(_("{name} must be a list, e.g. ['GDPR', 'SOC 2'].").format(name=name))
        return [str(v) for v in value]
    return clean


def _choice(name: str, options: tuple[str, ...], default: str) -> Callable[[Any], str]:
    def clean(value: Any) -> str:
        text = str(value or default).strip().lower()
        if text not in options:
            raise ConfigError(_("{name} must be {options}.").format(name=name, options=joined(f"'{o}'" for o in options)))
        return text
    return clean


_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _slug(value: Any) -> str:
    text = str(value)
    if not _SLUG.match(text):
        raise ConfigError(_("customer must be a slug: lowercase letters, digits, '-' and '_' (used for run folders)."))
    return text


def _id(name: str) -> Callable[[Any], str]:
    return _optional(lambda v: validate.graph_id(v, name), empty="")


def _phone(name: str) -> Callable[[Any], Any]:
    def clean(value: Any) -> str:
        validate.phone_number(value, name)
        return str(value).strip()
    return _optional(clean)


def _env(name: str) -> Callable[[Any], Any]:
    return _optional(lambda v: validate.env_name(v, name))


# How a secret's value must look, by `Param.secret`: None when fine, else the whole sentence saying what is
# wrong (never the value), with {what}, {env} and {param} to fill, translated where it is said (secret_problem).
def _token_problem(value: str) -> str | None:
    if not value or any(c.isspace() for c in value):
        return N_("the {what} in {env} (named by {param}) must be one token without spaces or line breaks")
    return None


def _pin_problem(value: str) -> str | None:
    try:
        validate.pin(value)
    except ConfigError:
        return N_("the {what} in {env} (named by {param}) must be exactly 6 digits")
    return None


SECRET_FORMS: dict[str, Callable[[str], str | None]] = {"token": _token_problem, "pin": _pin_problem}


# ---- the registry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    type: str                       # the parameters cell's annotation: str, bool, float, list
    default: Any
    help: str                       # the parameters cell's comment (papermill --help-notebook)
    clean: Callable[[Any], Any]     # validator: cleaned value or ConfigError
    label: str = ""                 # the form's label (marked N_(), translated where the widget is built)
    kind: str = "text"              # the form's widget kind (helpers.forms.base.KINDS)
    steps: tuple[str, ...] = ()     # notebooks declaring it (ALL: every one)
    profile: bool = True            # a profile may set it
    secret: str = ""                # for *_env parameters: the kind of secret named ("token", "pin", "secret")
    placeholder: str = ""           # prose ones marked N_(); examples of values stay as they are
    options: tuple[str, ...] = ()
    what: str = ""                  # for *_env parameters: the secret in words, for messages (marked N_())


def _p(name: str, type_: str, default: Any, help_: str, clean: Callable[[Any], Any], **more: Any) -> Param:
    return Param(name, type_, default, help_, clean, **more)


_ONBOARDING = ("new", "migrate")
# The currencies a partner's shared credit line can bill a customer's WABA in (Meta's list).
CREDIT_CURRENCIES = ("USD", "EUR", "INR", "IDR", "GBP", "AUD")
ABOUT_MAX = 139           # the profile's "about" text, as WhatsApp shows it
WEBSITES_MAX = 2
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_TEMPLATE_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_PARTNER_STEPS = ("07a_system_user", "07b_credit_line")


def _spec_enum(key: str) -> tuple[str, ...]:
    """An enum of Meta's spec (helpers.spec's index), read when first needed."""
    if key == "vertical":
        return tuple(spec.index()["business_profile"]["fields"]["vertical"]["enum"])
    return tuple(spec.index()[key])


def _currency(value: Any) -> str:
    text = str(value).strip().upper()
    if text not in CREDIT_CURRENCIES:
        raise ConfigError(_("waba_currency must be one of {currencies} (the currencies a shared "
                            "credit line bills in), not {value}.").format(currencies=", ".join(CREDIT_CURRENCIES),
                                                                         value=repr(value)))
    return text


def _tasks(value: Any) -> list[str]:
    tasks = [t.upper() for t in _items("assigned_tasks")(value)]
    allowed = _spec_enum("waba_permission_tasks")
    wrong = [t for t in tasks if t not in allowed]
    if wrong:
        raise ConfigError(_("assigned_tasks: {wrong} is not a WABA task; tasks are {allowed}.").format(
            wrong=", ".join(wrong), allowed=", ".join(allowed)))
    if not tasks:
        raise ConfigError(_("assigned_tasks is empty: give MANAGE, or the granular tasks (MANAGE_TEMPLATES, "
                            "MANAGE_PHONE, MANAGE_BILLING, ...) for a WABA shared through a Multi-Partner Solution."))
    return list(dict.fromkeys(tasks))


def _about(value: Any) -> str:
    text = str(value)
    if len(text) > ABOUT_MAX:
        raise ConfigError(_("business_about is {length} characters: WhatsApp shows at most {limit}.").format(
            length=len(text), limit=ABOUT_MAX))
    return text


def _limited(name: str, limit: int) -> Callable[[Any], str]:
    def clean(value: Any) -> str:
        text = str(value)
        if len(text) > limit:
            raise ConfigError(_("{name} is {length} characters: at most {limit}.").format(
                name=name, length=len(text), limit=limit))
        return text
    return clean


def _email(value: Any) -> str:
    text = str(value).strip()
    if not _EMAIL.match(text) or len(text) > 128:
        raise ConfigError(_("business_email {value} is not an email address (name@domain.tld, at most 128 "
                            "characters).").format(value=repr(value)))
    return text


def _websites(value: Any) -> list[str]:
    sites = _items("business_websites")(value)
    if len(sites) > WEBSITES_MAX:
        raise ConfigError(_("business_websites has {count} entries: a profile holds at most {limit}.").format(
            count=len(sites), limit=WEBSITES_MAX))
    for site in sites:
        if not re.match(r"^https?://[^\s/]+", site) or len(site) > 256:
            raise ConfigError(_("business_websites: {site} must be an http:// or https:// URL of at most 256 "
                                "characters.").format(site=repr(site)))
    return sites


def _vertical(value: Any) -> str:
    text = str(value).strip().upper()
    verticals = _spec_enum("vertical")
    if text not in verticals:
        raise ConfigError(_("business_vertical must be one of {verticals} (Meta's list), not {value}.").format(
            verticals=", ".join(verticals), value=repr(value)))
    return text


def _language(value: Any) -> str:
    if not str(value or "").strip():
        return ""  # PLAYBOOK_LANGUAGE, else English
    try:
        return check_language(value, "language")
    except LanguageError as exc:
        raise ConfigError(str(exc)) from None


def _template_name(value: Any) -> str:
    text = str(value).strip()
    if not _TEMPLATE_NAME.match(text):
        raise ConfigError(_("first_template_name {value} may only hold lowercase letters, digits and "
                            "underscores.").format(value=repr(value)))
    return text


def _template_language(value: Any) -> str:
    text = str(value).strip()
    if not _TEMPLATE_LANGUAGE.match(text):
        raise ConfigError(_("first_template_language {value} is not a template language code such as en_US or "
                            "de.").format(value=repr(value)))
    return text


def _template_body(value: Any) -> str:
    text = str(value)
    if len(text) > 1024:
        raise ConfigError(_("first_template_body is {length} characters: a template body holds at most "
                            "1024.").format(length=len(text)))
    numbers = [int(n) for n in re.findall(r"{{\s*(\d+)\s*}}", text)]
    if sorted(set(numbers)) != list(range(1, len(set(numbers)) + 1)):
        # Not formatted: {{1}} is Meta's variable syntax, shown as it is.
        raise ConfigError(_("first_template_body: number the variables {{1}}, {{2}}, ... in order, without gaps "
                            "(Meta rejects the template otherwise)."))
    return text
_IDS = dict(kind="id", steps=(ALL,))

PARAMS: dict[str, Param] = {p.name: p for p in (
    # shared by every notebook
    _p("profile", "str", "", "customer profile YAML (e.g. ../customers/example.yaml); fills parameters left at their defaults",
       _text, steps=(ALL,), profile=False),
    _p("graph_url", "str", "https://graph.facebook.com", "Graph API base URL; the sandbox's URL for training and tests",
       lambda v: validate.url(v, "graph_url"), label=N_("Graph API URL"), kind="url", steps=(ALL,)),
    _p("api_version", "str", DEFAULT_API_VERSION, "Graph API version, vNN.0", validate.api_version,
       label=N_("API version"), steps=(ALL,)),
    _p("token_env", "str", "WHATSAPP_TOKEN", "NAME of the environment variable holding the system user access token",
       _env("token_env"), label=N_("Access token"), kind="secret", steps=(ALL,), secret="token", what=N_("access token")),
    _p("waba_id", "str", "", "WhatsApp Business Account ID (digits)", _id("waba_id"), label=N_("WABA ID"), **_IDS),
    _p("phone_number_id", "str", "", "phone number ID (digits); found by 06_phone_numbers", _id("phone_number_id"),
       label=N_("Phone number ID"), **_IDS),
    _p("app_id", "str", "", "Meta app ID (digits)", _id("app_id"), label=N_("App ID"), **_IDS),
    _p("business_id", "str", "", "Business Manager (business portfolio) ID (digits)", _id("business_id"),
       label=N_("Business Manager ID"), **_IDS),
    _p("interactive", "bool", True, "True in JupyterLab (forms shown); False in batch runs: nothing waits for input",
       _flag("interactive"), kind="bool", steps=(ALL,), profile=False),
    _p("run_dir", "str", "", "folder for this step's JSON result record; empty: no record", _text, steps=(ALL,),
       profile=False),
    _p("language", "str", "", "the playbook's language: en or ko; empty: PLAYBOOK_LANGUAGE, else English",
       _language, steps=(ALL,)),
    # step-specific
    _p("display_phone_number", "str", "", "the business number to onboard, e.g. +1 555-010-0001",
       _phone("display_phone_number"), label=N_("Business number"), kind="phone", placeholder="+1 555-010-0001",
       steps=("01_assets", "06_phone_numbers", "07_migration", "08_register", "09_receive_message",
              "10_send_test_message", "11_business_profile", "13_go_live")),
    _p("pin_env", "str", "WHATSAPP_PIN", "NAME of the environment variable holding the 6-digit two-step verification PIN",
       _env("pin_env"), label=N_("Two-step PIN (6 digits)"), kind="pin", steps=("07_migration", "08_register"),
       secret="pin", what=N_("two-step verification PIN")),
    _p("consumer_number", "str", "", "a consumer WhatsApp number for the test messages, with country code",
       _phone("consumer_number"), label=N_("Consumer number"), kind="phone",
       steps=("01_assets", "09_receive_message", "10_send_test_message")),
    _p("callback_url", "str", "", "webhook callback URL (HTTPS on the internet); empty on the sandbox: start a local receiver",
       _optional(lambda v: validate.url(v, "callback_url")), label=N_("Callback URL"), kind="url",
       placeholder=N_("https://…; empty on the sandbox: local receiver"), steps=("04_webhooks",)),
    _p("verify_token_env", "str", "WHATSAPP_VERIFY_TOKEN", "NAME of the environment variable holding the webhook verify token",
       _env("verify_token_env"), label=N_("Verify token"), kind="secret", steps=("04_webhooks",), secret="token",
       what=N_("webhook verify token")),
    _p("app_secret_env", "str", "WHATSAPP_APP_SECRET", "NAME of the environment variable holding the app secret",
       _env("app_secret_env"), label=N_("App secret"), kind="secret", steps=("01_assets", "03_access_token", "04_webhooks"),
       secret="token", what=N_("app secret")),
    _p("webhook_db", "str", "", "SQLite file of the webhook receiver's store; empty: run_dir/webhooks.sqlite", _text,
       label=N_("Webhook store (SQLite)"), steps=("04_webhooks", "09_receive_message", "10_send_test_message"),
       profile=False),
    _p("backup_password_env", "str", "WHATSAPP_BACKUP_PASSWORD",
       "NAME of the environment variable holding the On-Premises backup password", _env("backup_password_env"),
       label=N_("Backup password"), kind="secret", steps=("07_migration",), secret="secret", what=N_("backup password")),
    _p("backup_data", "str", "", "the On-Premises backup data (from POST /v1/settings/backup), for migration only", _text,
       label=N_("Backup data"), placeholder=N_("from POST /v1/settings/backup on the On-Premises client"), steps=("07_migration",)),
    _p("message_text", "str", "hello world!", "text of the test message sent inside the 24-hour window", _text,
       label=N_("Text (inside the window)"), steps=("10_send_test_message",)),
    _p("template_name", "str", "hello_world", "approved template sent outside the 24-hour window", _text,
       label=N_("Template (outside it)"), steps=("10_send_test_message",)),
    _p("template_language", "str", "en_US", "language code of that template", _text, label=N_("Template language"),
       steps=("10_send_test_message",)),
    _p("wait_seconds", "float", 60.0, "seconds to wait for a webhook (the consumer's message, a status)",
       _number("wait_seconds"), label=N_("Wait (seconds)"), kind="number",
       steps=("09_receive_message", "10_send_test_message")),
    _p("onboarding", "str", "new", "new (Embedded Signup) or migrate (from the On-Premises API, legacy)",
       _choice("onboarding", _ONBOARDING, "new"), label=N_("New or migrate"), kind="choice", options=_ONBOARDING,
       steps=("00_plan", "07_migration")),
    _p("expected_peak_mps", "float", 0.0, "expected combined peak messages per second (text + media, in + out)",
       _number("expected_peak_mps"), label=N_("Peak messages/s"), kind="number", steps=("00_plan",)),
    _p("compliance", "list", [], "compliance needs, e.g. ['GDPR', 'SOC 2', 'local storage']", _items("compliance"),
       label=N_("Compliance needs"), kind="list", placeholder="GDPR, SOC 2, local storage", steps=("00_plan",)),
    _p("features", "list", [], "features the customer uses, e.g. ['text', 'templates', 'media']", _items("features"),
       label=N_("Features used"), kind="list", placeholder="text, templates, media", steps=("00_plan",)),
    _p("data_localization_region", "str", "", "2-letter country code for Local Storage at registration; empty: none",
       _optional(validate.local_storage_region), label=N_("Local storage country"), kind="region",
       placeholder=N_("e.g. DE; empty: none"), steps=("00_plan", "08_register")),
    _p("shares_whatsapp_business_app", "bool", False,
       "True when the number is shared with the WhatsApp Business app (20 mps)", _flag("shares_whatsapp_business_app"),
       label=N_("Shared with the WhatsApp Business app"), kind="bool", steps=("00_plan",)),
    _p("show_all_columns", "bool", False, "True: the numbers table shows every column; False: the compact readiness view",
       _flag("show_all_columns"), label=N_("Every column of the numbers table"), kind="bool", steps=("06_phone_numbers",),
       profile=False),
    _p("verification_code", "str", "", "the code from the SMS or voice call, when the number needs verifying",
       _optional(validate.verification_code), label=N_("Code from the SMS"), kind="code",
       placeholder=N_("only when the number needs verifying"), steps=("08_register",), profile=False),
    # Solution Partner steps (07a, 07b) and after registration (11, 12)
    _p("partner_business_id", "str", "", "the Solution Partner's business portfolio ID (digits); empty: the customer "
       "pays for its own WABA and 07b is skipped", _id("partner_business_id"), label=N_("Partner business ID"), kind="id",
       steps=_PARTNER_STEPS),
    _p("partner_token_env", "str", "", "NAME of the environment variable holding the partner's system user token "
       "(credit line, system user); empty: token_env", _env("partner_token_env"), label=N_("Partner token"), kind="secret",
       steps=_PARTNER_STEPS, secret="token", what=N_("partner's access token")),
    _p("system_user_id", "str", "", "ID of the system user to assign to the WABA (digits); empty: the partner token's own",
       _id("system_user_id"), label=N_("System user ID"), kind="id", steps=("07a_system_user",)),
    _p("assigned_tasks", "list", ["MANAGE"], "tasks for that system user: MANAGE, or granular ones (MANAGE_TEMPLATES, "
       "MANAGE_PHONE, MANAGE_BILLING, ...) for a WABA shared through a Multi-Partner Solution", _tasks,
       label=N_("Tasks"), kind="list", placeholder="MANAGE", steps=("07a_system_user",)),
    _p("credit_line_id", "str", "", "the partner's extended credit line ID (digits); empty: found on partner_business_id",
       _id("credit_line_id"), label=N_("Credit line ID"), kind="id", steps=("07b_credit_line",)),
    _p("waba_currency", "str", "", "currency the credit line bills the WABA in: USD, EUR, INR, IDR, GBP or AUD; "
       "empty: the WABA's own currency", _optional(_currency, empty=""), label=N_("WABA currency"), kind="choice",
       options=("",) + CREDIT_CURRENCIES, steps=("07b_credit_line",)),
    _p("business_about", "str", "", f"the profile's About text (at most {ABOUT_MAX} characters); empty: left as is",
       _optional(_about, empty=""), label=N_("About"), steps=("11_business_profile",)),
    _p("business_address", "str", "", "the business address consumers see (at most 256 characters)",
       _optional(_limited("business_address", 256), empty=""), label=N_("Address"), steps=("11_business_profile",)),
    _p("business_description", "str", "", "the business description (at most 512 characters)",
       _optional(_limited("business_description", 512), empty=""), label=N_("Description"), steps=("11_business_profile",)),
    _p("business_email", "str", "", "contact email consumers see", _optional(_email, empty=""), label=N_("Email"),
       placeholder="contact@example.com", steps=("11_business_profile",)),
    _p("business_websites", "list", [], f"at most {WEBSITES_MAX} website URLs (http:// or https://)",
       _optional(_websites, empty=[]), label=N_("Websites"), kind="list", placeholder="https://example.com",
       steps=("11_business_profile",)),
    _p("business_vertical", "str", "", "the business's industry, one of Meta's verticals (e.g. HEALTH, RETAIL)",
       _optional(_vertical, empty=""), label=N_("Industry (vertical)"), steps=("11_business_profile",)),
    _p("first_template_name", "str", "", "the customer's first utility template (lowercase, digits, _); empty: only list",
       _optional(_template_name, empty=""), label=N_("First template name"), steps=("12_templates",)),
    _p("first_template_language", "str", "en_US", "its language code, e.g. en_US or de",
       _optional(_template_language, empty="en_US"), label=N_("Its language"), steps=("12_templates",)),
    _p("first_template_body", "str", "", "its body text; variables numbered {{1}}, {{2}}, ...",
       _optional(_template_body, empty=""), label=N_("First template body"), steps=("12_templates",)),
    _p("template_wait_seconds", "float", 120.0, "seconds to wait for the template's review (still pending then: "
       "the step passes and resume checks again)", _number("template_wait_seconds"), label=N_("Wait for review (seconds)"),
       kind="number", steps=("12_templates",)),
    _p("signup_code", "str", "", "Embedded Signup code to exchange for the business token (single-use, expires in seconds)",
       _text, label=N_("Embedded Signup code"), placeholder=N_("optional; single-use"), steps=("03_access_token",), profile=False),
)}

# Profile keys that are not notebook parameters (kept apart so a notebook variable of that name is no parameter).
PROFILE_ONLY: dict[str, Param] = {p.name: p for p in (
    _p("customer", "str", "", "slug of the customer, used for run folders", _slug),
    _p("notes", "str", "", "free text for the people running the onboarding", _text),
)}

SHARED = tuple(p.name for p in PARAMS.values() if ALL in p.steps)
SECRET_ENV_PARAMS = tuple(p.name for p in PARAMS.values() if p.secret)
# *_env parameters that, left empty, name the same variable as another one (the partner's token: the step's own).
SECRET_ENV_SAME_AS = {"partner_token_env": "token_env"}


def env_name_of(params: Mapping[str, Any], key: str) -> str:
    """The variable a *_env parameter names, following SECRET_ENV_SAME_AS when it is left empty."""
    return str(params.get(key) or params.get(SECRET_ENV_SAME_AS.get(key, ""), "") or "")
PROFILE_RULES = {name: p for name, p in {**PARAMS, **PROFILE_ONLY}.items() if p.profile}
PROFILE_KEYS = frozenset(PROFILE_RULES)
ENV_FALLBACKS = {"profile": "PLAYBOOK_PROFILE", "graph_url": "PLAYBOOK_GRAPH_URL", "run_dir": "PLAYBOOK_RUN_DIR",
                 "callback_url": "PLAYBOOK_CALLBACK_URL", "webhook_db": "PLAYBOOK_WEBHOOK_DB"}


@dataclass(frozen=True)
class StepSpec:
    title: str                       # marked N_(): translated where it is shown
    guide_part: str
    required: tuple[str, ...] = ()   # must be set for a headless run
    one_of: tuple[tuple[str, ...], ...] = ()  # each group: at least one set (a group may be a "+"-joined pair)
    secrets: tuple[str, ...] = ()    # *_env parameters whose variable must be set (and well-formed) for a headless run
    when: tuple[str, str] | None = None  # (parameter, value): `required` and `secrets` apply only then

    def applies(self, params: Mapping[str, Any]) -> bool:
        return self.when is None or params.get(self.when[0]) == self.when[1]

    @property
    def params(self) -> tuple[str, ...]:
        """The step's own parameters (after the shared ones), from the registry's `steps`."""
        name = next(n for n, s in STEPS.items() if s is self)
        return tuple(p.name for p in PARAMS.values() if name in p.steps)


_PHONE_GIVEN = (("phone_number_id", "waba_id+display_phone_number"),)

STEPS: dict[str, StepSpec] = {
    "00_plan": StepSpec(N_("Prepare and plan"), "Phase 1"),
    "01_assets": StepSpec(N_("Assets"), "Phase 2", required=("waba_id",), secrets=("token_env",)),
    "02_terms": StepSpec(N_("Terms of Service"), "Phase 3"),
    "03_access_token": StepSpec(N_("System user access token"), "Step 1", secrets=("token_env",)),
    "04_webhooks": StepSpec(N_("Webhooks"), "Step 2", required=("app_id",), secrets=("app_secret_env", "verify_token_env")),
    "05_subscribe_waba": StepSpec(N_("Subscribe the app to the WABA"), "Step 3", required=("waba_id",),
                                  secrets=("token_env",)),
    "06_phone_numbers": StepSpec(N_("Phone number ID"), "Step 4", required=("waba_id",),
                                 one_of=(("display_phone_number", "phone_number_id"),), secrets=("token_env",)),
    "07_migration": StepSpec(N_("On-Premises to Cloud API migration (legacy)"), "Step 4 exception",
                             required=("backup_data",), secrets=("token_env", "pin_env", "backup_password_env"),
                             when=("onboarding", "migrate")),
    "07a_system_user": StepSpec(N_("Assign the system user to the WABA"), "Solution Partner", required=("waba_id",),
                                secrets=("token_env",)),
    "07b_credit_line": StepSpec(N_("Share and attach the credit line"), "Solution Partner", required=("waba_id",),
                                secrets=("token_env",)),
    "08_register": StepSpec(N_("Register the number"), "Step 5", one_of=_PHONE_GIVEN, secrets=("token_env", "pin_env")),
    "09_receive_message": StepSpec(N_("Receive a message"), "Step 6", required=("consumer_number",), one_of=_PHONE_GIVEN,
                                   secrets=("token_env",)),
    "10_send_test_message": StepSpec(N_("Send a test message"), "Step 7", required=("consumer_number",),
                                     one_of=_PHONE_GIVEN, secrets=("token_env",)),
    "11_business_profile": StepSpec(N_("Business profile"), "After registration", one_of=_PHONE_GIVEN,
                                    secrets=("token_env",)),
    "12_templates": StepSpec(N_("Message templates"), "Before going live", required=("waba_id",), secrets=("token_env",)),
    "13_go_live": StepSpec(N_("Go-live health check"), "Going live", one_of=_PHONE_GIVEN, secrets=("token_env",)),
}


# ---- derived ---------------------------------------------------------------------------------
def clean(name: str, value: Any) -> Any:
    """One parameter's value, validated and normalised by its registry entry."""
    return PARAMS[name].clean(value)


def clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise parameter values (formats only; presence is checked per step)."""
    return {key: (PARAMS[key].clean(value) if key in PARAMS else value) for key, value in params.items()}


def secret_problem(param: str, env: str, environ: Mapping[str, str]) -> str | None:
    """What is wrong with the secret that `param` names by `env` (unset, malformed), as a phrase; None when fine.

    Never includes the value.
    """
    value = str(environ.get(env, ""))
    if not value.strip():
        return _("environment variable {env} (named by {param}) is not set").format(env=env, param=param)
    check = SECRET_FORMS.get(PARAMS[param].secret)
    problem = check(value.strip()) if check else None  # surrounding whitespace is stripped where it is used
    if problem:
        return _(problem).format(what=_(PARAMS[param].what or N_("secret")), env=env, param=param)
    return None


def notebook_parameters(step_name: str) -> list[Param]:
    """The parameters a step notebook declares, in order: shared first, then its own."""
    step_spec(step_name)
    return [PARAMS[n] for n in SHARED] + [p for p in PARAMS.values() if step_name in p.steps]


def parameters_cell(step_name: str) -> str:
    """Source of the notebook's `parameters` cell (typed and commented for `papermill --help-notebook`)."""
    return CELL_HEADER + "\n".join(f"{p.name}: {p.type} = {p.default!r}  # {p.help}"
                                   for p in notebook_parameters(step_name))


CELL_HEADER = ("# Parameters: papermill injects values after this cell; a parameter left at its default\n"
               "# takes the profile's value (see docs/notebooks.md).\n")


def step_spec(step_name: str) -> StepSpec:
    """The registry's entry for a step; ConfigError naming the steps when there is none."""
    if step_name not in STEPS:
        raise ConfigError(_("unknown step {step}; steps are {steps}.").format(step=repr(step_name),
                                                                             steps=", ".join(STEPS)))
    return STEPS[step_name]


# ---- the notebooks' parameters cells ---------------------------------------------------------
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def _parameters_cell_index(nb: dict) -> int:
    tagged = [i for i, c in enumerate(nb["cells"]) if "parameters" in (c.get("metadata", {}).get("tags") or [])]
    if len(tagged) != 1:
        raise ConfigError(_("expected one cell tagged 'parameters', found {count}").format(count=len(tagged)))
    return tagged[0]


def stale_notebooks(notebooks_dir: Path = NOTEBOOKS_DIR, write: bool = False) -> list[Path]:
    """Step notebooks whose `parameters` cell differs from the registry's (rewritten when `write`)."""
    stale = []
    for name in STEPS:
        path = notebooks_dir / f"{name}.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = nb["cells"][_parameters_cell_index(nb)]
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        wanted = parameters_cell(name)
        if source != wanted:
            stale.append(path)
            if write:
                cell["source"] = wanted.splitlines(keepends=True)
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.parameters",
                                     description="Check (or rewrite) the notebooks' parameters cells from the registry.")
    parser.add_argument("--write-notebooks", action="store_true", help="rewrite the cells that differ")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR)
    args = parser.parse_args(argv)
    stale = stale_notebooks(args.notebooks, write=args.write_notebooks)
    for path in stale:
        print(f"{'rewrote' if args.write_notebooks else 'differs'}: {path}")
    return 1 if stale and not args.write_notebooks else 0


if __name__ == "__main__":
    sys.exit(main())
