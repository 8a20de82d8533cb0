"""The drill table: one DrillSpec per sandbox scenario (DRILLS), one per injectable fault (FAULT_DRILLS),
and the setups and fixes they use (a token pasted, an SMS read, a credit line attached, the clock moved).

A drill is done through the step's own form (helpers.forms.for_step): the trainee presses Break it
(the sandbox loads the scenario), Run (meets the error, with its remedy in the form), applies the
fix, and Run again. A fix is either typed into the form (FormFix) or made on Meta's side
(MetaFix: a button that stands in for WhatsApp Manager, Business settings, a phone or the clock).
The functions here take the running `Drill` (helpers.training.drill) as their argument.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from .. import operations as ops
from ..client import TIMEOUT_ENV
from ..errors import WebhookStatusFailed
from ..i18n import N_, _
from ..sandbox.control import SandboxControlError
from ..webhooks import WebhookStore


@dataclass(frozen=True)
class FormFix:
    """A value the trainee types into one of the form's fields. `instruction` may use {context} keys.
    `instruction` and `done` are marked with N_() and translated where they are shown."""
    field: str
    instruction: str
    value: Callable[[Any], str]  # what the trainee types (the headless drills type it through the widget)
    done: str = ""  # what the record says was done (never the value: a PIN is a secret once typed)


@dataclass(frozen=True)
class MetaFix:
    """A change outside the playbook; its button says what it stands in for. `apply` returns what was done
    (already in the reader's language). `label` and `stands_in_for` are marked with N_(), shown with _()."""
    label: str
    stands_in_for: str
    apply: Callable[[Any], str]


@dataclass(frozen=True)
class DrillSpec:
    scenario: str
    step: str                                   # the step notebook whose form the trainee uses
    lesson: str                                 # "Read it": what the error means (Markdown)
    fixes: tuple[FormFix | MetaFix, ...]
    params: Callable[[Any], dict[str, Any]] | None = None  # the step's parameters for this drill
    action: Callable[[Any], dict[str, Any]] | None = None     # the form's Run; default: the step's own action
    prepare: Callable[[Any], dict[str, Any]] | None = None  # after Break it: more context for the texts
    expect: int | str | None = None             # what Run meets first; default: the scenario's error code
    person_peer: bool = False                   # True: nobody reads the SMS for the trainee
    passes: bool = False                        # True: the playbook rides through (a fault drill): Run passes


NUMBER_ID = "400000000000001"     # the training customer's number being onboarded (+1 555-010-0001)
LIVE_NUMBER = "400000000000006"   # already registered, sends messages
TEST_NUMBER = "400000000000005"   # Meta's test number: messages only allow-listed recipients
RIGHT_PIN = "904417"              # the PIN a colleague set on the number (the wrong_pin scenario)


def _paste_token(drill: Any, scopes: list[str] | None = None) -> str:
    """Business settings > System users > Generate token, pasted into the form's Access token field."""
    token = drill.drills.control.generate_token(drill.profile["business_id"], drill.profile["app_id"], scopes=scopes)
    drill.form.inputs["token_env"].value = token  # the field stores it in the token variable and clears itself
    return _("generated a system user token and pasted it into the form's Access token field "
             "(${token_env})").format(token_env=drill.profile["token_env"])


def _read_sms(drill: Any) -> str:
    try:
        sms = drill.drills.control.last_sms(NUMBER_ID)
    except SandboxControlError:
        drill.context["sms"] = _("no SMS yet: press Run in the form first (the step requests the code)")
        return _("looked at the phone: no SMS yet")
    drill.context["sms"] = _("SMS to {number}: “{text}”").format(number=drill.profile["display_phone_number"],
                                                                text=sms.get("text"))
    return _("read the SMS: {text}").format(text=sms.get("text"))


def _messages_params(phone_number_id: str) -> Callable[[Any], dict[str, Any]]:
    def params(drill: Any) -> dict[str, Any]:
        return {"phone_number_id": phone_number_id, "webhook_db": drill.webhook_db, "wait_seconds": 20.0}
    return params


def _connect_webhooks(drill: Any) -> dict[str, Any]:
    return {"callback": drill.connect_webhooks()}


def _send_text_as_a_script(step) -> dict[str, Any]:
    """A free-form text, sent the way a script does (no window check), followed to its final status."""
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


def _attach_credit_line(drill: Any) -> str:
    """What 07b does, as the partner's system user: find the partner's credit line, share and attach it."""
    line = ops.list_credit_lines(drill.drills.client, PARTNER_BUSINESS)[0]
    ops.share_credit_line(drill.drills.client, str(line["id"]), waba_id=drill.profile["waba_id"], waba_currency="USD")
    return _("shared and attached the partner's credit line {line} to WABA {waba}").format(
        line=line["id"], waba=drill.profile["waba_id"])


def _review_again(drill: Any) -> str:
    # The scenario makes the WABA's reviews reject; a reset stands in for Meta reviewing the corrected template.
    drill.drills.control.reset()
    return _("submitted the corrected template for review again")


def _short_timeout(drill: Any) -> dict[str, Any]:
    # The sandbox holds a faulted answer longer than the client waits; 3 s keeps the drill short.
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


