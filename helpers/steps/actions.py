"""The step actions, one function per step notebook (00 `plan` ... 10 `send_test_message`).

Each holds its step's logic; notebooks and the forms' Run buttons call the same function with
the `Step`. Here too: the lookups they share (the number to work on, the API's clock) and their
small helpers (versions_table, subscriptions_table, status_timeline, window_open, ...).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import math
import os
import time
from urllib.parse import urlsplit
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from .. import operations as ops, plan as planning, tables, validate
from ..errors import ConfigError, WebhookStatusFailed
from ..i18n import N_, _
from ..parameters import PARAMS
from ..remedies import lookup as lookup_remedy, remedy_text
from ..versions import DEFAULT_API_VERSION, version_status
from .journal import (RegisterBudgetSpent, fail, guarded_write, journal_for, message_sent_since, register_budget,
                      register_count_name, send_outcome_unknown)
from .local_receiver import ensure_local_receiver, webhook_db_path
from .step import Step, _markdown, terms_not_accepted

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


def phone_number_id(step: Step) -> str:
    """The number's ID: phone_number_id when given (no call), else found in the WABA as resolve_phone_number does."""
    return str(step.params.get("phone_number_id") or resolve_phone_number(step)["id"])


def _status_of(number: Mapping[str, Any]) -> dict[str, Any]:
    return {k: number.get(k) for k in ("code_verification_status", "status", "platform_type", "name_status",
                                       "quality_rating", "is_pin_enabled")}


def now_epoch(step: Step) -> float:
    """Now on the clock that timestamps the messages: the peer's (an emulator's clock), else this machine's."""
    try:
        now = step.peer.now()
    except Exception:  # its clock unreachable: this machine's is the best guess for the window
        now = None
    return float(now) if now is not None else time.time()


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
    with step.action(N_("decide new or migrate; check throughput, compliance, features")):
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
            "steps": planning.plan_steps(p["onboarding"], partner_client=bool(
                p.get("partner_business_id") and p.get("partner_business_id") != p.get("business_id"))),
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
    with step.action(N_("debug the token")):
        report = _token_report(step)
    with step.action(N_("read the WABA")):
        waba = ops.get_waba(step.client, waba_id, fields=WABA_ASSET_FIELDS)
    with step.action(N_("list the WABA's phone numbers")):
        numbers = tables.phone_numbers_table(ops.list_phone_numbers(step.client, waba_id, fields=NUMBER_FIELDS))
    p = step.params
    app_found = report.get("app_id")
    owner = waba.get("owner_business_info") or {}
    business_found = str(owner.get("id") or "")
    picked = numbers[numbers["phone_number_id"] == p["phone_number_id"]] if p.get("phone_number_id") else (
        numbers[numbers["display_phone_number"].map(_digits) == _digits(p["display_phone_number"])]
        if p.get("display_phone_number") else numbers.iloc[0:0])
    has_both_scopes = not report["missing_scopes"]
    picked_numbers = ", ".join(picked["display_phone_number"].astype(str))
    # Each cell as (English, the reader's language): the facts keep the English (their keys are the assets),
    # the table shown is in the reader's language.
    rows = [
        (_both(N_("Business Manager ID saved")), _both(N_("parameters + API")),
         _both(N_("yes")) if p.get("business_id") and (not business_found or business_found == p["business_id"])
         else _both(N_("NO: the WABA belongs to {business_id}"), business_id=business_found) if p.get("business_id")
         else _both(N_("no: save it (business_id)")), _same(p.get("business_id") or business_found)),
        (_both(N_("WhatsApp Business Account")), _same("API"), _both(N_("yes")), _same(f"{waba.get('name')} ({waba_id})")),
        (_both(N_("Meta app of type Business")), _both(N_("by hand")), _both(N_("confirm")),
         _both(N_("app {app_id} ({application}): App Dashboard > Settings > Basic shows the type, display name and "
                  "contact email"), app_id=app_found, application=report.get("application"))),
        (_both(N_("App Review: advanced access to whatsapp_business_management and whatsapp_business_messaging")),
         _both(N_("API (scopes) + by hand")), _both(N_("granted to this token")) if has_both_scopes else _both(N_("NO")),
         _both(N_("advanced access is shown in App Dashboard > App Review > Permissions and Features"))),
        (_both(N_("one webhook endpoint per app")), _both(N_("fact")), _both(N_("info")),
         _both(N_("one app may serve many customers and WABAs"))),
        (_both(N_("an admin system user (use it in production)")), _both(N_("API + by hand")),
         _both(N_("token is a system user")) if report["type"] == "SYSTEM_USER"
         else _both(N_("NO: token type {token_type}"), token_type=str(report["type"])),
         _both(N_("Business settings > Users > System users"))),
        (_both(N_("an employee system user")), _both(N_("by hand")), _both(N_("confirm")),
         _both(N_("Business settings > Users > System users"))),
        (_both(N_("business phone number in the WABA")), _same("API"),
         _both(N_("yes")) if len(picked) else (_both(N_("no")) if p.get("display_phone_number")
                                               else _both(N_("pick it in 06"))),
         _same(picked_numbers) if picked_numbers else _both(N_("{count} numbers in the WABA"), count=len(numbers))),
        (_both(N_("number on one platform at a time (test with a test number first)")), _both(N_("fact")),
         _both(N_("info")), _both(N_("Cloud API or On-Premises, never both"))),
        (_both(N_("consumer phone number for the tests")), _both(N_("parameters")),
         _both(N_("yes")) if p.get("consumer_number") else _both(N_("no: set consumer_number")),
         _same(p.get("consumer_number") or "")),
    ]
    # The column keys stay English (code and records index them); N_ lists them for a translated header.
    columns = [N_("asset"), N_("checked_by"), N_("status"), N_("detail")]
    checklist = pd.DataFrame([[cell[0] for cell in row] for row in rows], columns=columns)
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
                              columns=[N_("field"), N_("value")])
    ok = report["is_valid"] and str(waba.get("id")) == waba_id
    shown = pd.DataFrame([[cell[1] for cell in row] for row in rows], columns=columns)
    to_confirm = shown.loc[checklist["status"] == "confirm", "asset"].tolist()
    verdict = (_("token valid and WABA {waba_name} readable; confirm by hand: {assets}").format(
                   waba_name=waba.get("name"), assets=", ".join(to_confirm)) if ok
               else _("NOT ready: {problems}").format(
                   problems="; ".join(report["problems"]) or _("the WABA could not be read")))
    checklist = shown
    return {"token": tables.token_report_table(report), "waba": waba_table, "numbers": numbers,
            "checklist": checklist, "ok": ok, "verdict": verdict, "report": report}


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _both(message: str, **values: Any) -> tuple[str, str]:
    """A message marked with N_(): (in English, in the reader's language), with its placeholders filled."""
    if not values:
        return message, _(message)
    return message.format(**values), _(message).format(**values)


def _same(value: Any) -> tuple[Any, Any]:
    """A value that is not words of the playbook (an ID, a name): the same in every language."""
    return value, value


# ---- 02 terms ------------------------------------------------------------------------------------
@step_action
def terms(step: Step) -> dict[str, Any]:
    """Phase 3: where to accept the Terms of Service, and whether a register attempt already failed on them."""
    table = pd.DataFrame([
        (_("what"), _("the WhatsApp Business Platform Terms of Service")),
        (_("where"), _("WhatsApp Manager: the banner at the top (also reachable from Business settings)")),
        (_("who"), _("the developer (the partner) accepts them; a partner's customers need not")),
        (_("what fails until then"),
         _("the register call (08_register, guide step 5): POST /{PHONE_NUMBER_ID}/register")),
        (_("how it shows"), _("a Graph error whose message or details mention the Terms of Service "
                              "(the sandbox answers (#200) Permissions error with that detail)")),
        (_("what to do"), _("accept the Terms in WhatsApp Manager, then run 08_register again")),
    ], columns=[N_("item"), N_("answer")])
    seen = earlier_terms_failure(step)
    step.fact(terms_failure_seen=seen is not None, terms_failure=seen)
    return {"terms": table, "diagnosis": seen, "ok": True,
            "verdict": _("accept the Terms in WhatsApp Manager before 08_register; a register attempt already "
                         "failed on them") if seen else _("accept the Terms in WhatsApp Manager before 08_register")}


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
    for label, version in ((N_("this run"), api_version), (N_("the guide's examples"), GUIDE_API_VERSION),
                           (N_("the playbook's default"), DEFAULT_API_VERSION)):
        status = version_status(version)
        rows.append((_(label), version, status["status"], status["available_until"], status["note"]))
    columns = [N_("which"), N_("version"), N_("status"), N_("available_until"), N_("note")]
    return pd.DataFrame(rows, columns=columns).drop_duplicates("version")


@step_action
def access_token(step: Step) -> dict[str, Any]:
    """Step 1: optionally exchange an Embedded Signup code, then debug the token and judge it."""
    p = step.params
    exchanged = None
    if p.get("signup_code"):
        with step.action(N_("exchange the Embedded Signup code")):
            (app_id,) = step.require("app_id")
            exchanged = ops.exchange_signup_code(step.client, app_id=app_id, app_secret_env=p["app_secret_env"],
                                                 code=p["signup_code"], store_in_env=p["token_env"])
        step.params["signup_code"] = ""  # single-use: never reuse it
    with step.action(N_("debug the token")):
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
    problems = "; ".join(report["problems"])
    verdict = (_("usable for onboarding") if report["ok"] else _("NOT usable: {problems}").format(problems=problems))
    if version["status"] == "expired":
        # The token may be fine, but the step is not: say so first, and what to set instead.
        verdict = (_("NOT usable: API version {version} has expired (the token itself is usable)").format(
                       version=p["api_version"]) if report["ok"]
                   else _("NOT usable: {problems}; API version {version} has expired").format(
                       problems=problems, version=p["api_version"]))
        step.check_remedy = remedy_text("ApiVersionExpired", where=step.where, version=DEFAULT_API_VERSION)
    problem = _token_problem(report)
    if problem and not step.check_remedy:
        step.check_remedy = problem["remedy"]
    return {"problem": problem, "token": tables.token_report_table(report), "versions": versions_table(p["api_version"]),
            "ok": ok, "verdict": verdict, "report": report}


def _token_problem(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """An invalid token's reason as the remedy catalogue reads it (code, title, what to do), else None."""
    error = report.get("error") or {}
    if report.get("is_valid") or not error.get("code"):
        return None
    code, subcode = error.get("code"), error.get("subcode")
    entry = lookup_remedy(int(code), int(subcode) if subcode else None)
    return {"code": code, "subcode": subcode, "title": entry.title if entry else None,
            "message": error.get("message"), "remedy": entry.remedy if entry
            else _("Fix what the message says about the token, then run this step again.")}


# ---- 04 webhooks ------------------------------------------------------------------------------
@step_action
def webhooks(step: Step) -> dict[str, Any]:
    """Step 2: check the callback as Meta would, then save it as the app's webhook (messages field)."""
    from ..webhooks import check_endpoint

    p = step.params
    (app_id,) = step.require("app_id")
    receiver = None
    callback_url = p.get("callback_url")
    warnings = callback_warnings(step, callback_url) if callback_url else []
    if warnings:
        step.fact(callback_warnings=warnings)
    if not callback_url:
        with step.action(N_("check the callback URL")):
            if not step.peer.local_callbacks:
                raise ConfigError(_("callback_url is empty. Meta needs an internet-facing HTTPS endpoint: give its "
                                    "URL (a local receiver is only started for a Graph API on this machine that is "
                                    "named as the peer, such as the sandbox: see docs/sandbox.md)."))
        with step.action(N_("start the local webhook receiver")):
            receiver = ensure_local_receiver(webhook_db_path(step), verify_token_env=p["verify_token_env"],
                                             app_secret_env=p["app_secret_env"])
        callback_url = receiver["callback_url"]
        step.output(callback_url=callback_url, webhook_db=receiver["webhook_db"])
    elif p.get("webhook_db"):
        step.output(callback_url=callback_url, webhook_db=str(Path(p["webhook_db"]).resolve()))
    else:
        step.output(callback_url=callback_url)
    with step.action(N_("check the endpoint as Meta would")):
        checks = check_endpoint(callback_url, verify_token_env=p["verify_token_env"],
                                app_secret_env=p["app_secret_env"], timeout=10.0)
    passed = bool(checks["passed"].all())
    subscription = pd.DataFrame()
    if passed:
        with step.action(N_("save the callback as the app's webhook (messages)")):
            # Idempotent at Meta, yet not re-sent blind: after a lost answer the subscription read back decides.
            guarded_write(step, f"app_callback:{app_id}", N_("save the app's callback URL"), keep=("callback_url",),
                          write=lambda: _once(step, ops.set_app_webhook, app_id=app_id, app_secret_env=p["app_secret_env"],
                                              callback_url=callback_url, verify_token_env=p["verify_token_env"]),
                          read_back=lambda: _callback_saved(step, app_id, callback_url))
        with step.action(N_("read the app's webhook subscription")):
            subscription = subscriptions_table(ops.get_app_webhook(step.client, app_id=app_id,
                                                                   app_secret_env=p["app_secret_env"]))
    saved = bool(len(subscription)) and callback_url in set(subscription["callback_url"])
    step.fact(callback_url=callback_url, local_receiver=receiver is not None,
              receiver_reused=bool(receiver and receiver["reused"]),
              checks_passed=int(checks["passed"].sum()), checks_total=int(len(checks)),
              failed_checks=checks.loc[~checks["passed"], "check"].tolist(), subscription_saved=saved)
    verdict = (_("callback {callback_url} passes every check and is the app's webhook for messages").format(
                   callback_url=callback_url) if passed and saved
               else _("the endpoint failed: {checks}").format(checks=", ".join(checks.loc[~checks["passed"], "check"]))
               if not passed else _("the app's subscription does not show the callback"))
    return {"warnings": warnings, "checks": checks, "subscription": subscription, "ok": passed and saved,
            "verdict": verdict, "receiver": receiver}


def _once(step: Step, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The operation with no re-send after a lost answer (the guarded write reads the state back instead)."""
    with step.client.write_once():
        return operation(step.client, *args, **kwargs)


def _callback_saved(step: Step, app_id: str, callback_url: str) -> dict[str, Any] | None:
    subscriptions = ops.get_app_webhook(step.client, app_id=app_id, app_secret_env=step.params["app_secret_env"])
    return next((dict(s) for s in subscriptions if s.get("callback_url") == callback_url), None)


META_CALLBACK_RULE = N_("Meta requires HTTPS with a valid certificate on a public host")  # shown with _()


def callback_warnings(step: Step, callback_url: str) -> list[str]:
    """What Meta would refuse about a callback URL: http://, or a host it cannot reach (loopback, private
    ranges, .local). Only when the target is Meta (a person is the peer), not an emulator on this machine."""
    if step._peer_name() != "person":
        return []
    parts = urlsplit(str(callback_url).strip())
    host = (parts.hostname or "").lower().rstrip(".")
    found = []
    if parts.scheme.lower() == "http":
        found.append(_("{callback_url} is http://: {rule}; Meta will not deliver to it.").format(
            callback_url=callback_url, rule=_(META_CALLBACK_RULE)))
    unreachable = host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal"))
    if not unreachable:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        unreachable = address is not None and (address.is_loopback or address.is_private or address.is_link_local
                                               or address.is_unspecified or address.is_reserved)
    if unreachable:
        found.append(_("{host} cannot be reached from Meta (loopback, a private range or a local name): {rule}, "
                       "e.g. a reverse proxy or tunnel in front of the receiver.").format(
            host=host or callback_url, rule=_(META_CALLBACK_RULE)))
    return found


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
    with step.action(N_("read the WABA's subscribed apps")):
        before = ops.list_subscribed_apps(step.client, waba_id)
    already = ops.app_in(before, app_id) if app_id else bool(before)
    if not already:
        with step.action(N_("subscribe the app to the WABA")):
            answer = guarded_write(step, f"subscribed_apps:{waba_id}", N_("subscribe the app to the WABA"), keep=(),
                                   write=lambda: _once(step, ops.subscribe_app, waba_id),
                                   read_back=lambda: _subscribed(step, waba_id, app_id)).value
            if answer.get("success") is not True:
                raise ConfigError(_("subscribed_apps answered {answer} instead of success").format(answer=repr(answer)))
    with step.action(N_("confirm with GET subscribed_apps")):
        after = ops.list_subscribed_apps(step.client, waba_id)
    confirmed = ops.app_in(after, app_id) if app_id else bool(after)
    table = tables.subscribed_apps_table(after)
    step.fact(already_subscribed=already, subscribed=confirmed, subscribed_apps=table["app_id"].tolist())
    return {"apps": table, "ok": confirmed, "already": already,
            "verdict": (_("app already subscribed (nothing to do)") if already else _("app subscribed"))
            if confirmed else _("app {app_id} is not among the WABA's subscribed apps").format(app_id=app_id or "")}


def _subscribed(step: Step, waba_id: str, app_id: str | None) -> dict[str, Any] | None:
    apps = ops.list_subscribed_apps(step.client, waba_id)
    return {"success": True} if (ops.app_in(apps, app_id) if app_id else bool(apps)) else None


# ---- 06 phone numbers -----------------------------------------------------------------------------
@step_action
def phone_numbers(step: Step) -> dict[str, Any]:
    """Step 4: every number of the WABA (all pages) with readiness; picks the one to onboard."""
    (waba_id,) = step.require("waba_id")
    with step.action(N_("list the phone numbers (every page)")):
        numbers = ops.list_phone_numbers(step.client, waba_id, fields=NUMBER_FIELDS)
    table = tables.phone_numbers_table(numbers)
    picked = None
    p = step.params
    if p.get("phone_number_id") or p.get("display_phone_number"):
        with step.action(N_("pick the number to onboard")):
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
            "verdict": (_("number {display_phone_number} has ID {phone_number_id}: {next_step}").format(
                            display_phone_number=picked.get("display_phone_number"), phone_number_id=picked["id"],
                            next_step=_(_next_for(picked)))
                        if picked else _("no number picked: set display_phone_number or phone_number_id"))}


def _next_for(number: Mapping[str, Any]) -> str:
    """What the number needs next, in English (the record's next_step); shown with _()."""
    if number.get("platform_type") == "ON_PREMISE":
        return N_("on the On-Premises API: migrate it (07_migration, legacy) before registering")
    if number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API":
        return N_("already registered on Cloud API (08 will confirm)")
    if number.get("code_verification_status") != "VERIFIED":
        return N_("needs verification: 08 requests and verifies a code, then registers")
    return N_("ready: 08 registers it")


# ---- 07 migration (legacy) ---------------------------------------------------------------------
@step_action
def migration(step: Step) -> dict[str, Any]:
    """Step 4 exception (legacy since the On-Premises sunset on 2025-10-23): register with the backup."""
    p = step.params
    if p["onboarding"] != "migrate":
        step.fact(skipped=True, reason=_("onboarding is '{onboarding}': migration applies only to numbers coming "
                                         "from the On-Premises API").format(onboarding=p["onboarding"]))
        return {"ok": True, "skipped": True, "verdict": _("not applicable: skipped (onboarding is not 'migrate')")}
    with step.action(N_("check the PIN and the backup")):
        _secrets_first(step, "pin_env", "backup_password_env")
        step.require("backup_data")
    with step.action(N_("read the number")):
        number = resolve_phone_number(step)
    before = _status_of(number)
    already = number.get("platform_type") == "CLOUD_API" and number.get("status") == "CONNECTED"
    if not already:
        with step.action(N_("register with the On-Premises backup")):
            if number.get("platform_type") != "ON_PREMISE":
                raise ConfigError(_("number {phone_number_id} is on {platform_type}, not ON_PREMISE: there is "
                                    "nothing to migrate; register it with 08_register.").format(
                    phone_number_id=number["id"], platform_type=number.get("platform_type")))
            ops.register_phone_number(step.client, str(number["id"]), pin_env=p["pin_env"],
                                      backup_data=step.require("backup_data")[0],
                                      backup_password_env=p["backup_password_env"])
    with step.action(N_("confirm the number is on Cloud API")):
        after = ops.get_phone_number(step.client, str(number["id"]), fields=NUMBER_FIELDS)
    ok = after.get("platform_type") == "CLOUD_API"
    step.fact(skipped=False, already_migrated=already, before=before, after=_status_of(after))
    return {"ok": ok, "skipped": False, "numbers": tables.phone_numbers_table([after]),
            "verdict": (_("already on Cloud API (nothing to do)") if already else _("migrated to Cloud API"))
            if ok else _("still on {platform_type}").format(platform_type=after.get("platform_type"))}


def _secrets_first(step: Step, *env_params: str) -> None:
    """The secrets these *_env parameters name are set and well-formed (a PIN: 6 digits), before any Graph call."""
    for param in env_params:
        entry, env = PARAMS[param], step.params[param]
        value = validate.secret_from_env(env, entry.what)
        if entry.secret == "pin":
            validate.pin(value, _("the PIN in {env}").format(env=env))


# ---- 08 register -------------------------------------------------------------------------------
@step_action
def register(step: Step, *, code_source: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Step 5: verify the number if needed, register it with the PIN, confirm with a GET.

    The verification code comes from `verification_code`, else `code_source(phone_number_id)`
    (a form), else `step.peer` (an emulator's "SMS"); against Meta the person enters it.
    """
    p = step.params
    with step.action(N_("check the PIN")):
        # Before any Graph call: a bad PIN found after request_code would have spent an SMS
        # and the number's code-request limit (the code and the region are checked at Step.start).
        _secrets_first(step, "pin_env")
    with step.action(N_("read the number")):
        number = resolve_phone_number(step)
    phone_id = str(number["id"])
    before = _status_of(number)
    if number.get("is_on_biz_app"):
        return _coexistence(step, number)
    already = number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API"
    verified_now = False
    if not already and number.get("platform_type") == "ON_PREMISE":
        with step.action(N_("check the platform")):
            raise ConfigError(_("number {phone_number_id} is registered on the On-Premises API: migrate it with "
                                "07_migration (onboarding: migrate) instead of registering it here.").format(
                phone_number_id=phone_id))
    if not already and number.get("code_verification_status") != "VERIFIED":
        code = p.get("verification_code")
        with step.action(N_("request a verification code (SMS)")):
            if not code:
                ops.request_code(step.client, phone_id, code_method="SMS", language="en_US")
        with step.action(N_("verify the code")):
            if not code and code_source is not None:
                code = code_source(phone_id)
            if not code:
                code = step.peer.verification_code(phone_id)
            if not code:
                raise ConfigError(_("number {phone_number_id} needs verifying: a code was sent by SMS to "
                                    "{display_phone_number}. Enter it in the form's 'Code from the SMS' field (or as "
                                    "the verification_code parameter) and run again.").format(
                    phone_number_id=phone_id, display_phone_number=number.get("display_phone_number")))
            ops.verify_code(step.client, phone_id, code)
            verified_now = True
            step.params["verification_code"] = ""  # single-use
    if not already:
        with step.action(N_("register with the two-step verification PIN")):
            _register_once(step, phone_id)
    with step.action(N_("confirm with GET")):
        after = ops.get_phone_number(step.client, phone_id, fields=NUMBER_FIELDS)
    ok = after.get("status") == "CONNECTED" and after.get("platform_type") == "CLOUD_API"
    journal = journal_for(step)
    step.fact(already_registered=already, verified_now=verified_now, before=before, after=_status_of(after),
              registered=ok, data_localization_region=p.get("data_localization_region") or None,
              register_calls=int(journal.data["counts"].get(register_count_name(phone_id)) or 0))
    where = {"status": after.get("status"), "platform_type": after.get("platform_type"),
             "pin": _("two-step PIN on") if after.get("is_pin_enabled") else _("two-step PIN off")}
    verdict = (_("already registered (nothing to do): status {status}, platform {platform_type}, {pin}") if already
               else _("registered: status {status}, platform {platform_type}, {pin}")).format(**where) if ok else (
        _("not registered: status {status}, platform {platform_type}").format(**where))
    return {"numbers": tables.phone_numbers_table([after]), "ok": ok, "verdict": verdict, "already": already}


def _register_once(step: Step, phone_id: str) -> None:
    """POST register sent once per call (no automatic retry: each spends the number's 10-per-72-hours budget),
    counted in the journal; after a lost answer the number is read back before registering again."""
    def connected() -> dict[str, Any] | None:
        number = ops.get_phone_number(step.client, phone_id, fields=("id", "status", "platform_type"))
        return dict(number) if number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API" else None

    def write() -> dict[str, Any]:
        with step.client.retry_limit(0):
            return ops.register_phone_number(step.client, phone_id, pin_env=step.params["pin_env"],
                                             data_localization_region=step.params.get("data_localization_region") or None)
    try:
        guarded_write(step, f"register:{phone_id}", N_("register the number"), keep=("status", "platform_type"),
                      write=write, read_back=connected, before_write=register_budget(phone_id), retry_throttled=True)
    except RegisterBudgetSpent as exc:
        raise fail(step, exc, N_("register with the two-step verification PIN"), _("Register budget spent")) from None


@step_action
def set_new_pin_and_register(step: Step) -> dict[str, Any]:
    """After a PIN mismatch (133005): set the number's two-step PIN to the one in pin_env
    (POST /{PHONE_NUMBER_ID} {"pin"}), then register with it."""
    with step.action(N_("check the new PIN")):
        _secrets_first(step, "pin_env")
    with step.action(N_("read the number")):
        number = resolve_phone_number(step)
    with step.action(N_("set a new two-step verification PIN")):
        ops.set_two_step_pin(step.client, str(number["id"]), pin_env=step.params["pin_env"])
    step.fact(pin_reset=True)
    return register(step)


COEXISTENCE_MPS = 20


def _coexistence(step: Step, number: Mapping[str, Any]) -> dict[str, Any]:
    """A number shared with the WhatsApp Business app: never registered again (that would end coexistence)."""
    connected = number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API"
    step.fact(coexistence=True, already_registered=connected, registered=connected, register_skipped=True,
              before=_status_of(number), throughput_mps=COEXISTENCE_MPS)
    why = _("it is shared with the WhatsApp Business app (is_on_biz_app: true, onboarded through Embedded Signup's "
            "coexistence flow): registering it again would end coexistence")
    verdict = (_("coexistence number: not registered again, {why}; connected on Cloud API at "
                 "{mps} messages/s").format(why=why, mps=COEXISTENCE_MPS) if connected else
               _("coexistence number not connected (status {status}): finish Embedded Signup's coexistence flow in "
                 "the WhatsApp Business app; it is not registered here because {why}").format(
                   status=number.get("status"), why=why))
    return {"numbers": tables.phone_numbers_table([dict(number)]), "ok": connected, "verdict": verdict,
            "already": connected, "coexistence": True,
            "warnings": [_("Coexistence number: {why}.").format(why=why)]}


# ---- 09 receive a message -----------------------------------------------------------------------
@step_action
def receive_message(step: Step, *, text: str = CONSUMER_TEST_TEXT) -> dict[str, Any]:
    """Step 6: the consumer writes (the peer, else a person asked to); wait for it in the webhook store."""
    from ..webhooks import WebhookStore

    p = step.params
    (consumer,) = step.require("consumer_number")
    with step.action(N_("find the business number")):
        phone_id = phone_number_id(step)
    db = webhook_db_path(step)
    store = WebhookStore(db)
    since = time.time() - 1.0
    with step.action(N_("the consumer sends a message")):
        simulated = step.peer.consumer_writes(phone_id, consumer, text)
    if not simulated:
        _markdown(_("**Now send a WhatsApp message from {consumer} to the business number** "
                    "(waiting up to {seconds} s).").format(consumer=consumer, seconds=f"{p['wait_seconds']:g}"))
    with step.action(N_("wait for the message in the webhook store")):
        message = store.wait_for_message(from_number=consumer, phone_number_id=phone_id,
                                         timeout=p["wait_seconds"], since=since)
    sent_at = _epoch(message.get("timestamp"))
    window_ends = sent_at + WINDOW_SECONDS if sent_at is not None else None
    shown = {k: message.get(k) for k in ("id", "from", "contact_name", "type", "text", "timestamp", "received_at",
                                         "phone_number_id")}
    step.fact(message_id=message.get("id"), type=message.get("type"), text=message.get("text"),
              sent_at=_iso(sent_at), window_ends_at=_iso(window_ends), simulated=simulated, webhook_db=str(db))
    step.output(window_ends_at=_iso(window_ends))
    table = pd.DataFrame([(k, v) for k, v in shown.items()] + [(_("24-hour window ends"), _iso(window_ends))],
                         columns=[N_("field"), N_("value")])
    return {"message": table, "ok": True, "window_ends_at": _iso(window_ends),
            "verdict": _("received {type} {text} from {sender}; the customer service window is open until "
                         "{window_ends}").format(type=message.get("type"), text=repr(message.get("text")),
                                                 sender=message.get("from"), window_ends=_iso(window_ends))}


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
    from ..webhooks import WebhookStore

    p = step.params
    (consumer,) = step.require("consumer_number")
    with step.action(N_("find the business number")):
        phone_id = phone_number_id(step)
    store = WebhookStore(webhook_db_path(step))
    is_open, ends = window_open(step, store, phone_id, consumer)
    key = f"message_send:{phone_id}>{consumer}"
    kind = "text" if is_open else "template"

    def send() -> dict[str, Any]:
        if is_open:
            answer = ops.send_text(step.client, phone_id, consumer, p["message_text"])
        else:
            answer = ops.send_template(step.client, phone_id, consumer, name=p["template_name"],
                                       language=p["template_language"])
        return {"wamid": ops.message_id(answer), "kind": kind}
    with step.action(N_("send the test message")):
        # Never a second test message: one the journal (or the webhook store) shows sent is followed instead.
        sent = guarded_write(step, key, f"send the test {kind} message", keep=("wamid", "kind"), write=send,
                             read_back=lambda: message_sent_since(step, store, key, phone_id, consumer),
                             rewrite=False, trust_done=True, details={"kind": kind}, resend_after_silence=True,
                             unknown=lambda entry: send_outcome_unknown(step, store, phone_id, consumer))
        wamid, kind = str(sent.value["wamid"]), str(sent.value.get("kind") or kind)
    step.output(message_id=wamid)
    sent_clock = time.time()
    final = None
    with step.action(N_("follow the statuses in the webhook store")):
        final = store.wait_for_status(wamid, "delivered", timeout=p["wait_seconds"])
        if final["status"] != "failed":
            with contextlib.suppress(TimeoutError):
                final = store.wait_for_status(wamid, "read", timeout=min(p["wait_seconds"], 10.0 if step.peer.consumer_reads else 3.0))
    timeline = status_timeline(store, wamid, sent_clock)
    statuses = timeline["status"].tolist()
    step.fact(kind=kind, window_open=is_open, window_ends_at=ends, message_id_length=len(wamid),
              message_id_ok=len(wamid) <= MAX_WAMID_LENGTH, statuses=statuses, final_status=final["status"],
              message_adopted=sent.adopted, message_from_journal=sent.from_journal)
    if final["status"] == "failed":
        journal_for(step).failed(key, f"status webhook: message {wamid} failed")  # undelivered: a new one may be sent
        code = final.get("error_code")
        code = int(code) if code is not None and not pd.isna(code) else None
        entry = lookup_remedy(code)
        error = {"type": "StatusWebhook", "code": code, "title": entry.title if entry else None,
                 "message": _("message {wamid} failed (status webhook)").format(wamid=wamid),
                 "details": final.get("errors"), "remedy": entry.remedy if entry else None}
        exc = WebhookStatusFailed(wamid, code, final.get("errors"))
        step._fail(exc, "follow the statuses in the webhook store", error=error)
        raise exc
    return {"timeline": timeline, "ok": final["status"] in ("delivered", "read", "played"), "message_id": wamid,
            "kind": kind,
            "verdict": (_("{kind} message {wamid} reached '{status}' ({statuses})") if is_open else
                        _("{kind} message {wamid} reached '{status}' ({statuses}); sent as the template because the "
                          "24-hour window was not open")).format(kind=kind, wamid=wamid, status=final["status"],
                                                                  statuses=" → ".join(statuses))}


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
