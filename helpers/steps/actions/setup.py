"""The step actions before any webhook: 00 plan, 01 assets, 02 terms, 03 access token.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ... import operations as ops, plan as planning, tables
from ...i18n import N_, _
from ...remedies import lookup as lookup_remedy, remedy_text
from ...versions import DEFAULT_API_VERSION, version_status
from ..failures import terms_not_accepted
from ..step import Step
from .common import NUMBER_FIELDS, step_action

GUIDE_API_VERSION = "v19.0"
# WABA fields notebook 01 reads (documented on the WhatsAppBusinessAccount node).
WABA_ASSET_FIELDS = ("id", "name", "currency", "timezone_id", "message_template_namespace", "account_review_status",
                     "business_verification_status", "owner_business_info")


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
