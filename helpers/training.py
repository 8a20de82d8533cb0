"""The training drills of notebooks/training/scenarios.ipynb, one per sandbox scenario (the DRILLS table).

The trainee picks one scenario and presses Break it (the sandbox breaks one thing); then does the step
through that step's own form: Run meets the error (with its remedy, in the form), the fix goes into the
form (the right PIN, a new token, the right URL) or, where the fix is on Meta's side, a "Fix it" button
stands in for WhatsApp Manager, Business settings, the phone or the clock; Run again passes. Nothing
runs until a button is pressed. Each drill writes a record to run_dir/training/<scenario>.json.

    >>> page = TrainingPage()             # inside `make lab`/`make voila`: every argument from the lab
    >>> drill = Drills().start("wrong_pin"); drill.form.run_button.click()   # headless, as the tests do
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import WebhookStatusFailed
from .i18n import N_, _
from .lab import DEFAULT_PROFILE, REPO_ROOT, training_context
from .profiles import load_profile


# ---- training drills (notebooks/training/) -------------------------------------------------------


# ---- the drill table: one entry per scenario -------------------------------------------------------
#
# A drill is done through the step's own form (helpers.forms.for_step): the trainee presses Break it
# (the sandbox loads the scenario), Run (meets the error, with its remedy in the form), applies the
# fix, and Run again. A fix is either typed into the form (FormFix) or made on Meta's side
# (MetaFix: a button that stands in for WhatsApp Manager, Business settings, a phone or the clock).

@dataclass(frozen=True)
class FormFix:
    """A value the trainee types into one of the form's fields. `instruction` may use {context} keys.
    `instruction` and `done` are marked with N_() and translated where they are shown."""
    field: str
    instruction: str
    value: Callable[["Drill"], str]  # what the trainee types (the headless drills type it through the widget)
    done: str = ""  # what the record says was done (never the value: a PIN is a secret once typed)


@dataclass(frozen=True)
class MetaFix:
    """A change outside the playbook; its button says what it stands in for. `apply` returns what was done
    (already in the reader's language). `label` and `stands_in_for` are marked with N_(), shown with _()."""
    label: str
    stands_in_for: str
    apply: Callable[["Drill"], str]


@dataclass(frozen=True)
class DrillSpec:
    scenario: str
    step: str                                   # the step notebook whose form the trainee uses
    lesson: str                                 # "Read it": what the error means (Markdown)
    fixes: tuple[FormFix | MetaFix, ...]
    params: Callable[["Drill"], dict[str, Any]] | None = None  # the step's parameters for this drill
    action: Callable[[Any], dict[str, Any]] | None = None     # the form's Run; default: the step's own action
    prepare: Callable[["Drill"], dict[str, Any]] | None = None  # after Break it: more context for the texts
    expect: int | str | None = None             # what Run meets first; default: the scenario's error code
    person_peer: bool = False                   # True: nobody reads the SMS for the trainee
    passes: bool = False                        # True: the playbook rides through (a fault drill): Run passes


NUMBER_ID = "400000000000001"     # the training customer's number being onboarded (+1 555-010-0001)
LIVE_NUMBER = "400000000000006"   # already registered, sends messages
TEST_NUMBER = "400000000000005"   # Meta's test number: messages only allow-listed recipients
RIGHT_PIN = "904417"              # the PIN a colleague set on the number (the wrong_pin scenario)


def _paste_token(drill: "Drill", scopes: list[str] | None = None) -> str:
    """Business settings > System users > Generate token, pasted into the form's Access token field."""
    token = drill.drills.control.generate_token(drill.profile["business_id"], drill.profile["app_id"], scopes=scopes)
    drill.form.inputs["token_env"].value = token  # the field stores it in the token variable and clears itself
    return _("generated a system user token and pasted it into the form's Access token field "
             "(${token_env})").format(token_env=drill.profile["token_env"])


def _read_sms(drill: "Drill") -> str:
    from .sandbox.control import SandboxControlError

    try:
        sms = drill.drills.control.last_sms(NUMBER_ID)
    except SandboxControlError:
        drill.context["sms"] = _("no SMS yet: press Run in the form first (the step requests the code)")
        return _("looked at the phone: no SMS yet")
    drill.context["sms"] = _("SMS to {number}: “{text}”").format(number=drill.profile["display_phone_number"],
                                                                text=sms.get("text"))
    return _("read the SMS: {text}").format(text=sms.get("text"))


def _messages_params(phone_number_id: str) -> Callable[["Drill"], dict[str, Any]]:
    def params(drill: "Drill") -> dict[str, Any]:
        return {"phone_number_id": phone_number_id, "webhook_db": drill.webhook_db, "wait_seconds": 20.0}
    return params


def _connect_webhooks(drill: "Drill") -> dict[str, Any]:
    return {"callback": drill.connect_webhooks()}


def _send_text_as_a_script(step) -> dict[str, Any]:
    """A free-form text, sent the way a script does (no window check), followed to its final status."""
    from . import operations as ops
    from .webhooks import WebhookStore

    p = step.params
    store = WebhookStore(p["webhook_db"])
    with step.action("send a free-form text"):
        answer = ops.send_text(step.client, p["phone_number_id"], p["consumer_number"], p["message_text"])
        wamid = ops.message_id(answer)
    with step.action("follow its status webhooks"):
        final = store.wait_for_status(wamid, "delivered", timeout=p["wait_seconds"])
    if final["status"] == "failed":
        code = final.get("error_code")
        raise WebhookStatusFailed(wamid, int(code) if code is not None else None, final.get("errors"))
    return {"ok": True, "verdict": _("text {wamid} reached '{status}'").format(wamid=wamid, status=final["status"])}


PARTNER_BUSINESS = "100000000000001"  # Example Co, the partner whose credit line the training WABA lacks
CORRECTED_TEMPLATE_BODY = "Hello {{1}}, your order {{2}} has shipped."


def _attach_credit_line(drill: "Drill") -> str:
    """What 07b does, as the partner's system user: find the partner's credit line, share and attach it."""
    from . import operations as ops

    line = ops.list_credit_lines(drill.drills.client, PARTNER_BUSINESS)[0]
    ops.share_credit_line(drill.drills.client, str(line["id"]), waba_id=drill.profile["waba_id"], waba_currency="USD")
    return _("shared and attached the partner's credit line {line} to WABA {waba}").format(
        line=line["id"], waba=drill.profile["waba_id"])


def _review_again(drill: "Drill") -> str:
    # The scenario makes the WABA's reviews reject; a reset stands in for Meta reviewing the corrected template.
    drill.drills.control.reset()
    return _("submitted the corrected template for review again")


def _short_timeout(drill: "Drill") -> dict[str, Any]:
    # The sandbox holds a faulted answer longer than the client waits; 3 s keeps the drill short.
    from .client import TIMEOUT_ENV

    os.environ[TIMEOUT_ENV] = "3"
    return {}


# What a step needs to run in a drill that does not say more (a replayed failure, a fault drill).
STEP_SETUPS: dict[str, dict[str, Any]] = {
    "10_send_test_message": {"params": _messages_params(LIVE_NUMBER), "prepare": _connect_webhooks},
    "04_webhooks": {"params": lambda d: {"callback_url": d.drills.webhooks()[0], "webhook_db": d.webhook_db}},
    "12_templates": {"params": lambda d: {"first_template_name": "order_shipped", "first_template_language": "en_US",
                                          "first_template_body": CORRECTED_TEMPLATE_BODY,
                                          "template_wait_seconds": 90.0}},
}


def _fault_drill(kind: str, step: str, lesson: str, **extra: Any) -> DrillSpec:
    return DrillSpec(f"fault_{kind}", step, lesson, (), expect="passed", passes=True,
                     **{**STEP_SETUPS.get(step, {}), **extra})


# Each injectable fault (helpers.sandbox.faults.KINDS), once, on one call of a step: the step passes, and
# the form's calls show how. What the trainee learns is what the playbook does, and what is left to them.
FAULT_DRILLS: tuple[DrillSpec, ...] = (
    _fault_drill("unknown_error", "01_assets", N_(
                 "HTTP 500 with code 1 (*API Unknown*) is transient: the client **retried** the call after a short "
                 "backoff, and the step passed. In the calls you see the 500, then the 200. Nothing to do; only "
                 "if it persists (the client gives up after 2 retries) check Meta's status page.")),
    _fault_drill("service_error", "06_phone_numbers", N_(
                 "HTTP 500 with code 2 (*API Service*): Meta's service was briefly overloaded. The client "
                 "**retried** with exponential backoff (up to 4 times within 120 s) and the step passed. A step "
                 "fails only when the outage outlasts the retries: then run it again later (`--resume` in a batch).")),
    _fault_drill("service_unavailable", "05_subscribe_waba", N_(
                 "HTTP 503 on a **write**: Meta answered, so nothing was applied, and the client **retried** "
                 "the write safely. The calls show POST subscribed_apps twice, 503 then 200: one subscription.")),
    _fault_drill("something_went_wrong", "10_send_test_message", N_(
                 "131000 *Something went wrong* on a send: Meta answered with an error, so no message left; the "
                 "client **retried** and exactly one message reached the consumer. If 131000 persists, open a "
                 "Direct Support ticket with the fbtrace_id the form shows.")),
    _fault_drill("throttled", "10_send_test_message", N_(
                 "130429/2494055 *Rate limit hit*: the number's throughput was exceeded. The client **waited** as "
                 "the `Retry-After` header said, then **retried**: one message. In a batch, meeting it often means "
                 "too many customers share the number at once (fewer `--workers`).")),
    _fault_drill("connection_reset", "08_register", N_(
                 "The connection dropped: **no answer** to register, so nobody knows whether it was applied. The "
                 "step does not repeat the write blindly: it **read the number back** (not connected), then "
                 "registered once more. Register calls are counted: 10 per number per 72 hours.")),
    _fault_drill("timeout_after_write", "08_register", N_(
                 "The register call **was applied**, but its answer came later than the client waits (a timeout): "
                 "the outcome was unknown. The step **read the number back**, found it CONNECTED and adopted that: "
                 "no second register call (the sandbox's ledger, `GET /_sandbox/writes`, shows one)."),
                 prepare=_short_timeout),
)


# The texts a trainee reads (lessons, fix labels, what a button stands in for, instructions) are marked with
# N_() here and translated where the page shows them; what a fix returns is already translated.
DRILLS: dict[str, DrillSpec] = {spec.scenario: spec for spec in (
    DrillSpec(
        "expired_token", "01_assets", N_(
        "Code 190 means the token is not valid at all; subcode 463 says it **expired**. Every call fails the same "
        "way, so no step can pass until the token is replaced. The dashboard's temporary tokens last 24 hours: use a "
        "**system user** token with expiry *Never*."),
        (MetaFix(N_("Generate a system user token"), N_("Business settings > System users > Generate token (expiry "
                 "Never, both WhatsApp permissions); the token is pasted into the form's Access token field"),
                 _paste_token),)),
    DrillSpec(
        "missing_messaging_scope", "10_send_test_message", N_(
        "131005 *Access denied*: the call is well formed, but the token lacks **whatsapp_business_messaging**, the "
        "permission to send. Reading works, so 01 and 06 passed. Step 03 (token check) lists the missing permission."),
        (MetaFix(N_("Regenerate the token with both permissions"), N_("Business settings > System users > Generate "
                 "token with whatsapp_business_management AND whatsapp_business_messaging; pasted into the form's "
                 "Access token field"), _paste_token),),
        params=_messages_params(LIVE_NUMBER), prepare=_connect_webhooks),
    DrillSpec(
        "asset_not_assigned", "01_assets", N_(
        "100/33 reads like *the object does not exist*, but the WABA does exist: the token just cannot see it. The "
        "system user was given only the marketing WABA; the token check (03) shows `target_ids` without this WABA."),
        (MetaFix(N_("Assign the WABA and generate a new token"), N_("Business settings > System users > Add assets > "
                 "WhatsApp accounts (full control), then Generate token; pasted into the form's Access token field"),
                 _paste_token),)),
    DrillSpec(
        "terms_not_accepted", "08_register", N_(
        "(#200) *Permissions error* is generic: the **details** say the Terms of Service are not accepted. Only the "
        "business can accept them, in WhatsApp Manager; step 02 says where."),
        (MetaFix(N_("Accept the Terms of Service"), N_("the Terms banner in WhatsApp Manager"),
                 lambda d: (d.drills.control.accept_terms(d.profile["business_id"]),
                            _("accepted the Terms of Service in WhatsApp Manager"))[1]),)),
    DrillSpec(
        "needs_reverification", "08_register", N_(
        "The number's ownership verification expired (`code_verification_status` EXPIRED, as 06 shows). Step 08 "
        "checks that first and requests a code by SMS; a script that calls register straight away gets 133006. "
        "Against Meta a person reads the SMS: here, too."),
        (MetaFix(N_("Read the SMS"), N_("the phone that receives the code"), _read_sms),
         FormFix("verification_code", N_("Type the 6 digits of the SMS ({sms}) into **Code from the SMS**."),
                 lambda d: d.drills.control.verification_code(NUMBER_ID),
                 N_("typed the code from the SMS into the form's Code from the SMS field"))),
        expect="ConfigError", person_peer=True),
    DrillSpec(
        "wrong_pin", "08_register", N_(
        "133005 *PIN mismatch*: the number already has a two-step PIN, and it is not the one in `WHATSAPP_PIN`. Do "
        "**not** guess: repeated wrong PINs lock the number (133008). Ask who set it; if nobody knows, reset it "
        "(`POST /{PHONE_NUMBER_ID}` with a new PIN) and register with that one."),
        (FormFix("pin_env", N_("The colleague who set the PIN left it in the handover note: **{pin}**. Type it into "
                 "the **Two-step PIN** field (it goes into `$WHATSAPP_PIN`; the field clears itself)."),
                 lambda d: RIGHT_PIN, N_("typed the PIN from the handover note into the form's Two-step PIN field")),)),
    DrillSpec(
        "register_rate_limit", "08_register", N_(
        "133016: at most 10 register (and 10 deregister) calls per number in a moving 72-hour window. Retrying now "
        "only keeps the window full: fix the cause, wait, then register once."),
        (MetaFix(N_("Wait 72 hours"), N_("the clock (the sandbox's clock moves on 72 hours)"),
                 lambda d: (d.drills.control.advance_clock(72 * 3600), _("waited out the 72-hour window"))[1]),)),
    DrillSpec(
        "webhook_quoted_challenge", "04_webhooks", N_(
        "The callback answers Meta's verification GET with the challenge JSON-quoted (`\"1234\"`), not the raw "
        "`1234`: Meta refuses to save it (2200 *Callback verification failed*). Step 04 checks the endpoint the way "
        "Meta does before saving it, so its check table shows which answer was wrong."),
        (FormFix("callback_url", N_("Type the conforming receiver's URL **{receiver_url}** into **Callback URL**."),
                 lambda d: d.context["receiver_url"], N_("typed the conforming receiver's URL into Callback URL")),),
        params=lambda d: {"callback_url": d.drills.graph_url + "/_sandbox/broken_webhook/quoted_challenge",
                          "webhook_db": d.webhook_db},
        prepare=lambda d: {"receiver_url": d.drills.webhooks()[0]}, expect="check failed"),
    DrillSpec(
        "recipient_not_allowed", "10_send_test_message", N_(
        "131030: Meta's test number only messages the recipients added in API Setup (up to 5), and its list is "
        "empty. Numbers from Mexico (+52) and Argentina (+54) often need their format checked too."),
        (MetaFix(N_("Add the recipient"), N_("App Dashboard > WhatsApp > API Setup > To > Manage phone number list"),
                 lambda d: (d.drills.control.allow_recipient(TEST_NUMBER, d.profile["consumer_number"]),
                            _("added {number} to the test number's recipients").format(
                                number=d.profile["consumer_number"]))[1]),),
        params=_messages_params(TEST_NUMBER), prepare=_connect_webhooks),
    DrillSpec(
        "outside_24h_window", "10_send_test_message", N_(
        "131047 *Re-engagement message*: the API **accepted** the text (HTTP 200, a message ID); the failure came "
        "later, in a status webhook. Outside the 24-hour window only a template may start the conversation (step 10 "
        "sends hello_world then; this Run sends the text the way a script does), or the consumer writes first."),
        (MetaFix(N_("The consumer writes"), N_("the consumer's phone: a message to the business opens the window "
                 "again"),
                 lambda d: (d.drills.control.consumer_message(NUMBER_ID, d.profile["consumer_number"],
                                                              "Hi, it's me again"),
                            _("the consumer wrote to the business"))[1]),),
        params=_messages_params(NUMBER_ID), prepare=_connect_webhooks, action=_send_text_as_a_script),
    DrillSpec(
        "template_rejected", "12_templates", N_(
        "The template was **REJECTED** in review (`rejected_reason` INVALID_FORMAT): a body may not start or end "
        "with a variable, its variables are numbered `{{1}}`, `{{2}}`, … in order, each with a sample, and a "
        "UTILITY template must not promote. The step checks the numbering before sending; the rest is Meta's "
        "review. A rejected "
        "template can never be sent; outside the 24-hour window the customer cannot message anyone until one is "
        "approved."),
        # {corrected_body}: CORRECTED_TEMPLATE_BODY, from the drill's context (its {{1}} stay as they are).
        (FormFix("first_template_body", N_("Type a corrected body into **First template body**, e.g. "
                 "`{corrected_body}`"), lambda d: CORRECTED_TEMPLATE_BODY,
                 N_("typed a corrected body into the form's First template body field")),
         MetaFix(N_("Submit it for review again"), N_("Meta's review of the corrected template (the sandbox drops "
                 "the scenario's rejecting reviews; the rejected template is forgotten)"), _review_again)),
        params=lambda d: {"first_template_name": "order_shipped", "first_template_language": "en_US",
                          "first_template_body": "{{1}} your order has shipped {{2}}", "template_wait_seconds": 90.0},
        expect="StepFailed"),
    DrillSpec(
        "credit_line_not_shared", "10_send_test_message", N_(
        "131042 *Business eligibility payment issue*: the API accepted the template (HTTP 200, a message ID); the "
        "status webhook then said **failed**. The customer's WABA has no payment method: its Solution Partner never "
        "shared and attached a credit line (step 07b). Replies inside the 24-hour window still go out (charged per "
        "message since 2026-10-01); templates do not, and 13's health_status shows the WABA BLOCKED with 141006."),
        (MetaFix(N_("Attach the credit line"), N_("step 07b's two calls as the partner's system user: GET "
                 "/{PARTNER_BUSINESS_ID}/extendedcredits, then POST /{CREDIT_LINE_ID}/whatsapp_credit_sharing_and_attach"),
                 _attach_credit_line),),
        params=_messages_params(NUMBER_ID), prepare=_connect_webhooks),
    *FAULT_DRILLS,
)}


def drill_specs() -> dict[str, DrillSpec]:
    """The built-in drills, then one per replayed failure in PLAYBOOK_DRILLS_DIR (helpers.replay)."""
    from .replay import replayed_spec
    from .sandbox.scenarios import catalogue

    specs = dict(DRILLS)
    for name, scenario in catalogue().items():
        if name not in specs and scenario.get("replayed_from"):
            try:
                specs[name] = replayed_spec(scenario)
            except (KeyError, TypeError, ValueError):
                continue  # a hand-edited file that says too little is not listed, the others are
    return specs


def scenario_texts(scenario: dict[str, Any], raw: dict[str, Any] | None = None) -> dict[str, str]:
    """The scenario's title and description as the page shows them, in the reader's language.

    A replayed scenario's are rebuilt from what its file records (helpers.replay.replayed_texts: its YAML
    holds the words of whoever wrote it); a built-in one's go through the catalogue. `raw`: the scenario as
    its file holds it (the sandbox's description of a scenario leaves out replayed_from); read when not given.
    """
    if raw is None:
        from .sandbox.scenarios import catalogue

        raw = catalogue().get(str(scenario.get("name"))) or scenario
    if raw.get("replayed_from"):
        from .replay import replayed_texts

        try:
            return replayed_texts(raw)
        except (KeyError, TypeError, ValueError):
            pass  # a hand-edited file: its own words
    return {"title": _(str(scenario.get("title") or "")), "description": _(str(scenario.get("description") or ""))}


class Drills:
    """The drills against the sandbox at `graph_url`: `start(name)` breaks one scenario and returns its Drill.

    Inside `make lab`/`make voila` every argument has a default from the lab's environment. Records go
    to `run_dir/training/<scenario>.json`. Loading a scenario resets the whole sandbox: progress made in
    the step notebooks starts over.
    """

    def __init__(self, *, graph_url: str = "", profile: str = "", run_dir: str = "", callback_url: str = "",
                 webhook_db: str = "", api_version: str = "") -> None:
        from .client import TIMEOUT_ENV, GraphClient
        from .errors import ConfigError
        from .sandbox.peer import SandboxPeer
        from .versions import DEFAULT_API_VERSION

        context = training_context()
        self.graph_url = graph_url or context.get("sandbox_url") or context.get("graph_url") or ""
        if not self.graph_url:
            raise ConfigError(_("graph_url is empty: start the lab with `make lab`, or give the sandbox's URL "
                                "(python -m helpers sandbox prints it)."))
        # Drills drive the sandbox itself (scenarios, tokens, clock), so they hold its control API; the
        # steps they run get it only as their peer, as under the lab or the runner.
        self.peer = SandboxPeer(self.graph_url)
        self.control = self.peer.control
        try:
            self.control.now()
        except Exception:
            raise ConfigError(_("{url} is not the playbook's sandbox (no /_sandbox/ control API there): the drills "
                                "break things on purpose and run only against the sandbox.").format(
                                    url=self.graph_url)) from None
        self.profile_path = Path(profile or context.get("profile") or DEFAULT_PROFILE)
        self.profile = load_profile(self.profile_path)
        self.api_version = api_version or DEFAULT_API_VERSION
        self.run_dir = Path(run_dir or context.get("run_dir") or REPO_ROOT / "runs" / "local" / "training")
        self.records_dir = self.run_dir / "training"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.client = GraphClient(graph_url=self.graph_url, api_version=self.api_version,
                                  token_env=self.profile["token_env"])
        # The secrets as the kernel got them: each drill starts from these (a fix may replace one).
        self._env_names = [self.profile[k] for k in ("token_env", "pin_env", "app_secret_env", "verify_token_env")
                           if self.profile.get(k)]
        self._env_names.append(TIMEOUT_ENV)  # a fault drill shortens the client's timeout for itself
        self._baseline = {name: os.environ.get(name) for name in self._env_names}
        self._callback_url = callback_url or context.get("callback_url", "")
        self._webhook_db = webhook_db or context.get("webhook_db", "")
        self._receiver = None
        self.records: list[dict[str, Any]] = []

    @staticmethod
    def names() -> list[str]:
        """The drills there are, built-in then replayed (read locally: no call to the sandbox)."""
        return list(drill_specs())

    @staticmethod
    def catalogue() -> dict[str, dict[str, Any]]:
        """Scenario name -> its description (title, expected_error, ...), for the drills there are."""
        from .sandbox.scenarios import catalogue, describe

        scenarios = catalogue()
        return {name: describe(scenarios[name]) for name in drill_specs() if name in scenarios}

    def scenarios(self):
        """The sandbox's scenarios: name, title, the error a trainee meets, and where."""
        import pandas as pd

        rows = []
        for s in self.control.scenarios():
            expected = s.get("expected_error") or {}
            rows.append({"scenario": s["name"], "title": s.get("title"),
                         "code": expected.get("code"), "subcode": expected.get("subcode"),
                         "where": expected.get("where", f"HTTP {expected.get('http_status')}")})
        return pd.DataFrame(rows, columns=["scenario", "title", "code", "subcode", "where"])

    def start(self, name: str) -> "Drill":
        """Break it: the sandbox loads the scenario; returns the drill with the step's form, ready to Run."""
        from .errors import ConfigError

        specs = drill_specs()
        if name not in specs:
            raise ConfigError(_("no drill named {name}; one of {names}").format(name=repr(name), names=", ".join(specs)))
        for env, value in self._baseline.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value
        return Drill(self, specs[name])

    def webhooks(self):
        """(callback_url, WebhookStore): the lab's receiver, else one started in this kernel."""
        from .webhooks import WebhookReceiver, WebhookStore

        if self._callback_url and self._webhook_db:
            return self._callback_url, WebhookStore(self._webhook_db)
        if self._receiver is None:
            db = self.records_dir / "webhooks.sqlite"
            self._receiver = WebhookReceiver(db, verify_token_env=self.profile["verify_token_env"],
                                             app_secret_env=self.profile["app_secret_env"]).start()
        return self._receiver.callback_url, self._receiver.store

    def summary(self):
        """One row per drill done: the error expected, the one met, and whether the fix worked."""
        import pandas as pd

        columns = ["scenario", "expected", "observed", "fix_worked", "status"]
        return pd.DataFrame([{k: r.get(k) for k in columns} for r in self.records], columns=columns)

    def close(self) -> None:
        from .client import TIMEOUT_ENV

        before = self._baseline.get(TIMEOUT_ENV)  # a fault drill's short timeout ends with the drills
        os.environ.pop(TIMEOUT_ENV, None) if before is None else os.environ.__setitem__(TIMEOUT_ENV, before)
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        self.control.close()


class Drill:
    """One scenario, broken: the step's form (Run), what the error means, the fixes, the verdict.

    `panel` is what the training page shows. Headless, a test does what a trainee does:
    ``drill.form.run_button.click()``, then ``drill.apply_fixes()`` (types into the form's fields,
    presses the Meta-side buttons), then ``drill.form.run_button.click()`` again.
    """

    def __init__(self, drills: Drills, spec: DrillSpec) -> None:
        import ipywidgets as widgets

        from . import forms, steps
        from .peers import PersonPeer

        self.drills = drills
        self.spec = spec
        self.name = spec.scenario
        self.scenario = drills.control.load_scenario(spec.scenario)
        expected = self.scenario.get("expected_error") or {}
        self.expected = spec.expect if spec.expect is not None else expected.get("code")
        self.context: dict[str, Any] = {"pin": RIGHT_PIN, "number": NUMBER_ID, "sms": _("the SMS"),
                                        "corrected_body": CORRECTED_TEMPLATE_BODY}
        self.webhook_db = ""
        if spec.prepare is not None or spec.params is not None:
            self.webhook_db = drills.webhooks()[1].path
        self.context.update(spec.prepare(self) if spec.prepare else {})
        self.met: Any = None
        self.fixes_done: list[str] = []
        self.record: dict[str, Any] = {
            "scenario": self.name, "title": self.scenario.get("title"), "step": spec.step, "status": "running",
            "expected": self.expected, "observed": None, "observed_code": None, "observed_subcode": None,
            "http_status": None, "remedy": None, "fix": None, "fix_worked": False, "retry_verdict": None,
        }
        params = {"profile": str(drills.profile_path), "graph_url": drills.graph_url, "api_version": drills.api_version,
                  "interactive": True, "run_dir": str(drills.run_dir / self.name),
                  **(spec.params(self) if spec.params else {})}
        peer = PersonPeer() if spec.person_peer else drills.peer
        self.step = steps.Step.start(spec.step, params, show=False, peer=peer)
        self._action = spec.action or getattr(steps, spec.step.split("_", 1)[1])
        self.form = forms.for_step(self.step, on_run=self._run)

        self.header = widgets.HTML(self._header_html())
        self.header.add_class("playbook-drill-header")
        self.lesson = widgets.HTML("")
        self.lesson.add_class("playbook-lesson")
        self.fix_buttons: dict[str, widgets.Button] = {}
        rows: list[widgets.Widget] = []
        for fix in spec.fixes:
            if isinstance(fix, MetaFix):
                button = widgets.Button(description=_("Fix it: {label}").format(label=_(fix.label)), icon="wrench",
                                        tooltip=_("stands in for {what}").format(what=_(fix.stands_in_for)),
                                        layout=widgets.Layout(width="auto"))
                button.add_class("playbook-fix")
                button.on_click(lambda _b, f=fix: self._meta_fix(f))
                note = widgets.HTML("<i>" + _("stands in for {what}").format(what=_html(_(fix.stands_in_for))) + "</i>")
                self.fix_buttons[fix.label] = button
                rows.append(widgets.HBox([button, note]))
        self.fix_notes = widgets.HTML("")
        self.fix_notes.add_class("playbook-fix-notes")
        heading = _("Fix it")
        self.fix_box = widgets.VBox([widgets.HTML(f"<b>{_html(heading)}</b>"), self.fix_notes, *rows],
                                    layout=widgets.Layout(display="none"))
        self.fix_box.add_class("playbook-fix-box")
        self.status = widgets.HTML("")
        self.status.add_class("playbook-drill-status")
        self.panel = widgets.VBox([self.header, self.form, self.lesson, self.fix_box, self.status])
        self.panel.add_class("playbook-drill")
        self.panel.add_class("playbook-drill-" + self.name.replace("_", "-"))

    @property
    def profile(self) -> dict[str, Any]:
        return self.drills.profile

    @property
    def client(self):
        return self.drills.client

    # -- what the trainee sees -------------------------------------------------------------------
    def _header_html(self) -> str:
        texts = scenario_texts(self.scenario)
        now = (_("<b>Now:</b> press <b>{button}</b> in the form below (step {step}), then read its Graph calls: the "
                 "fault is there, and what the playbook did about it.") if self.spec.passes else
               _("<b>Now:</b> press <b>{button}</b> in the form below (step {step}), read the error and what to do, "
                 "then fix it."))
        return (f"<h3>{_html(texts['title'])}</h3>"
                "<p>" + _("<b>Broken:</b> {description}").format(description=_html(texts["description"])) + "</p>"
                "<p>" + now.format(button=_html(self.form.run_button.description), step=_html(self.spec.step))
                + "</p>")

    def _fix_notes_html(self) -> str:
        items = []
        for fix in self.spec.fixes:
            if isinstance(fix, FormFix):
                items.append(_markdown_html(_(fix.instruction).format(**self.context)))
            else:
                button = _("Fix it: {label}").format(label=_(fix.label))
                items.append(_("Press <b>{button}</b> (stands in for {what}).").format(
                    button=_html(button), what=_html(_(fix.stands_in_for))))
        items.append(_("Then press <b>{button}</b> again.").format(button=_html(self.form.run_button.description)))
        return "<ol>" + "".join(f"<li>{item}</li>" for item in items) + "</ol>"

    def _meta_fix(self, fix: MetaFix) -> None:
        try:
            done = fix.apply(self)
        except Exception as exc:  # a button callback's exception would reach no one: say it on the page
            self.status.value = ('<span style="color:#b00020">'
                                 + _("{fix} did not work: {error}").format(fix=_html(_(fix.label)), error=_html(exc))
                                 + "</span>")
            return
        self.fixes_done.append(done)
        self.fix_notes.value = self._fix_notes_html()  # a Meta-side fix may add context (the SMS)
        rest = any(isinstance(f, FormFix) and not self.form_fix_done(f) for f in self.spec.fixes)
        now = (_("🔧 {done}. Now do the rest of the fix, then press <b>{button}</b>.") if rest
               else _("🔧 {done}. Now press <b>{button}</b>."))
        self.status.value = now.format(done=_html(done), button=_html(self.form.run_button.description))

    def form_fix_done(self, fix: FormFix) -> bool:
        """Whether the form already holds the fix's value (a secret field: its variable holds it)."""
        try:
            wanted = fix.value(self)
        except Exception:  # the value depends on something not there yet (an SMS not sent)
            return False
        widget = self.form.inputs.get(fix.field)
        if widget is None:
            return False
        if self.form.fields[fix.field].secret:
            return os.environ.get(str(self.step.params.get(fix.field) or "")) == wanted
        return str(widget.value).strip() == str(wanted)

    def _form_fixes(self) -> list[FormFix]:
        return [f for f in self.spec.fixes if isinstance(f, FormFix)]

    def apply_fixes(self) -> None:
        """What the trainee does, through the widgets: Meta-side buttons clicked, the right values typed."""
        for fix in self.spec.fixes:
            if isinstance(fix, MetaFix):
                self.fix_buttons[fix.label].click()
            else:
                self.form.inputs[fix.field].value = fix.value(self)

    # -- the form's Run ----------------------------------------------------------------------------
    def _run(self, step) -> Any:
        step.retry()  # a Run after a failure starts clean
        try:
            result = self._action(step)
        except Exception as exc:
            if self.met is None:
                self._meet(exc, None)
            else:
                self.status.value = ('<span style="color:#b00020">'
                                     + _("Still failing: {error}. Check the fix, then Run again.").format(
                                         error=_html(_observed(exc))) + "</span>")
            raise
        if not (result.get("ok", True) if isinstance(result, dict) else True):
            if self.met is None:
                self._meet(None, result)
            return result
        if self.spec.passes:
            self._rode_through(step, result)
            return result
        self._passed(step, result)
        return result

    def _rode_through(self, step, result: dict[str, Any]) -> None:
        """A fault drill's Run passed: it counts once the sandbox shows the fault was injected."""
        faults = self.drills.control.faults()
        met = [r for r in faults.get("rules") or [] if r.get("hits")]
        verdict = result.get("verdict") if isinstance(result, dict) else None
        if not met:
            self.record.update(status="failed", retry_verdict=_("passed without meeting the fault: was it loaded?"))
            self._write()
            self.status.value = _("⚠️ The step passed without meeting the fault: press Break it again.")
            return
        what = "; ".join(_("{kind} on {method} {path} ({hits}×)").format(
            kind=r["kind"], method=r.get("method") or _("any"), path=r.get("path"), hits=r["hits"]) for r in met)
        step.finish(True, verdict or "")
        self.met = what
        self.record.update(status="passed", observed="passed", remedy=self.scenario.get("fix"), fix_worked=True,
                           fix=_("nothing to fix: the playbook rode through {what}").format(what=what),
                           retry_verdict=verdict or "passed")
        self._write()
        self.lesson.value = ('<div style="border-left: 4px solid #1e7e34; padding: 2px 0 2px 12px">'
                             "<p>" + _("✅ The sandbox injected {what}, and the step passed anyway.").format(
                                 what=_html(what)) + "</p>"
                             "<p>" + _("<b>Read it.</b> {lesson}").format(lesson=_markdown_html(_(self.spec.lesson)))
                             + "</p><p>" + _("<b>Look at the Graph calls above:</b> {what}").format(
                                 what=_html(_(self.scenario.get("trainee_sees")))) + "</p></div>")
        self.status.value = ('<span style="color:#1e7e34"><b>'
                             + _("✅ {step} passes through the fault.").format(step=_html(self.spec.step))
                             + "</b></span> " + _("Pick another scenario above."))

    def _meet(self, exc: BaseException | None, result: dict[str, Any] | None) -> None:
        from .errors import GraphAPIError

        observed = _observed(exc) if exc is not None else "check failed"  # a record value (DrillSpec.expect), not shown
        remedy = None
        error = self.step.record.get("error") or {}
        if exc is not None:
            remedy = error.get("remedy") or getattr(exc, "remedy", None)
            self.record.update(observed_code=getattr(exc, "code", None), observed_subcode=getattr(exc, "subcode", None),
                               http_status=getattr(exc, "http_status", None))
        else:
            remedy = result.get("verdict")
        self.met = exc if exc is not None else result
        self.record.update(observed=observed, remedy=remedy)
        if isinstance(exc, GraphAPIError) or isinstance(exc, WebhookStatusFailed):
            code = f"{exc.code}" + (f"/{exc.subcode}" if exc.subcode else "")
            what = (_("error {code} ({title})").format(code=code, title=_(exc.title)) if exc.title
                    else _("error {code}").format(code=code))
        elif exc is not None:
            what = _("the step stopped: {reason}").format(
                reason=str(getattr(exc, "reason", None) or exc).rstrip("."))
        else:
            what = _("the step's check failed: {verdict}").format(verdict=str(result.get("verdict")).rstrip("."))
        verdict = (_("✅ This is what the scenario teaches: {what}.").format(what=_html(what))
                   if observed == self.expected
                   else _("⚠️ Expected {expected}, met {what}.").format(expected=_html(self.expected), what=_html(what)))
        colour = "#1e7e34" if observed == self.expected else "#b36b00"
        self.lesson.value = (f'<div style="border-left: 4px solid {colour}; padding: 2px 0 2px 12px">'
                             f"<p>{verdict}</p>"
                             "<p>" + _("<b>Read it.</b> {lesson}").format(lesson=_markdown_html(_(self.spec.lesson)))
                             + "</p><p>" + _("The form's result above shows what the API said and what to do.")
                             + "</p></div>")
        self.fix_notes.value = self._fix_notes_html()
        self.fix_box.layout.display = "flex"
        self.status.value = ""

    def _passed(self, step, result: dict[str, Any]) -> None:
        verdict = result.get("verdict") if isinstance(result, dict) else None
        if self.met is None:
            self.record.update(status="failed", retry_verdict=_("passed without meeting {expected}: was the "
                                                                "scenario loaded?").format(expected=self.expected))
            self._write()
            self.status.value = _("⚠️ The step passed without meeting {expected}: press Break it again.").format(
                expected=_html(self.expected))
            return
        step.finish(True, verdict or "")
        fixes = self.fixes_done + [_(fix.done) if fix.done else
                                   _("typed the right value into the form's {field} field").format(field=fix.field)
                                   for fix in self._form_fixes()]
        self.record.update(fix="; ".join(fixes), fix_worked=True, retry_verdict=verdict or "passed",
                           status="passed" if self.record["observed"] == self.expected else "failed")
        self._write()
        self.status.value = ('<span style="color:#1e7e34"><b>'
                             + _("✅ Fixed: {step} passes.").format(step=_html(self.spec.step))
                             + f"</b> {_html((verdict or '').rstrip('.'))}.</span> " + _("Pick another scenario above."))
        self.lesson.value = ('<div style="border-left: 4px solid #1e7e34; padding: 2px 0 2px 12px">'
                             "<p>" + _("✅ Fixed. What it taught: error {code}.").format(
                                 code=_html(self.record.get("observed"))) + "</p>"
                             "<p>" + _("<b>Read it.</b> {lesson}").format(lesson=_markdown_html(_(self.spec.lesson)))
                             + "</p></div>")

    def _write(self) -> None:
        self.drills.records = [r for r in self.drills.records if r["scenario"] != self.name] + [self.record]
        path = self.drills.records_dir / f"{self.name}.json"
        path.write_text(json.dumps(self.record, indent=2, default=str, ensure_ascii=False), encoding="utf-8")

    # -- helpers the drills' fixes use ---------------------------------------------------------------
    def connect_webhooks(self) -> str:
        """Save the receiver as the app's callback and subscribe the app to the WABA; returns the callback URL."""
        from . import operations as ops

        callback_url, _store = self.drills.webhooks()
        ops.set_app_webhook(self.client, app_id=self.profile["app_id"], app_secret_env=self.profile["app_secret_env"],
                            callback_url=callback_url, verify_token_env=self.profile["verify_token_env"])
        ops.subscribe_app(self.client, self.profile["waba_id"])
        return callback_url


def _observed(exc: BaseException) -> int | str:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else type(exc).__name__


def _html(text: Any) -> str:
    return str(text if text is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown_html(text: str) -> str:
    """**bold** and `code` of the drill texts as HTML (the widgets show HTML, not Markdown)."""
    import re

    out = _html(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", out)


class TrainingPage:
    """The training page: pick one scenario, Break it, then do the step through its form. Nothing runs on open.

    >>> TrainingPage().show()       # in notebooks/training/scenarios.ipynb
    """

    def __init__(self, **drills_args: Any) -> None:
        import ipywidgets as widgets

        self.drills = Drills(**drills_args)
        from .sandbox.scenarios import catalogue as scenario_files

        catalogue, specs, files = Drills.catalogue(), drill_specs(), scenario_files()
        options = [(_("{title} · step {number}").format(
                        title=scenario_texts(scenario, files.get(name, scenario))["title"],
                        number=specs[name].step.split("_", 1)[0]), name)
                   for name, scenario in catalogue.items()]
        self.picker = widgets.Dropdown(options=options, value=None, description=_("Scenario"),
                                       style={"description_width": "6em"}, layout=widgets.Layout(width="44em"))
        self.picker.add_class("playbook-scenario")
        self.break_button = widgets.Button(description=_("Break it"), button_style="warning", icon="bolt",
                                           tooltip=_("the sandbox resets, then breaks what the scenario says"),
                                           disabled=True)
        self.break_button.add_class("playbook-break")
        self.picker.observe(lambda change: setattr(self.break_button, "disabled", change["new"] is None), names="value")
        self.break_button.on_click(lambda _b: self.break_it())
        self.note = widgets.HTML(_("Pick a scenario, then press <b>Break it</b>. <i>Breaking a scenario resets the "
                                   "whole sandbox: what the step pages did starts over.</i>"))
        self.area = widgets.VBox([])
        self.area.add_class("playbook-drill-area")
        self.drill: Drill | None = None
        self.widget = widgets.VBox([widgets.HBox([self.picker, self.break_button]), self.note, self.area])
        self.widget.add_class("playbook-training")

    def break_it(self, name: str | None = None) -> Drill | None:
        import ipywidgets as widgets

        name = name or self.picker.value
        self.area.children = ()
        try:
            self.drill = self.drills.start(name)
        except Exception as exc:  # shown on the page: a button callback's exception would reach no one
            self.drill = None
            self.area.children = (widgets.HTML('<span style="color:#b00020">' + _("Could not break {name}: {error}")
                                               .format(name=_html(name), error=_html(exc)) + "</span>"),)
            return None
        self.area.children = (self.drill.panel,)
        return self.drill

    def show(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _ipython_display_(self) -> None:
        self.show()
