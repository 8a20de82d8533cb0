"""The glue between a step notebook and the library: parameters, validation, actions, records.

Each notebook starts with::

    step = Step.start("06_phone_numbers", globals())

which reads the notebook's parameters, fills the ones left at their defaults from the customer
profile (then from earlier steps' records in `run_dir`, then from `PLAYBOOK_*` environment
variables), validates them before any network call, and builds `step.client` on first use.
Action cells run inside ``with step.action("list numbers"):`` so that a failure is shown as a
table, written to the result record and re-raised (papermill then marks the notebook failed).
The last cell calls ``step.finish(...)``, which asserts success and writes the "passed" record.

The per-step functions further down (`plan`, `assets`, ..., `send_test_message`) hold each
step's logic; notebooks and the forms' Run buttons call the same function.

Record: ``{run_dir}/{step}.json`` with keys step, customer, status ("passed" | "failed"),
started_at, finished_at, duration_s, outputs (IDs for later steps), facts, error, graph_url,
api_version. Never a secret value: values of the environment variables the step names are
scrubbed from it before writing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pandas as pd
import requests

from . import operations as ops, plan as planning, tables, validate
from .client import GraphClient
from .errors import ConfigError, GraphAPIError, MissingSecretError
from .profiles import load_profile
from .remedies import lookup as lookup_remedy
from .versions import DEFAULT_API_VERSION, version_status

ROOT = Path(__file__).resolve().parent.parent
LOCAL_RUNS = ROOT / "runs" / "local"
GUIDE_API_VERSION = "v19.0"
WINDOW_SECONDS = 24 * 3600
MAX_WAMID_LENGTH = 128
# Phone number fields the steps read and show (readiness columns, 2FA, coexistence, onboarding time).
NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "code_verification_status", "quality_rating",
                 "platform_type", "throughput", "status", "name_status", "new_name_status", "account_mode",
                 "is_pin_enabled", "is_on_biz_app", "last_onboarded_time")
# WABA fields notebook 01 reads (documented on the WhatsAppBusinessAccount node).
WABA_ASSET_FIELDS = ("id", "name", "currency", "timezone_id", "message_template_namespace", "account_review_status",
                     "business_verification_status", "owner_business_info")
CONSUMER_TEST_TEXT = "Hello!"


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


# ---- small utilities -------------------------------------------------------------------------
def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, tuple, dict)) and len(value) == 0)


def _json_default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    return str(value)


def _display(*objects: Any) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        for obj in objects:
            print(obj)
        return
    display(*objects)


def _markdown(text: str) -> None:
    try:
        from IPython.display import Markdown
        _display(Markdown(text))
    except ImportError:  # pragma: no cover
        print(text)


def _resolve_path(text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_absolute() or path.exists():
        return path
    for base in (ROOT, ROOT / "notebooks"):
        if (base / path).exists():
            return base / path
    return path


def terms_not_accepted(error: Any) -> bool:
    """True when an error (GraphAPIError or its record) says the Terms of Service are not accepted."""
    if isinstance(error, GraphAPIError):
        error = error.to_record() | {"error_user_msg": error.error_user_msg}
    if not isinstance(error, Mapping):
        return False
    text = " ".join(str(error.get(k) or "") for k in ("message", "details", "error_user_msg", "title"))
    return bool(re.search(r"terms of service|terms and conditions", text, re.I))


TERMS_REMEDY = ("The business has not accepted the WhatsApp Business Platform Terms of Service. The developer "
                "accepts them in WhatsApp Manager (the banner at the top; Business settings shows it too); a "
                "partner's customers need not. Then run 08_register again. See 02_terms.")


# ---- the Step --------------------------------------------------------------------------------
class Step:
    """One step notebook's run: its parameters, Graph client, actions and result record."""

    def __init__(self, name: str, params: dict[str, Any], *, profile: Mapping[str, Any] | None = None,
                 sources: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.spec = _spec(name)
        self.params = dict(params)
        self.profile = dict(profile or {})
        self.sources = dict(sources or {})
        self.customer = str(self.profile.get("customer") or "adhoc")
        self._started = time.monotonic()
        self.record: dict[str, Any] = {
            "step": name, "customer": self.customer, "status": "running", "started_at": _now_iso(),
            "finished_at": None, "duration_s": None, "outputs": {}, "facts": {}, "error": None,
            "graph_url": self.params.get("graph_url"), "api_version": self.params.get("api_version"),
        }
        self._client: GraphClient | None = None
        self._client_key: tuple | None = None
        self._sandbox: Any = None
        self._sandbox_checked_for: str | None = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def start(cls, name: str, namespace: Mapping[str, Any], *, show: bool = True) -> "Step":
        """Read parameters from the notebook's namespace (or a dict), fill and validate them.

        A parameter left at its default takes, in order: the profile's value, an earlier step's
        output recorded in run_dir, a PLAYBOOK_* environment variable (profile, graph_url,
        run_dir, callback_url, webhook_db). Headless runs (interactive=False) must have every
        required ID and secret; interactive ones may fill them in the form.
        Raises ConfigError (after writing a failed record when run_dir is known).
        """
        spec = _spec(name)
        declared = [p.name for p in notebook_parameters(name)]
        names = declared + [n for n in PARAMS if n in namespace and n not in declared]
        raw = {n: namespace.get(n, PARAMS[n].default) for n in names}
        sources = {n: ("given" if not _same(raw[n], PARAMS[n].default) else "default") for n in names}
        step = cls(name, raw, sources=sources)
        try:
            step._fill_and_validate()
        except ConfigError as exc:
            step._fail(exc, "check the parameters")
            raise
        if show:
            step.show_parameters()
        if not step.params["interactive"]:
            try:
                step.check_ready()
            except ConfigError as exc:
                step._fail(exc, "check the parameters")
                raise
        else:
            missing = step.missing()
            if missing:
                _markdown("**To fill in the form below:** " + "; ".join(missing))
        return step

    def _fill_and_validate(self) -> None:
        params, sources = self.params, self.sources
        if sources.get("profile") == "default" and os.environ.get(ENV_FALLBACKS["profile"]):
            params["profile"], sources["profile"] = os.environ[ENV_FALLBACKS["profile"]], "env"
        if params.get("profile"):
            self.profile = load_profile(_resolve_path(str(params["profile"])))
            self.customer = str(self.profile.get("customer"))
            self.record["customer"] = self.customer
            for key in params:
                if sources[key] == "default" and not _is_empty(self.profile.get(key)):
                    params[key], sources[key] = self.profile[key], "profile"
        if sources.get("run_dir") == "default" and os.environ.get(ENV_FALLBACKS["run_dir"]):
            params["run_dir"], sources["run_dir"] = os.environ[ENV_FALLBACKS["run_dir"]], "env"
        for key, value in self.earlier_outputs().items():
            if key in params and sources[key] == "default":
                params[key], sources[key] = value, "earlier step"
        for key, env in ENV_FALLBACKS.items():
            if key in params and sources[key] == "default" and os.environ.get(env):
                params[key], sources[key] = os.environ[env], "env"
        self.params = clean_params(params)
        self.record["graph_url"] = self.params.get("graph_url")
        self.record["api_version"] = self.params.get("api_version")

    def earlier_outputs(self) -> dict[str, Any]:
        """Outputs of the passed records of earlier steps in run_dir (later steps win)."""
        run_dir = self.params.get("run_dir")
        if not run_dir or not Path(run_dir).is_dir():
            return {}
        merged: dict[str, Any] = {}
        for path in sorted(Path(run_dir).glob("[0-9][0-9]_*.json")):
            if path.stem >= self.name:
                continue
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("status") == "passed":
                merged.update(record.get("outputs") or {})
        return merged

    def missing(self) -> list[str]:
        """What a headless run would refuse: required IDs and unset secret variables, as sentences."""
        problems = []
        for name in self.spec.required:
            if _is_empty(self.params.get(name)):
                problems.append(f"{name} is empty ({PARAMS[name].help})")
        for group in self.spec.one_of:
            if not any(all(not _is_empty(self.params.get(n)) for n in option.split("+")) for option in group):
                problems.append(" or ".join(option.replace("+", " and ") for option in group) + " must be given")
        for env_param in self.spec.secrets:
            if env_param == "token_env" and self.params.get("signup_code"):
                continue  # the code exchange puts the token there
            env = self.params.get(env_param)
            if not os.environ.get(str(env), "").strip():
                problems.append(f"environment variable {env} (named by {env_param}) is not set")
        if self.params.get("signup_code"):
            if _is_empty(self.params.get("app_id")):
                problems.append("app_id is empty (needed to exchange signup_code)")
            env = self.params.get("app_secret_env")
            if not os.environ.get(str(env), "").strip():
                problems.append(f"environment variable {env} (named by app_secret_env) is not set")
        if self.name == "07_migration" and self.params.get("onboarding") == "migrate":
            for env_param in ("token_env", "pin_env", "backup_password_env"):
                env = self.params.get(env_param)
                if not os.environ.get(str(env), "").strip():
                    problems.append(f"environment variable {env} (named by {env_param}) is not set")
            if _is_empty(self.params.get("backup_data")):
                problems.append("backup_data is empty (the data from the On-Premises backup)")
        return problems

    def check_ready(self) -> None:
        """ConfigError listing everything missing for this step (before any network call)."""
        problems = self.missing()
        if problems:
            raise ConfigError(f"{self.name} cannot run: " + "; ".join(problems) + ".")

    def require(self, *names: str) -> list[Any]:
        """The values of these parameters; ConfigError naming the empty ones."""
        empty = [n for n in names if _is_empty(self.params.get(n))]
        if empty:
            raise ConfigError(", ".join(empty) + (" is" if len(empty) == 1 else " are") + " empty: set "
                              + ("it" if len(empty) == 1 else "them") + " in the form, the profile or the parameters.")
        return [self.params[n] for n in names]

    def update(self, **values: Any) -> None:
        """Change parameters (the form does this before running); validated like at start."""
        merged = {**self.params, **values}
        self.params = clean_params(merged)
        for key in values:
            self.sources[key] = "form"

    # -- what the step talks to ----------------------------------------------------------------
    @property
    def client(self) -> GraphClient:
        """The Graph client for the current graph_url / api_version / token_env (built on first use)."""
        key = (self.params["graph_url"], self.params["api_version"], self.params["token_env"])
        if self._client is None or self._client_key != key:
            self._client = GraphClient(graph_url=key[0], api_version=key[1], token_env=key[2])
            self._client_key = key
        return self._client

    @property
    def sandbox(self):
        """A SandboxControl when graph_url is the playbook's sandbox (on loopback, answering /_sandbox/), else None."""
        url = self.params["graph_url"]
        if self._sandbox_checked_for != url:
            self._sandbox_checked_for = url
            self._sandbox = sandbox_control(url)
        return self._sandbox

    @property
    def on_sandbox(self) -> bool:
        return self.sandbox is not None

    # -- actions, outputs, records ---------------------------------------------------------------
    @contextlib.contextmanager
    def action(self, label: str) -> Iterator["Step"]:
        """Run a block as one named action: on error, record it, show it, write the record, re-raise."""
        started = time.monotonic()
        entry = {"action": label, "status": "running"}
        self.record["facts"].setdefault("actions", []).append(entry)
        try:
            yield self
        except Exception as exc:
            entry.update(status="failed", duration_s=round(time.monotonic() - started, 3))
            if not getattr(exc, "_playbook_recorded", False):
                self._fail(exc, label)
            raise
        entry.update(status="done", duration_s=round(time.monotonic() - started, 3))

    def retry(self) -> None:
        """Forget an earlier failure before running the step's action again (form Run, re-run cell)."""
        if self.record["status"] == "failed":
            self.record.update(status="running", error=None, finished_at=None, duration_s=None)
            self.record["facts"].pop("failed_action", None)

    def output(self, **values: Any) -> None:
        """IDs found or created: later steps receive these as parameters."""
        for key, value in values.items():
            if value is None:
                continue
            self.record["outputs"][key] = value
            if key in PARAMS:
                self.params[key] = value

    def fact(self, **facts: Any) -> None:
        """Details for the record and the batch summary (statuses, counts, verdicts)."""
        self.record["facts"].update(facts)

    def finish(self, ok: bool = True, verdict: str = "") -> dict[str, Any]:
        """The last cell: assert the step succeeded, write the "passed" record, show the verdict."""
        if self.record["status"] == "failed":
            raise AssertionError(f"{self.name} failed earlier: {(self.record['error'] or {}).get('message')}")
        if not ok:
            exc = AssertionError(verdict or f"{self.name} did not succeed")
            self._fail(exc, "final check", error={"type": "StepCheckFailed", "message": verdict})
            raise exc
        self.record["status"] = "passed"
        self._close()
        if verdict:
            self.fact(verdict=verdict)
        self.write()
        _markdown(f"### ✅ {self.name}: passed\n{verdict}")
        return self.record

    def _close(self) -> None:
        self.record["finished_at"] = _now_iso()
        self.record["duration_s"] = round(time.monotonic() - self._started, 3)

    def _fail(self, exc: BaseException, label: str, error: dict | None = None) -> None:
        if isinstance(exc, GraphAPIError):
            error = exc.to_record()
            if terms_not_accepted(exc):
                error["remedy"] = TERMS_REMEDY
                self.fact(terms_of_service_not_accepted=True)
        elif error is None:
            error = {"type": type(exc).__name__, "message": str(exc)}
            if isinstance(exc, MissingSecretError):
                error["env_name"] = exc.env_name
        error["action"] = label
        self.record["error"] = error
        self.record["status"] = "failed"
        self.fact(failed_action=label)
        self._close()
        self.write()
        try:
            exc._playbook_recorded = True  # type: ignore[attr-defined]
        except AttributeError:
            pass
        _markdown(f"### ❌ {self.name}: {label} failed")
        _display(tables.style_error(error_frame(exc, error)))

    @property
    def record_path(self) -> Path | None:
        run_dir = self.params.get("run_dir")
        return Path(run_dir) / f"{self.name}.json" if run_dir else None

    def secret_values(self) -> list[str]:
        """Current values of the environment variables named by *_env parameters (given, profile or default)."""
        names = {str(n) for key in SECRET_ENV_PARAMS
                 for n in (self.params.get(key), self.profile.get(key), PARAMS[key].default) if n}
        values = [os.environ.get(n, "").strip() for n in names]
        return [v for v in values if len(v) >= 4]

    def record_json(self) -> str:
        text = json.dumps(self.record, indent=2, default=_json_default, ensure_ascii=False)
        for secret in sorted(self.secret_values(), key=len, reverse=True):
            for form in {secret, json.dumps(secret, ensure_ascii=False)[1:-1]}:
                text = text.replace(form, "***")
        return text

    def write(self) -> Path | None:
        """Write the record (atomically) when run_dir is set; returns its path."""
        path = self.record_path
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.record_json(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    # -- display ---------------------------------------------------------------------------------
    def parameters_table(self) -> pd.DataFrame:
        rows = []
        for key, value in self.params.items():
            if key in SECRET_ENV_PARAMS:
                shown = f"{value} ({'set' if os.environ.get(str(value), '').strip() else 'NOT set'})"
            else:
                shown = value if not isinstance(value, list) else ", ".join(map(str, value))
            rows.append((key, shown, self.sources.get(key, "")))
        return pd.DataFrame(rows, columns=["parameter", "value", "from"])

    def show_parameters(self) -> None:
        _markdown(f"**{self.name}** ({self.spec.guide_part}: {self.spec.title}) for customer **{self.customer}**"
                  + (" — against the **sandbox**" if self._looks_local() else ""))
        _display(self.parameters_table().set_index("parameter"))

    def _looks_local(self) -> bool:
        return urllib.parse.urlsplit(self.params["graph_url"]).hostname in ("127.0.0.1", "localhost", "::1")

    def __repr__(self) -> str:
        return f"Step({self.name!r}, customer={self.customer!r}, status={self.record['status']!r})"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def error_frame(exc: BaseException, error: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A failure as a (field, value) table: Graph errors with Meta's fields and the remedy."""
    if isinstance(exc, GraphAPIError):
        frame = tables.error_table(exc)
        if error and error.get("remedy") and error["remedy"] != exc.remedy:
            frame.loc[frame["field"] == "remedy", "value"] = error["remedy"]
        return frame
    error = dict(error or {"type": type(exc).__name__, "message": str(exc)})
    error.pop("action", None)
    if isinstance(exc, ConfigError):
        error.setdefault("remedy", "Fix the parameter named above (in the form, the profile or the parameters cell), "
                                   "then re-run.")
    return pd.DataFrame(list(error.items()), columns=["field", "value"])


def clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise parameter values (formats only; presence is checked per step)."""
    out = dict(params)
    if "graph_url" in out:
        out["graph_url"] = validate.url(out["graph_url"], "graph_url")
    if "api_version" in out:
        out["api_version"] = validate.api_version(out["api_version"])
    for key in SECRET_ENV_PARAMS:
        if key in out and not _is_empty(out[key]):
            out[key] = validate.env_name(out[key], key)
    for key in ("waba_id", "phone_number_id", "app_id", "business_id"):
        if key in out and not _is_empty(out[key]):
            out[key] = validate.graph_id(out[key], key)
        elif key in out:
            out[key] = ""
    for key in ("display_phone_number", "consumer_number"):
        if key in out and not _is_empty(out[key]):
            validate.phone_number(out[key], key)
            out[key] = str(out[key]).strip()
    if not _is_empty(out.get("callback_url")):
        out["callback_url"] = validate.url(out["callback_url"], "callback_url")
    if "onboarding" in out:
        out["onboarding"] = str(out["onboarding"] or "new").strip().lower()
        if out["onboarding"] not in ("new", "migrate"):
            raise ConfigError("onboarding must be 'new' or 'migrate'.")
    for key in ("wait_seconds", "expected_peak_mps"):
        if key in out:
            value = out[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
                raise ConfigError(f"{key} must be a non-negative number.")
            out[key] = float(value)
    for key in ("compliance", "features"):
        if key in out:
            value = out[key]
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{key} must be a list, e.g. ['GDPR', 'SOC 2'].")
            out[key] = [str(v) for v in value]
    if not _is_empty(out.get("data_localization_region")):
        region = str(out["data_localization_region"]).strip().upper()
        if len(region) != 2 or not region.isalpha():
            raise ConfigError("data_localization_region must be a 2-letter country code such as DE or IN.")
        out["data_localization_region"] = region
    if not _is_empty(out.get("verification_code")):
        code = re.sub(r"[\s-]", "", str(out["verification_code"]))
        if not code.isdigit() or not 4 <= len(code) <= 8:
            raise ConfigError("verification_code must be the digits from the SMS or call, e.g. 123830 or 123-830.")
        out["verification_code"] = code
    for key in ("interactive", "shares_whatsapp_business_app"):
        if key in out and not isinstance(out[key], bool):
            text = str(out[key]).strip().lower()
            if text not in ("true", "false", "1", "0"):
                raise ConfigError(f"{key} must be True or False.")
            out[key] = text in ("true", "1")
    for key in ("run_dir", "webhook_db", "profile", "backup_data", "signup_code", "message_text",
                "template_name", "template_language"):
        if key in out and out[key] is not None:
            out[key] = str(out[key])
    return out


# ---- the sandbox and the local webhook receiver ----------------------------------------------
def sandbox_control(graph_url: str):
    """SandboxControl for graph_url when it is the playbook's sandbox on loopback, else None."""
    if urllib.parse.urlsplit(graph_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        from .sandbox import SandboxControl
        control = SandboxControl(graph_url)
        control.now()
        return control
    except Exception:
        return None


def default_webhook_db(step: Step) -> Path:
    run_dir = step.params.get("run_dir")
    base = Path(run_dir) if run_dir else LOCAL_RUNS / step.customer
    return base / "webhooks.sqlite"


def webhook_db_path(step: Step) -> Path:
    return Path(step.params["webhook_db"]) if step.params.get("webhook_db") else default_webhook_db(step)


def _receiver_state_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".receiver.json")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie (exited child not yet reaped) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def _handshake_ok(callback_url: str, verify_token: str, timeout: float = 2.0) -> bool:
    try:
        answer = requests.get(callback_url, params={"hub.mode": "subscribe", "hub.verify_token": verify_token,
                                                    "hub.challenge": "4711"}, timeout=timeout)
        return answer.status_code == 200 and answer.text == "4711"
    except requests.RequestException:
        return False


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_local_receiver(db_path: str | Path, *, verify_token_env: str, app_secret_env: str,
                          startup_timeout: float = 30.0) -> dict[str, Any]:
    """A webhook receiver (`python -m helpers webhooks serve`) for db_path, detached so it outlives the kernel.

    Reuses one already serving that store with the current verify token. Returns
    {callback_url, webhook_db, pid, reused, log}. Secrets reach it through the environment only.
    """
    db_path = Path(db_path).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    verify_token = validate.secret_from_env(verify_token_env, "webhook verify token")
    validate.secret_from_env(app_secret_env, "app secret")
    state_path = _receiver_state_path(db_path)
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if _pid_alive(int(state["pid"])) and _handshake_ok(state["callback_url"], verify_token):
                return {**state, "reused": True}
        except (OSError, ValueError, KeyError):
            pass
        stop_local_receiver(db_path)
    port = _free_port()
    log_path = db_path.with_name(db_path.name + ".receiver.log")
    command = [sys.executable, "-m", "helpers", "webhooks", "serve", "--port", str(port), "--host", "127.0.0.1",
               "--verify-token-env", verify_token_env, "--app-secret-env", app_secret_env, "--db", str(db_path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    callback_url = f"http://127.0.0.1:{port}/webhook"
    deadline = time.monotonic() + startup_timeout
    while not _handshake_ok(callback_url, verify_token, timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.terminate()
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-800:] if log_path.exists() else ""
            raise RuntimeError(f"the local webhook receiver did not start on port {port}. Its log ({log_path}) ends:\n{tail}")
        time.sleep(0.1)
    state = {"pid": process.pid, "port": port, "callback_url": callback_url, "webhook_db": str(db_path),
             "log": str(log_path)}
    state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return {**state, "reused": False}


def stop_local_receiver(db_path: str | Path, timeout: float = 5.0) -> bool:
    """Stop the receiver that ensure_local_receiver started for db_path; True if one was stopped."""
    state_path = _receiver_state_path(Path(db_path).resolve())
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError):
        return False
    stopped = False
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            stopped = True
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    state_path.unlink(missing_ok=True)
    return stopped


# ---- shared lookups ---------------------------------------------------------------------------
def resolve_phone_number(step: Step) -> dict[str, Any]:
    """The number to work on: by phone_number_id, else found in the WABA by display_phone_number."""
    if step.params.get("phone_number_id"):
        number = ops.get_phone_number(step.client, step.params["phone_number_id"], fields=NUMBER_FIELDS)
    else:
        waba_id, display = step.require("waba_id", "display_phone_number")
        numbers = ops.list_phone_numbers(step.client, waba_id, fields=NUMBER_FIELDS)
        number = ops.find_phone_number(numbers, display_phone_number=display)
    step.output(phone_number_id=str(number["id"]))
    return number


def _status_of(number: Mapping[str, Any]) -> dict[str, Any]:
    return {k: number.get(k) for k in ("code_verification_status", "status", "platform_type", "name_status",
                                       "quality_rating", "is_pin_enabled")}


def now_epoch(step: Step) -> float:
    """Now on the clock that timestamps the messages: the sandbox's when on the sandbox."""
    if step.sandbox is not None:
        try:
            return float(step.sandbox.now())
        except Exception:
            pass
    return time.time()


def _epoch(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(value).timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return pd.Timestamp(value).timestamp()


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


def step_action(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Marks a step's action function: a new run of it starts clean (an earlier failure is forgotten)."""
    import functools

    @functools.wraps(func)
    def run(step: Step, *args: Any, **kwargs: Any) -> dict[str, Any]:
        step.retry()
        return func(step, *args, **kwargs)
    return run


# ---- 00 plan -------------------------------------------------------------------------------------
@step_action
def plan(step: Step) -> dict[str, Any]:
    """Phase 1: the decision table, the recommendation and this customer's steps (no network)."""
    p = step.params
    with step.action("decide new or migrate; check throughput, compliance, features"):
        decisions = planning.decision_table(
            onboarding=p["onboarding"], expected_peak_mps=p["expected_peak_mps"], compliance=p["compliance"],
            features=p["features"], data_localization_region=p["data_localization_region"],
            shares_whatsapp_business_app=p["shares_whatsapp_business_app"])
        result = {
            "decisions": decisions,
            "throughput": planning.throughput_table(p["expected_peak_mps"],
                                                    shares_whatsapp_business_app=p["shares_whatsapp_business_app"]),
            "compliance": planning.compliance_table(p["compliance"], p["data_localization_region"]),
            "features": planning.features_table(p["features"]),
            "steps": planning.plan_steps(p["onboarding"]),
            "checklist": planning.planning_checklist(),
            "recommendation": planning.recommendation(decisions),
        }
        result.update(ok=True, verdict=result["recommendation"])
    tput = planning.throughput_verdict(p["expected_peak_mps"], shares_whatsapp_business_app=p["shares_whatsapp_business_app"])
    step.fact(onboarding=p["onboarding"], path=planning.onboarding_path(p["onboarding"])["path"],
              expected_peak_mps=p["expected_peak_mps"], numbers_needed=tput["numbers_needed"],
              verdicts=dict(zip(decisions["question"], decisions["verdict"])),
              recommendation=result["recommendation"])
    step.output(onboarding=p["onboarding"])
    return result


# ---- 01 assets -----------------------------------------------------------------------------------
def _token_report(step: Step) -> dict[str, Any]:
    p = step.params
    use_app_token = bool(p.get("app_id") and p.get("app_secret_env") and os.environ.get(p["app_secret_env"], "").strip())
    return ops.check_token(step.client, app_id=p.get("app_id") or None,
                           app_secret_env=p["app_secret_env"] if use_app_token else None,
                           waba_id=p.get("waba_id") or None)


@step_action
def assets(step: Step) -> dict[str, Any]:
    """Phase 2: what the API can show (token's app and type, the WABA, its numbers) and a checklist for the rest."""
    (waba_id,) = step.require("waba_id")
    with step.action("debug the token"):
        report = _token_report(step)
    with step.action("read the WABA"):
        waba = ops.get_waba(step.client, waba_id, fields=WABA_ASSET_FIELDS)
    with step.action("list the WABA's phone numbers"):
        numbers = tables.phone_numbers_table(ops.list_phone_numbers(step.client, waba_id, fields=NUMBER_FIELDS))
    p = step.params
    app_found = report.get("app_id")
    owner = waba.get("owner_business_info") or {}
    business_found = str(owner.get("id") or "")
    picked = numbers[numbers["phone_number_id"] == p["phone_number_id"]] if p.get("phone_number_id") else (
        numbers[numbers["display_phone_number"].map(_digits) == _digits(p["display_phone_number"])]
        if p.get("display_phone_number") else numbers.iloc[0:0])
    has_both_scopes = not report["missing_scopes"]
    checklist = pd.DataFrame([
        ("Business Manager ID saved", "parameters + API",
         "yes" if p.get("business_id") and (not business_found or business_found == p["business_id"])
         else f"NO: the WABA belongs to {business_found}" if p.get("business_id")
         else "no: save it (business_id)", p.get("business_id") or business_found),
        ("WhatsApp Business Account", "API", "yes", f"{waba.get('name')} ({waba_id})"),
        ("Meta app of type Business", "by hand", "confirm", f"app {app_found} ({report.get('application')}): "
         "App Dashboard > Settings > Basic shows the type, display name and contact email"),
        ("App Review: advanced access to whatsapp_business_management and whatsapp_business_messaging",
         "API (scopes) + by hand", "granted to this token" if has_both_scopes else "NO",
         "advanced access is shown in App Dashboard > App Review > Permissions and Features"),
        ("one webhook endpoint per app", "fact", "info", "one app may serve many customers and WABAs"),
        ("an admin system user (use it in production)", "API + by hand",
         "token is a system user" if report["type"] == "SYSTEM_USER" else "NO: token type " + str(report["type"]),
         "Business settings > Users > System users"),
        ("an employee system user", "by hand", "confirm", "Business settings > Users > System users"),
        ("business phone number in the WABA", "API",
         "yes" if len(picked) else ("no" if p.get("display_phone_number") else "pick it in 06"),
         ", ".join(picked["display_phone_number"].astype(str)) or f"{len(numbers)} numbers in the WABA"),
        ("number on one platform at a time (test with a test number first)", "fact", "info",
         "Cloud API or On-Premises, never both"),
        ("consumer phone number for the tests", "parameters", "yes" if p.get("consumer_number") else "no: set consumer_number",
         p.get("consumer_number") or ""),
    ], columns=["asset", "checked_by", "status", "detail"])
    step.fact(token_type=report["type"], token_valid=report["is_valid"], app_id=app_found, business_id=business_found or None,
              application=report.get("application"), waba_name=waba.get("name"), phone_numbers=len(numbers),
              number_found=bool(len(picked)) if p.get("display_phone_number") or p.get("phone_number_id") else None,
              to_confirm_by_hand=checklist.loc[checklist["status"] == "confirm", "asset"].tolist(),
              checklist=dict(zip(checklist["asset"], checklist["status"])))
    if app_found and not p.get("app_id"):
        step.output(app_id=app_found)
    if business_found and not p.get("business_id"):
        step.output(business_id=business_found)
    if len(picked):
        step.output(phone_number_id=str(picked["phone_number_id"].iloc[0]))
    waba_table = pd.DataFrame([(k, json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in waba.items()],
                              columns=["field", "value"])
    ok = report["is_valid"] and str(waba.get("id")) == waba_id
    to_confirm = checklist.loc[checklist["status"] == "confirm", "asset"].tolist()
    verdict = (f"token valid and WABA {waba.get('name')} readable; confirm by hand: {', '.join(to_confirm)}" if ok
               else "NOT ready: " + ("; ".join(report["problems"]) or "the WABA could not be read"))
    return {"token": tables.token_report_table(report), "waba": waba_table, "numbers": numbers,
            "checklist": checklist, "ok": ok, "verdict": verdict, "report": report}


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


# ---- 02 terms ------------------------------------------------------------------------------------
@step_action
def terms(step: Step) -> dict[str, Any]:
    """Phase 3: where to accept the Terms of Service, and whether a register attempt already failed on them."""
    table = pd.DataFrame([
        ("what", "the WhatsApp Business Platform Terms of Service"),
        ("where", "WhatsApp Manager: the banner at the top (also reachable from Business settings)"),
        ("who", "the developer (the partner) accepts them; a partner's customers need not"),
        ("what fails until then", "the register call (08_register, guide step 5): POST /{PHONE_NUMBER_ID}/register"),
        ("how it shows", "a Graph error whose message or details mention the Terms of Service "
                         "(the sandbox answers (#200) Permissions error with that detail)"),
        ("what to do", "accept the Terms in WhatsApp Manager, then run 08_register again"),
    ], columns=["item", "answer"])
    seen = earlier_terms_failure(step)
    step.fact(terms_failure_seen=seen is not None, terms_failure=seen)
    return {"terms": table, "diagnosis": seen, "ok": True,
            "verdict": "accept the Terms in WhatsApp Manager before 08_register"
                       + ("; a register attempt already failed on them" if seen else "")}


def earlier_terms_failure(step: Step) -> dict[str, Any] | None:
    """The error of a register attempt in run_dir that failed because the Terms are not accepted."""
    run_dir = step.params.get("run_dir")
    for name in ("08_register", "07_migration"):
        path = Path(run_dir) / f"{name}.json" if run_dir else None
        if path is None or not path.exists():
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("status") == "failed" and terms_not_accepted(record.get("error") or {}):
            return {"step": name, "finished_at": record.get("finished_at"), **(record.get("error") or {})}
    return None


# ---- 03 access token -------------------------------------------------------------------------
def versions_table(api_version: str) -> pd.DataFrame:
    """The chosen API version against the guide's v19.0 (expired) and the default."""
    rows = []
    for label, version in (("this run", api_version), ("the guide's examples", GUIDE_API_VERSION),
                           ("the playbook's default", DEFAULT_API_VERSION)):
        status = version_status(version)
        rows.append((label, version, status["status"], status["available_until"], status["note"]))
    return pd.DataFrame(rows, columns=["which", "version", "status", "available_until", "note"]).drop_duplicates("version")


@step_action
def access_token(step: Step) -> dict[str, Any]:
    """Step 1: optionally exchange an Embedded Signup code, then debug the token and judge it."""
    p = step.params
    exchanged = None
    if p.get("signup_code"):
        with step.action("exchange the Embedded Signup code"):
            (app_id,) = step.require("app_id")
            exchanged = ops.exchange_signup_code(step.client, app_id=app_id, app_secret_env=p["app_secret_env"],
                                                 code=p["signup_code"], store_in_env=p["token_env"])
        step.params["signup_code"] = ""  # single-use: never reuse it
    with step.action("debug the token"):
        report = _token_report(step)
    version = version_status(p["api_version"])
    step.fact(is_valid=report["is_valid"], type=report["type"], app_id=report["app_id"],
              application=report["application"], expires=report["expires"], scopes=report["scopes"],
              missing_scopes=report["missing_scopes"], waba_in_targets=report["waba_in_targets"],
              problems=report["problems"], api_version_status=version["status"],
              signup_code_exchanged=exchanged is not None)
    if report["app_id"] and not p.get("app_id"):
        step.output(app_id=report["app_id"])
    if not p.get("waba_id") and report["target_ids"] and len(report["target_ids"]) == 1:
        step.output(waba_id=report["target_ids"][0])  # Embedded Signup: the customer's WABA
    ok = report["ok"] and version["status"] != "expired"
    verdict = ("usable for onboarding" if report["ok"] else "NOT usable: " + "; ".join(report["problems"]))
    if version["status"] == "expired":
        verdict += f"; API version {p['api_version']} has expired"
    return {"token": tables.token_report_table(report), "versions": versions_table(p["api_version"]),
            "ok": ok, "verdict": verdict, "report": report}


# ---- 04 webhooks ------------------------------------------------------------------------------
@step_action
def webhooks(step: Step) -> dict[str, Any]:
    """Step 2: check the callback as Meta would, then save it as the app's webhook (messages field)."""
    from .webhooks import check_endpoint

    p = step.params
    (app_id,) = step.require("app_id")
    receiver = None
    callback_url = p.get("callback_url")
    if not callback_url:
        if not step.on_sandbox:
            with step.action("check the callback URL"):
                raise ConfigError("callback_url is empty. Meta needs an internet-facing HTTPS endpoint: give its URL "
                                  "(the local receiver is only started against the sandbox).")
        with step.action("start the local webhook receiver"):
            receiver = ensure_local_receiver(webhook_db_path(step), verify_token_env=p["verify_token_env"],
                                             app_secret_env=p["app_secret_env"])
        callback_url = receiver["callback_url"]
        step.output(callback_url=callback_url, webhook_db=receiver["webhook_db"])
    elif p.get("webhook_db"):
        step.output(callback_url=callback_url, webhook_db=str(Path(p["webhook_db"]).resolve()))
    else:
        step.output(callback_url=callback_url)
    with step.action("check the endpoint as Meta would"):
        checks = check_endpoint(callback_url, verify_token_env=p["verify_token_env"],
                                app_secret_env=p["app_secret_env"], timeout=10.0)
    passed = bool(checks["passed"].all())
    subscription = pd.DataFrame()
    if passed:
        with step.action("save the callback as the app's webhook (messages)"):
            ops.set_app_webhook(step.client, app_id=app_id, app_secret_env=p["app_secret_env"],
                                callback_url=callback_url, verify_token_env=p["verify_token_env"])
        with step.action("read the app's webhook subscription"):
            subscription = subscriptions_table(ops.get_app_webhook(step.client, app_id=app_id,
                                                                   app_secret_env=p["app_secret_env"]))
    saved = bool(len(subscription)) and callback_url in set(subscription["callback_url"])
    step.fact(callback_url=callback_url, local_receiver=receiver is not None,
              receiver_reused=bool(receiver and receiver["reused"]),
              checks_passed=int(checks["passed"].sum()), checks_total=int(len(checks)),
              failed_checks=checks.loc[~checks["passed"], "check"].tolist(), subscription_saved=saved)
    verdict = (f"callback {callback_url} passes every check and is the app's webhook for messages" if passed and saved
               else "the endpoint failed: " + ", ".join(checks.loc[~checks["passed"], "check"]) if not passed
               else "the app's subscription does not show the callback")
    return {"checks": checks, "subscription": subscription, "ok": passed and saved, "verdict": verdict,
            "receiver": receiver}


def subscriptions_table(subscriptions: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for sub in subscriptions:
        fields = sub.get("fields") or []
        names = [f.get("name") if isinstance(f, dict) else str(f) for f in fields]
        rows.append({"object": sub.get("object"), "callback_url": sub.get("callback_url"),
                     "active": sub.get("active"), "fields": ", ".join(n for n in names if n)})
    return pd.DataFrame(rows, columns=["object", "callback_url", "active", "fields"])


# ---- 05 subscribe the app to the WABA -----------------------------------------------------------
@step_action
def subscribe_waba(step: Step) -> dict[str, Any]:
    """Step 3: POST /{waba_id}/subscribed_apps unless already subscribed, then GET to confirm."""
    (waba_id,) = step.require("waba_id")
    app_id = step.params.get("app_id")
    with step.action("read the WABA's subscribed apps"):
        before = ops.list_subscribed_apps(step.client, waba_id)
    already = _app_in(before, app_id) if app_id else bool(before)
    if not already:
        with step.action("subscribe the app to the WABA"):
            answer = ops.subscribe_app(step.client, waba_id)
            if answer.get("success") is not True:
                raise ConfigError(f"subscribed_apps answered {answer!r} instead of success")
    with step.action("confirm with GET subscribed_apps"):
        after = ops.list_subscribed_apps(step.client, waba_id)
    confirmed = _app_in(after, app_id) if app_id else bool(after)
    table = tables.subscribed_apps_table(after)
    step.fact(already_subscribed=already, subscribed=confirmed, subscribed_apps=table["app_id"].tolist())
    return {"apps": table, "ok": confirmed, "already": already,
            "verdict": ("app already subscribed (nothing to do)" if already else "app subscribed")
            if confirmed else f"app {app_id or ''} is not among the WABA's subscribed apps"}


def _app_in(rows: list[dict[str, Any]], app_id: str) -> bool:
    return any(str((row.get("whatsapp_business_api_data") or {}).get("id")) == str(app_id) for row in rows)


# ---- 06 phone numbers -----------------------------------------------------------------------------
@step_action
def phone_numbers(step: Step) -> dict[str, Any]:
    """Step 4: every number of the WABA (all pages) with readiness; picks the one to onboard."""
    (waba_id,) = step.require("waba_id")
    with step.action("list the phone numbers (every page)"):
        numbers = ops.list_phone_numbers(step.client, waba_id, fields=NUMBER_FIELDS)
    table = tables.phone_numbers_table(numbers)
    picked = None
    p = step.params
    if p.get("phone_number_id") or p.get("display_phone_number"):
        with step.action("pick the number to onboard"):
            picked = ops.find_phone_number(numbers, display_phone_number=p.get("display_phone_number", ""),
                                           phone_number_id=p.get("phone_number_id", ""))
        row = table[table["phone_number_id"] == str(picked["id"])].iloc[0]
        step.output(phone_number_id=str(picked["id"]))
        step.fact(picked={"phone_number_id": str(picked["id"]), "display_phone_number": picked.get("display_phone_number"),
                          **_status_of(picked), "ready_to_register": bool(row["ready_to_register"]),
                          "connected": bool(row["connected"])},
                  next_step=_next_for(picked))
    step.fact(phone_numbers=len(table), ready_to_register=int(table["ready_to_register"].sum()),
              connected=int(table["connected"].sum()))
    return {"numbers": table, "picked": picked, "ok": picked is not None,
            "verdict": (f"number {picked.get('display_phone_number')} has ID {picked['id']}: {_next_for(picked)}"
                        if picked else "no number picked: set display_phone_number or phone_number_id")}


def _next_for(number: Mapping[str, Any]) -> str:
    if number.get("platform_type") == "ON_PREMISE":
        return "on the On-Premises API: migrate it (07_migration, legacy) before registering"
    if number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API":
        return "already registered on Cloud API (08 will confirm)"
    if number.get("code_verification_status") != "VERIFIED":
        return "needs verification: 08 requests and verifies a code, then registers"
    return "ready: 08 registers it"


# ---- 07 migration (legacy) ---------------------------------------------------------------------
@step_action
def migration(step: Step) -> dict[str, Any]:
    """Step 4 exception (legacy since the On-Premises sunset on 2025-10-23): register with the backup."""
    p = step.params
    if p["onboarding"] != "migrate":
        step.fact(skipped=True, reason=f"onboarding is '{p['onboarding']}': migration applies only to numbers coming "
                                       "from the On-Premises API")
        return {"ok": True, "skipped": True, "verdict": "not applicable: skipped (onboarding is not 'migrate')"}
    with step.action("read the number"):
        number = resolve_phone_number(step)
    before = _status_of(number)
    already = number.get("platform_type") == "CLOUD_API" and number.get("status") == "CONNECTED"
    if not already:
        with step.action("register with the On-Premises backup"):
            if number.get("platform_type") != "ON_PREMISE":
                raise ConfigError(f"number {number['id']} is on {number.get('platform_type')}, not ON_PREMISE: "
                                  "there is nothing to migrate; register it with 08_register.")
            ops.register_phone_number(step.client, str(number["id"]), pin_env=p["pin_env"],
                                      backup_data=step.require("backup_data")[0],
                                      backup_password_env=p["backup_password_env"])
    with step.action("confirm the number is on Cloud API"):
        after = ops.get_phone_number(step.client, str(number["id"]), fields=NUMBER_FIELDS)
    ok = after.get("platform_type") == "CLOUD_API"
    step.fact(skipped=False, already_migrated=already, before=before, after=_status_of(after))
    return {"ok": ok, "skipped": False, "numbers": tables.phone_numbers_table([after]),
            "verdict": ("already on Cloud API (nothing to do)" if already else "migrated to Cloud API")
            if ok else f"still on {after.get('platform_type')}"}


# ---- 08 register -------------------------------------------------------------------------------
@step_action
def register(step: Step, *, code_source: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Step 5: verify the number if needed, register it with the PIN, confirm with a GET.

    The verification code comes from `verification_code`, else `code_source(phone_number_id)`
    (a form), else the sandbox's control API (its "SMS").
    """
    p = step.params
    with step.action("read the number"):
        number = resolve_phone_number(step)
    phone_id = str(number["id"])
    before = _status_of(number)
    already = number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API"
    verified_now = False
    if not already and number.get("platform_type") == "ON_PREMISE":
        with step.action("check the platform"):
            raise ConfigError(f"number {phone_id} is registered on the On-Premises API: migrate it with 07_migration "
                              "(onboarding: migrate) instead of registering it here.")
    if not already and number.get("code_verification_status") != "VERIFIED":
        code = p.get("verification_code")
        with step.action("request a verification code (SMS)"):
            if not code:
                ops.request_code(step.client, phone_id, code_method="SMS", language="en_US")
        with step.action("verify the code"):
            if not code and code_source is not None:
                code = code_source(phone_id)
            if not code and step.sandbox is not None:
                code = str(step.sandbox.verification_code(phone_id))
            if not code:
                raise ConfigError(f"number {phone_id} needs verifying: a code was sent by SMS to "
                                  f"{number.get('display_phone_number')}. Enter it as verification_code and run again.")
            ops.verify_code(step.client, phone_id, code)
            verified_now = True
            step.params["verification_code"] = ""  # single-use
    if not already:
        with step.action("register with the two-step verification PIN"):
            ops.register_phone_number(step.client, phone_id, pin_env=p["pin_env"],
                                      data_localization_region=p.get("data_localization_region") or None)
    with step.action("confirm with GET"):
        after = ops.get_phone_number(step.client, phone_id, fields=NUMBER_FIELDS)
    ok = after.get("status") == "CONNECTED" and after.get("platform_type") == "CLOUD_API"
    step.fact(already_registered=already, verified_now=verified_now, before=before, after=_status_of(after),
              registered=ok, data_localization_region=p.get("data_localization_region") or None)
    verdict = (("already registered (nothing to do)" if already else "registered") +
               f": status {after.get('status')}, platform {after.get('platform_type')}, "
               f"two-step PIN {'on' if after.get('is_pin_enabled') else 'off'}") if ok else (
        f"not registered: status {after.get('status')}, platform {after.get('platform_type')}")
    return {"numbers": tables.phone_numbers_table([after]), "ok": ok, "verdict": verdict, "already": already}


# ---- 09 receive a message -----------------------------------------------------------------------
@step_action
def receive_message(step: Step, *, text: str = CONSUMER_TEST_TEXT) -> dict[str, Any]:
    """Step 6: the consumer writes (the sandbox's simulator, or a person); wait for it in the webhook store."""
    from .webhooks import WebhookStore

    p = step.params
    (consumer,) = step.require("consumer_number")
    with step.action("find the business number"):
        number = resolve_phone_number(step) if not p.get("phone_number_id") else {"id": p["phone_number_id"]}
    phone_id = str(number["id"])
    db = webhook_db_path(step)
    store = WebhookStore(db)
    since = time.time() - 1.0
    simulated = step.sandbox is not None
    if simulated:
        with step.action("the consumer sends a message (sandbox simulator)"):
            step.sandbox.consumer_message(phone_id, consumer, text)
    else:
        _markdown(f"**Now send a WhatsApp message from {consumer} to the business number** "
                  f"(waiting up to {p['wait_seconds']:g} s).")
    with step.action("wait for the message in the webhook store"):
        message = store.wait_for_message(from_number=consumer, phone_number_id=phone_id,
                                         timeout=p["wait_seconds"], since=since)
    sent_at = _epoch(message.get("timestamp"))
    window_ends = sent_at + WINDOW_SECONDS if sent_at is not None else None
    shown = {k: message.get(k) for k in ("id", "from", "contact_name", "type", "text", "timestamp", "received_at",
                                         "phone_number_id")}
    step.fact(message_id=message.get("id"), type=message.get("type"), text=message.get("text"),
              sent_at=_iso(sent_at), window_ends_at=_iso(window_ends), simulated=simulated, webhook_db=str(db))
    step.output(window_ends_at=_iso(window_ends))
    table = pd.DataFrame([(k, v) for k, v in shown.items()] + [("24-hour window ends", _iso(window_ends))],
                         columns=["field", "value"])
    return {"message": table, "ok": True, "window_ends_at": _iso(window_ends),
            "verdict": f"received {message.get('type')} {message.get('text')!r} from {message.get('from')}; "
                       f"the customer service window is open until {_iso(window_ends)}"}


# ---- 10 send a test message ---------------------------------------------------------------------
def window_open(step: Step, store, phone_id: str, consumer: str) -> tuple[bool, str | None]:
    """(open?, when it ends) from the consumer's latest message in the store and the API's clock."""
    messages = store.messages(phone_number_id=phone_id, from_number=consumer)
    if messages.empty:
        return False, None
    last = _epoch(messages["timestamp"].iloc[-1])
    if last is None:
        return False, None
    ends = last + WINDOW_SECONDS
    return now_epoch(step) < ends, _iso(ends)


@step_action
def send_test_message(step: Step) -> dict[str, Any]:
    """Step 7: a text inside the 24-hour window, else the hello_world template; follow its statuses."""
    from .webhooks import WebhookStore

    p = step.params
    (consumer,) = step.require("consumer_number")
    with step.action("find the business number"):
        number = resolve_phone_number(step) if not p.get("phone_number_id") else {"id": p["phone_number_id"]}
    phone_id = str(number["id"])
    store = WebhookStore(webhook_db_path(step))
    is_open, ends = window_open(step, store, phone_id, consumer)
    with step.action("send the test message"):
        if is_open:
            kind = "text"
            answer = ops.send_text(step.client, phone_id, consumer, p["message_text"])
        else:
            kind = "template"
            answer = ops.send_template(step.client, phone_id, consumer, name=p["template_name"],
                                       language=p["template_language"])
        wamid = ops.message_id(answer)
    step.output(message_id=wamid)
    sent_clock = time.time()
    final = None
    with step.action("follow the statuses in the webhook store"):
        final = store.wait_for_status(wamid, "delivered", timeout=p["wait_seconds"])
        if final["status"] != "failed":
            with contextlib.suppress(TimeoutError):
                final = store.wait_for_status(wamid, "read", timeout=min(p["wait_seconds"], 10.0 if step.on_sandbox else 3.0))
    timeline = status_timeline(store, wamid, sent_clock)
    statuses = timeline["status"].tolist()
    step.fact(kind=kind, window_open=is_open, window_ends_at=ends, message_id_length=len(wamid),
              message_id_ok=len(wamid) <= MAX_WAMID_LENGTH, statuses=statuses, final_status=final["status"])
    if final["status"] == "failed":
        code = final.get("error_code")
        code = int(code) if code is not None and not pd.isna(code) else None
        entry = lookup_remedy(code)
        error = {"type": "StatusWebhook", "code": code, "title": entry.title if entry else None,
                 "message": f"message {wamid} failed (status webhook)",
                 "details": final.get("errors"), "remedy": entry.remedy if entry else None}
        exc = AssertionError(f"the message failed with code {code}: {entry.remedy if entry else ''}")
        step._fail(exc, "follow the statuses in the webhook store", error=error)
        raise exc
    return {"timeline": timeline, "ok": final["status"] in ("delivered", "read", "played"), "message_id": wamid,
            "kind": kind,
            "verdict": f"{kind} message {wamid[:24]}… reached '{final['status']}' "
                       f"({' → '.join(statuses)})" + ("" if is_open else "; sent as the template because the "
                                                      "24-hour window was not open")}


def status_timeline(store, wamid: str, sent_clock: float | None = None) -> pd.DataFrame:
    """The message's statuses in order, with seconds from the send to each webhook's arrival."""
    frame = store.statuses(message_id=wamid)
    columns = ["status", "timestamp", "after_s", "error_code", "pricing_model", "pricing_type", "category", "billable"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.copy()
    if sent_clock is not None and "received_at" in frame:
        frame["after_s"] = [round(_epoch(v) - sent_clock, 2) if _epoch(v) is not None else None
                            for v in frame["received_at"]]
    else:
        frame["after_s"] = None
    return frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
