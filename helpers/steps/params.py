"""The parameter registry: every parameter a step notebook may declare, and each step's spec.

`PARAMS` holds each parameter's name, type, default and help; `STEPS` says, per step notebook,
its title, the guide's part, its own parameters (after the `SHARED` ones) and what a headless
run must have. `parameters_cell` writes a notebook's `parameters` cell from them; a test keeps
the notebooks' cells identical to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..versions import DEFAULT_API_VERSION


# ---- parameters ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    help: str


def _p(name: str, type_: str, default: Any, help_: str) -> Param:
    return Param(name, type_, default, help_)


PARAMS: dict[str, Param] = {p.name: p for p in (
    _p("profile", "str", "", "customer profile YAML (e.g. ../customers/example.yaml); fills parameters left at their defaults"),
    _p("graph_url", "str", "https://graph.facebook.com", "Graph API base URL; the sandbox's URL for training and tests"),
    _p("api_version", "str", DEFAULT_API_VERSION, "Graph API version, vNN.0"),
    _p("token_env", "str", "WHATSAPP_TOKEN", "NAME of the environment variable holding the system user access token"),
    _p("waba_id", "str", "", "WhatsApp Business Account ID (digits)"),
    _p("phone_number_id", "str", "", "phone number ID (digits); found by 06_phone_numbers"),
    _p("app_id", "str", "", "Meta app ID (digits)"),
    _p("business_id", "str", "", "Business Manager (business portfolio) ID (digits)"),
    _p("interactive", "bool", True, "True in JupyterLab (forms shown); False in batch runs: nothing waits for input"),
    _p("run_dir", "str", "", "folder for this step's JSON result record; empty: no record"),
    _p("display_phone_number", "str", "", "the business number to onboard, e.g. +1 555-010-0001"),
    _p("pin_env", "str", "WHATSAPP_PIN", "NAME of the environment variable holding the 6-digit two-step verification PIN"),
    _p("consumer_number", "str", "", "a consumer WhatsApp number for the test messages, with country code"),
    _p("callback_url", "str", "", "webhook callback URL (HTTPS on the internet); empty on the sandbox: start a local receiver"),
    _p("verify_token_env", "str", "WHATSAPP_VERIFY_TOKEN", "NAME of the environment variable holding the webhook verify token"),
    _p("app_secret_env", "str", "WHATSAPP_APP_SECRET", "NAME of the environment variable holding the app secret"),
    _p("backup_password_env", "str", "WHATSAPP_BACKUP_PASSWORD",
       "NAME of the environment variable holding the On-Premises backup password"),
    _p("backup_data", "str", "", "the On-Premises backup data (from POST /v1/settings/backup), for migration only"),
    _p("message_text", "str", "hello world!", "text of the test message sent inside the 24-hour window"),
    _p("template_name", "str", "hello_world", "approved template sent outside the 24-hour window"),
    _p("template_language", "str", "en_US", "language code of that template"),
    _p("wait_seconds", "float", 60.0, "seconds to wait for a webhook (the consumer's message, a status)"),
    _p("onboarding", "str", "new", "new (Embedded Signup) or migrate (from the On-Premises API, legacy)"),
    _p("expected_peak_mps", "float", 0.0, "expected combined peak messages per second (text + media, in + out)"),
    _p("compliance", "list", [], "compliance needs, e.g. ['GDPR', 'SOC 2', 'local storage']"),
    _p("features", "list", [], "features the customer uses, e.g. ['text', 'templates', 'media']"),
    _p("data_localization_region", "str", "", "2-letter country code for Local Storage at registration; empty: none"),
    _p("shares_whatsapp_business_app", "bool", False, "True when the number is shared with the WhatsApp Business app (20 mps)"),
    _p("webhook_db", "str", "", "SQLite file of the webhook receiver's store; empty: run_dir/webhooks.sqlite"),
    _p("verification_code", "str", "", "the code from the SMS or voice call, when the number needs verifying"),
    _p("signup_code", "str", "", "Embedded Signup code to exchange for the business token (single-use, expires in seconds)"),
)}

SHARED = ("profile", "graph_url", "api_version", "token_env", "waba_id", "phone_number_id", "app_id", "business_id",
          "interactive", "run_dir")
SECRET_ENV_PARAMS = ("token_env", "pin_env", "app_secret_env", "verify_token_env", "backup_password_env")
ENV_FALLBACKS = {"profile": "PLAYBOOK_PROFILE", "graph_url": "PLAYBOOK_GRAPH_URL", "run_dir": "PLAYBOOK_RUN_DIR",
                 "callback_url": "PLAYBOOK_CALLBACK_URL", "webhook_db": "PLAYBOOK_WEBHOOK_DB"}


@dataclass(frozen=True)
class StepSpec:
    title: str
    guide_part: str
    params: tuple[str, ...]          # step-specific parameters, after the shared ones
    required: tuple[str, ...] = ()   # must be set for a headless run
    one_of: tuple[tuple[str, ...], ...] = ()  # each group: at least one set (a group may be a "+"-joined pair)
    secrets: tuple[str, ...] = ()    # *_env parameters whose variable must be set for a headless run


STEPS: dict[str, StepSpec] = {
    "00_plan": StepSpec("Prepare and plan", "Phase 1",
                        ("onboarding", "expected_peak_mps", "compliance", "features", "data_localization_region",
                         "shares_whatsapp_business_app")),
    "01_assets": StepSpec("Assets", "Phase 2", ("app_secret_env", "display_phone_number", "consumer_number"),
                          required=("waba_id",), secrets=("token_env",)),
    "02_terms": StepSpec("Terms of Service", "Phase 3", ()),
    "03_access_token": StepSpec("System user access token", "Step 1", ("app_secret_env", "signup_code"),
                                secrets=("token_env",)),
    "04_webhooks": StepSpec("Webhooks", "Step 2", ("callback_url", "verify_token_env", "app_secret_env", "webhook_db"),
                            required=("app_id",), secrets=("app_secret_env", "verify_token_env")),
    "05_subscribe_waba": StepSpec("Subscribe the app to the WABA", "Step 3", (), required=("waba_id",),
                                  secrets=("token_env",)),
    "06_phone_numbers": StepSpec("Phone number ID", "Step 4", ("display_phone_number",), required=("waba_id",),
                                 one_of=(("display_phone_number", "phone_number_id"),), secrets=("token_env",)),
    "07_migration": StepSpec("On-Premises to Cloud API migration (legacy)", "Step 4 exception",
                             ("onboarding", "display_phone_number", "pin_env", "backup_data", "backup_password_env")),
    "08_register": StepSpec("Register the number", "Step 5",
                            ("display_phone_number", "pin_env", "verification_code", "data_localization_region"),
                            one_of=(("phone_number_id", "waba_id+display_phone_number"),),
                            secrets=("token_env", "pin_env")),
    "09_receive_message": StepSpec("Receive a message", "Step 6",
                                   ("consumer_number", "display_phone_number", "webhook_db", "wait_seconds"),
                                   required=("consumer_number",),
                                   one_of=(("phone_number_id", "waba_id+display_phone_number"),),
                                   secrets=("token_env",)),
    "10_send_test_message": StepSpec("Send a test message", "Step 7",
                                     ("consumer_number", "display_phone_number", "message_text", "template_name",
                                      "template_language", "webhook_db", "wait_seconds"),
                                     required=("consumer_number",),
                                     one_of=(("phone_number_id", "waba_id+display_phone_number"),),
                                     secrets=("token_env",)),
}


def notebook_parameters(step_name: str) -> list[Param]:
    """The parameters a step notebook declares, in order: shared first, then its own."""
    spec = _spec(step_name)
    return [PARAMS[n] for n in SHARED] + [PARAMS[n] for n in spec.params]


def parameters_cell(step_name: str) -> str:
    """Source of the notebook's `parameters` cell (typed and commented for `papermill --help-notebook`)."""
    return "\n".join(f"{p.name}: {p.type} = {p.default!r}  # {p.help}" for p in notebook_parameters(step_name))


def _spec(step_name: str) -> StepSpec:
    if step_name not in STEPS:
        raise ConfigError(f"unknown step {step_name!r}; steps are {', '.join(STEPS)}.")
    return STEPS[step_name]
