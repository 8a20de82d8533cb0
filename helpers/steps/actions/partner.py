"""The Solution Partner's step actions beyond the guide: 07a system user, 07b credit line (both before
registration, as Meta orders them), 11 business profile, 12 templates, 13 go-live health.

Each returns {"ok", "verdict", tables...} like the guide's actions, writes its facts and
outputs into the step's record, and treats "already done" as a success without the write call.
Every write goes through helpers.steps.journal.guarded_write: a lost answer is read back, never doubled.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

import pandas as pd

from ... import operations as ops, tables
from ...client import GraphClient
from ...errors import ConfigError, GraphAPIError, StepFailed
from ...i18n import N_, _
from ...parameters import env_name_of
from ...remedies import own_remedy, template_rejection
from ..journal import guarded_write
from ..step import Step
from .common import phone_number_id, step_action

# Marked N_(), translated where they are given to the error.
MPS_REMEDY = N_("The WABA is shared through a Multi-Partner Solution that does not grant these tasks. Set "
                 "assigned_tasks to the granular tasks the solution grants (e.g. MANAGE_TEMPLATES, MANAGE_PHONE, "
                 "MANAGE_BILLING for the credit line) instead of MANAGE, then run the step again.")
BILLING_REMEDY = N_("The partner's system user lacks MANAGE_BILLING on this WABA (shared through a Multi-Partner "
                    "Solution). Add MANAGE_BILLING to assigned_tasks and run 07a_system_user, then this step again.")
REVIEW_POLL_SECONDS = 15.0   # how often the template's status is read while its review runs
# Column names of this module's own tables (not Meta's fields), translated where tables.show draws them.
_COLUMNS = (N_("attached_to_waba"), N_("field"), N_("before"), N_("wanted"), N_("now"))


def partner_client(step: Step) -> GraphClient:
    """The client with the partner's system user token (partner_token_env), else the step's own."""
    env = env_name_of(step.params, "partner_token_env")
    if env == step.params["token_env"]:
        return step.client
    return GraphClient(graph_url=step.params["graph_url"], api_version=step.params["api_version"], token_env=env)


def _partner_of(step: Step) -> str | None:
    """The partner's business ID when the customer is a partner's client (another business), else None."""
    partner = step.params.get("partner_business_id") or ""
    return partner if partner and partner != step.params.get("business_id") else None


# ---- 07a system user ------------------------------------------------------------------------------
def users_table(users: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [{"user_id": str(u.get("id")), "name": u.get("name"), "user_type": u.get("user_type"),
             "tasks": ", ".join(u.get("tasks") or []), "business": (u.get("business") or {}).get("name")}
            for u in users]
    return pd.DataFrame(rows, columns=["user_id", "name", "user_type", "tasks", "business"])


def _has_tasks(user: Mapping[str, Any] | None, wanted: list[str]) -> bool:
    tasks = set((user or {}).get("tasks") or [])
    return bool(user) and (set(wanted) <= tasks or ("MANAGE" in tasks and "MANAGE" not in wanted))


@step_action
def system_user(step: Step) -> dict[str, Any]:
    """Assign the partner's system user to the customer's WABA with the tasks it needs; confirm with the GET."""
    p = step.params
    (waba_id,) = step.require("waba_id")
    business = p.get("partner_business_id") or p.get("business_id")
    if not business:
        raise ConfigError(_("partner_business_id (or business_id) is empty: the assigned users are listed per "
                            "business."))
    client = partner_client(step)
    with step.action(_("find the system user")):
        user_id = p.get("system_user_id") or str(ops.check_token(client).get("user_id") or "")
        if not user_id:
            raise ConfigError(_("the token names no user: set system_user_id to the system user to assign."))
    wanted = list(p["assigned_tasks"])
    with step.action(_("list the WABA's assigned users")):
        users = ops.list_assigned_users(client, waba_id, business_id=business)
    current = next((u for u in users if str(u.get("id")) == user_id), None)
    already = _has_tasks(current, wanted)
    if not already:
        def assigned() -> dict[str, Any] | None:
            listed = ops.list_assigned_users(client, waba_id, business_id=business)
            user = next((u for u in listed if str(u.get("id")) == user_id), None)
            return dict(user) if _has_tasks(user, wanted) else None
        with step.action(_("assign system user {user_id} with {tasks}").format(user_id=user_id, tasks=", ".join(wanted))):
            try:
                guarded_write(step, f"user_assign:{waba_id}/{user_id}",
                              _("assign system user {user_id}").format(user_id=user_id), keep=("id",),
                              write=lambda: ops.assign_user(client, waba_id, user_id=user_id, tasks=wanted),
                              read_back=assigned)
            except GraphAPIError as exc:
                if exc.code in (10, 200):  # permission: the task is missing, not the token
                    exc.remedy = _(MPS_REMEDY)
                raise
        with step.action(_("confirm with GET")):
            users = ops.list_assigned_users(client, waba_id, business_id=business)
        current = next((u for u in users if str(u.get("id")) == user_id), None)
    ok = _has_tasks(current, wanted)
    tasks = list((current or {}).get("tasks") or [])
    step.output(system_user_id=user_id)
    step.fact(system_user_id=user_id, wanted_tasks=wanted, tasks=tasks, already_assigned=already,
              granular="MANAGE" not in wanted)
    verdict = ((_("system user {user_id} already has {tasks} on WABA {waba_id} (nothing to do)") if already
                else _("system user {user_id} assigned to WABA {waba_id} with {tasks}")) if ok
               else _("system user {user_id} is not assigned {wanted} on WABA {waba_id}")).format(
        user_id=user_id, tasks=", ".join(tasks), wanted=", ".join(wanted), waba_id=waba_id)
    return {"users": users_table(users), "ok": ok, "already": already, "verdict": verdict}


# ---- 07b credit line --------------------------------------------------------------------------------
@step_action
def credit_line(step: Step) -> dict[str, Any]:
    """Share the partner's credit line with the customer and attach it to the WABA, before registration."""
    p = step.params
    partner = _partner_of(step)
    if partner is None:
        step.fact(skipped=True, reason=_("no partner_business_id: the business pays for its own WABA "
                                         "(a Solution Partner's credit line applies only to its clients)"))
        return {"ok": True, "skipped": True, "lines": pd.DataFrame(columns=["credit_line_id", "legal_entity_name"]),
                "verdict": _("not applicable: skipped (the customer is not a Solution Partner's client)")}
    (waba_id,) = step.require("waba_id")
    client = partner_client(step)
    with step.action(_("find the partner's credit line")):
        lines = ops.list_credit_lines(client, partner)
        ids = [str(line.get("id")) for line in lines]
        line_id = p.get("credit_line_id") or (ids[0] if ids else "")
        if not ids:
            raise ConfigError(_("business {business_id} has no extended credit line: a Solution Partner gets one from "
                                "Meta (Business settings > Payments); until then its customers' paid messages fail "
                                "(131042).").format(business_id=partner))
        if line_id not in ids:
            raise ConfigError(_("credit line {line_id} is not one of business {business_id}'s ({line_ids}): "
                                "leave credit_line_id empty to use the partner's own.").format(
                line_id=line_id, business_id=partner, line_ids=", ".join(ids)))
    with step.action(_("read the WABA's currency and funding")):
        waba = ops.get_waba(client, waba_id, fields=("id", "name", "currency", "primary_funding_id", "owner_business_info"))
    customer = str((waba.get("owner_business_info") or {}).get("id") or p.get("business_id") or "")
    currency = p.get("waba_currency") or str(waba.get("currency") or "")
    if currency not in ops.CREDIT_CURRENCIES:
        with step.action(_("check the currency")):
            raise ConfigError(_("WABA {waba_id} bills in {currency}; a shared credit line bills in "
                                "{currencies}: set waba_currency to one of them.").format(
                waba_id=waba_id, currency=currency or _("no currency"), currencies=", ".join(ops.CREDIT_CURRENCIES)))
    # Meta's check: a share creates a receiving credential for the customer's business, and the WABA's
    # primary_funding_id is that credential's id, not the line's (docs/meta-facts.md, "Credit lines").
    with step.action(_("read credit line {line_id}'s shares with the customer").format(line_id=line_id)):
        credentials = _receiving_credentials(client, line_id, customer)
    already = str(waba.get("primary_funding_id") or "") in credentials
    allocation = None
    if not already:
        def attached() -> dict[str, Any] | None:
            funded = ops.get_waba(client, waba_id, fields=("id", "primary_funding_id"))
            funding = str(funded.get("primary_funding_id") or "")
            return dict(funded) if funding and funding in _receiving_credentials(client, line_id, customer) else None
        with step.action(_("share and attach credit line {line_id} in {currency}").format(line_id=line_id,
                                                                                           currency=currency)):
            try:
                shared = guarded_write(step, f"credit_share:{waba_id}",
                                       _("share credit line {line_id}").format(line_id=line_id),
                                       keep=("allocation_config_id", "primary_funding_id"),
                                       write=lambda: _share_once(client, line_id, waba_id, currency),
                                       read_back=attached)
                allocation = None if shared.adopted else shared.value
            except GraphAPIError as exc:
                if exc.code in (10, 200):  # permission: the task is missing, not the token
                    exc.remedy = _(BILLING_REMEDY)
                raise
        with step.action(_("read the share's receiving credential")):
            if allocation and allocation.get("allocation_config_id"):
                credentials = {**credentials, ops.receiving_credential(client, str(allocation["allocation_config_id"])):
                               str(allocation["allocation_config_id"])}
            else:
                credentials = _receiving_credentials(client, line_id, customer)
    with step.action(_("confirm the WABA's funding")):
        after = ops.get_waba(client, waba_id, fields=("id", "name", "currency", "primary_funding_id"))
    funding = str(after.get("primary_funding_id") or "")
    ok = bool(funding) and funding in credentials
    step.output(credit_line_id=line_id)
    step.fact(skipped=False, partner_business_id=partner, credit_line_id=line_id, currency=currency,
              already_attached=already, allocation_config_id=(allocation or {}).get("allocation_config_id")
              or credentials.get(funding), receiving_credential_id=funding if ok else None,
              primary_funding_id=after.get("primary_funding_id"))
    table = pd.DataFrame([{"credit_line_id": str(line.get("id")), "legal_entity_name": line.get("legal_entity_name"),
                           "attached_to_waba": ok and str(line.get("id")) == line_id}
                          for line in lines], columns=["credit_line_id", "legal_entity_name", "attached_to_waba"])
    verdict = ((_("credit line {line_id} already attached to WABA {waba_id} (nothing to do)") if already
                else _("credit line {line_id} shared and attached to WABA {waba_id}, billed in {currency}")) if ok
               else _("WABA {waba_id} is funded by {funding}, not by credit line {line_id}'s receiving credential "
                      "({credentials})")).format(
        line_id=line_id, waba_id=waba_id, currency=currency, funding=funding or _("nothing"),
        credentials=", ".join(credentials) or _("none"))
    return {"lines": table, "ok": ok, "skipped": False, "already": already, "verdict": verdict}


def _receiving_credentials(client: GraphClient, line_id: str, business_id: str) -> dict[str, str]:
    """receiving credential id -> allocation config id, for the line's shares with `business_id` (all, if empty)."""
    shares = ops.credit_allocations(client, line_id, receiving_business_id=business_id or None)
    return {str((share.get("receiving_credential") or {}).get("id")): str(share.get("id"))
            for share in shares if (share.get("receiving_credential") or {}).get("id")}


def _share_once(client: GraphClient, line_id: str, waba_id: str, currency: str) -> dict[str, Any]:
    # Never re-sent after a lost answer (each call allocates): guarded_write reads the funding back instead.
    with client.write_once():
        return ops.share_credit_line(client, line_id, waba_id=waba_id, waba_currency=currency)


# ---- 11 business profile ------------------------------------------------------------------------------
PROFILE_KEYS = {"about": "business_about", "address": "business_address", "description": "business_description",
                "email": "business_email", "websites": "business_websites", "vertical": "business_vertical"}


def _shown(value: Any) -> Any:
    return ", ".join(value) if isinstance(value, list) else value


@step_action
def business_profile(step: Step) -> dict[str, Any]:
    """Show the number's business profile, set the profile's business_* keys that differ, confirm with the GET."""
    p = step.params
    with step.action(_("find the business number")):
        phone_id = phone_number_id(step)
    with step.action(_("read the business profile")):
        before = ops.get_business_profile(step.client, phone_id)
    wanted = {field: p.get(param) for field, param in PROFILE_KEYS.items() if p.get(param) not in (None, "", [])}
    changes = {k: v for k, v in wanted.items() if before.get(k) != v}
    if changes:
        def matches() -> dict[str, Any] | None:
            now = ops.get_business_profile(step.client, phone_id)
            return dict(now) if all(now.get(k) == v for k, v in changes.items()) else None
        setting = _("set {fields}").format(fields=", ".join(changes))
        with step.action(setting):
            # Idempotent at Meta: after a lost answer the profile read back says whether it took.
            guarded_write(step, f"business_profile:{phone_id}", setting, keep=(),
                          write=lambda: ops.set_business_profile(step.client, phone_id, **changes), read_back=matches)
        with step.action(_("confirm with GET")):
            after = ops.get_business_profile(step.client, phone_id)
    else:
        after = before
    differs = sorted(k for k, v in wanted.items() if after.get(k) != v)
    rows = [{"field": k, "before": _shown(before.get(k)), "wanted": _shown(wanted.get(k)), "now": _shown(after.get(k))}
            for k in ops.BUSINESS_PROFILE_FIELDS]
    step.fact(phone_number_id=phone_id, set_fields=sorted(changes), already_set=bool(wanted) and not changes,
              differs=differs, vertical=after.get("vertical"))
    if not wanted:
        verdict = _("no business_* keys in the profile: the current profile is shown, nothing set")
    elif differs:
        verdict = _("the profile still differs in {fields}").format(fields=", ".join(differs))
    else:
        verdict = (_("the profile already matches (nothing to do)") if not changes
                   else _("profile set: {fields}").format(fields=", ".join(sorted(changes))))
    return {"profile": pd.DataFrame(rows, columns=["field", "before", "wanted", "now"]), "ok": not differs,
            "verdict": verdict}


# ---- 12 message templates -----------------------------------------------------------------------------
def templates_table(templates: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [{"name": t.get("name"), "language": t.get("language"), "category": t.get("category"),
             "status": t.get("status"), "quality": ((t.get("quality_score") or {}).get("score")
                                                    if isinstance(t.get("quality_score"), dict) else t.get("quality_score")),
             "rejected_reason": t.get("rejected_reason"), "template_id": str(t.get("id") or "")} for t in templates]
    return pd.DataFrame(rows, columns=["name", "language", "category", "status", "quality", "rejected_reason",
                                       "template_id"])


def _find(templates: Iterable[Mapping[str, Any]], name: str, language: str) -> dict[str, Any] | None:
    return next((dict(t) for t in templates if t.get("name") == name and t.get("language") == language), None)


def _wait_for_review(step: Step, waba_id: str, name: str, language: str, wait: float) -> dict[str, Any] | None:
    """Poll the template until its review ends or `wait` seconds pass.

    Against an emulator its clock moves instead, in small steps so that the clock moves no further
    than the review needs (other customers' codes and windows run on the same clock).
    """
    started, waited = time.monotonic(), 0.0
    while True:
        template = _find(ops.list_message_templates(step.client, waba_id, name=name), name, language)
        if template is None or template.get("status") != "PENDING" or waited >= wait:
            return template
        stride = min(REVIEW_POLL_SECONDS, wait - waited)
        if step.peer.let_time_pass(stride):
            waited += stride
            time.sleep(0.1)  # the emulator finishes the reviews due on its next tick
        else:
            time.sleep(min(stride, max(0.0, wait - (time.monotonic() - started))))
            waited = time.monotonic() - started


def _exists_already(exc: GraphAPIError) -> bool:
    """100/2388024: "Content in this language already exists" (another run made it): read it back."""
    return exc.code == 100 and exc.subcode == 2388024


@step_action
def templates(step: Step) -> dict[str, Any]:
    """List the WABA's templates; create the customer's first utility template if missing; wait for its review."""
    p = step.params
    (waba_id,) = step.require("waba_id")
    with step.action(_("list the templates (every page)")):
        listed = ops.list_message_templates(step.client, waba_id)
    name, language = p.get("first_template_name") or "", p.get("first_template_language") or "en_US"
    approved = sum(1 for t in listed if t.get("status") == "APPROVED")
    if not name:
        step.fact(templates=len(listed), approved=approved, first_template=None)
        return {"templates": templates_table(listed), "ok": True,
                "verdict": _("{count} templates, {approved} approved; no first_template_name: nothing created").format(
                    count=len(listed), approved=approved)}
    template = _find(listed, name, language)  # one of the same name and language is adopted, never created twice
    created = template is None
    if created:
        with step.action(_("create the utility template {name} ({language})").format(name=name, language=language)):
            (body,) = step.require("first_template_body")
            made = guarded_write(
                step, f"template_create:{waba_id}/{name}/{language}",
                _("create template {name} ({language})").format(name=name, language=language),
                keep=("id", "status"),
                write=lambda: ops.create_message_template(step.client, waba_id, name=name, language=language, body=body),
                read_back=lambda: _find(ops.list_message_templates(step.client, waba_id, name=name), name, language),
                adopt_error=_exists_already)
            answer = made.value
            created = not made.adopted
            template = dict(answer) if made.adopted else {
                "name": name, "language": language, "id": answer.get("id"), "status": answer.get("status", "PENDING"),
                "category": answer.get("category", "UTILITY")}
    if template.get("status") == "PENDING":
        with step.action(_("wait for the review")):
            template = _wait_for_review(step, waba_id, name, language, p["template_wait_seconds"]) or template
    with step.action(_("list the templates again")):
        listed = ops.list_message_templates(step.client, waba_id)
    status = str(template.get("status"))
    step.output(template_id=str(template.get("id") or ""))
    step.fact(templates=len(listed), approved=sum(1 for t in listed if t.get("status") == "APPROVED"),
              first_template=name, template_language=language, template_id=str(template.get("id") or ""),
              template_status=status, created=created, rejected_reason=template.get("rejected_reason"),
              pending=status == "PENDING", rerun_on_resume=status == "PENDING")
    table = templates_table(listed)
    if status == "REJECTED":
        reason = template.get("rejected_reason")
        remedy = f"{template_rejection(reason)} {own_remedy('TemplateRejected', where=step.where).shell}"
        error = {"type": "TemplateRejected",
                 "message": _("template {name} ({language}) was rejected: {reason}").format(
                     name=name, language=language, reason=reason),
                 "rejected_reason": reason, "remedy": remedy}
        step.failure_tables.append((_("Message templates"), tables.style_templates(table)))
        exc = StepFailed(_("template {name} was rejected ({reason}): {advice}").format(
            name=name, reason=reason, advice=template_rejection(reason)))
        step.record_failure(exc, _("wait for the review"), error=error)
        raise exc
    if status not in ("APPROVED", "PENDING"):
        return {"templates": table, "ok": False,
                "verdict": _("template {name} is {status}: it cannot be sent").format(name=name, status=status)}
    seconds = f"{p['template_wait_seconds']:g}"
    if status == "APPROVED":
        verdict = (_("template {name} ({language}) created and approved") if created
                   else _("template {name} ({language}) approved")).format(name=name, language=language)
    else:
        verdict = (_("template {name} ({language}) created, still in review after {seconds} s: not a failure; run "
                     "again (or --resume) to pick up the result") if created
                   else _("template {name} ({language}) still in review after {seconds} s: not a failure; run again "
                          "(or --resume) to pick up the result")).format(name=name, language=language, seconds=seconds)
    return {"templates": table, "ok": True, "pending": status == "PENDING", "verdict": verdict,
            "warnings": [_("Still in review: {verdict}.").format(verdict=verdict)] if status == "PENDING" else []}


# ---- 13 go-live ---------------------------------------------------------------------------------------
def health_table(health: Mapping[str, Any]) -> pd.DataFrame:
    """health_status as one row per entity (and per error): status, error code, description, possible solution."""
    order = {kind: i for i, kind in enumerate(ops.HEALTH_ENTITY_ORDER)}
    rows = []
    entities = sorted(health.get("entities") or [], key=lambda e: order.get(str(e.get("entity_type")), 99))
    for entity in entities:
        base = {"entity_type": entity.get("entity_type"), "id": str(entity.get("id") or ""),
                "can_send_message": entity.get("can_send_message"),
                "can_receive_call_sip": entity.get("can_receive_call_sip"),
                "additional_info": " ".join(entity.get("additional_info") or []) or None}
        errors = entity.get("errors") or [{}]
        for error in errors:
            rows.append({**base, "error_code": error.get("error_code"), "error_description": error.get("error_description"),
                         "possible_solution": error.get("possible_solution")})
    return pd.DataFrame(rows, columns=["entity_type", "id", "can_send_message", "can_receive_call_sip", "error_code",
                                       "error_description", "possible_solution", "additional_info"])


@step_action
def go_live(step: Step) -> dict[str, Any]:
    """Meta's readiness summary for the number: health_status of every entity; BLOCKED fails, LIMITED warns."""
    with step.action(_("find the business number")):
        phone_id = phone_number_id(step)
    with step.action(_("read health_status")):
        health = ops.get_health_status(step.client, phone_id)
    table = health_table(health)
    overall = str(health.get("can_send_message") or "UNKNOWN")
    by_entity = {f"{r.entity_type} {r.id}": r.can_send_message for r in table.drop_duplicates(["entity_type", "id"])
                 .itertuples()}
    # Errors about calling over SIP sit beside messaging's on the same entities: they never block the go-live.
    messaging = table[~table["error_code"].isin(ops.CALLING_HEALTH_CODES)]
    blocked = messaging[messaging["can_send_message"] == "BLOCKED"]
    limited = table[table["can_send_message"] == "LIMITED"]
    info = [str(v) for v in limited["additional_info"].dropna().unique()]
    step.fact(phone_number_id=phone_id, can_send_message=overall, entities=by_entity,
              blocking=[{"entity_type": r.entity_type, "id": r.id, "error_code": r.error_code,
                         "possible_solution": r.possible_solution} for r in blocked.itertuples()],
              limited_info=info)
    if overall == "BLOCKED" or not blocked.empty:
        first = blocked.iloc[0] if not blocked.empty else None
        code = None if first is None or pd.isna(first["error_code"]) else int(first["error_code"])
        solution = None if first is None else first["possible_solution"]
        what = "" if first is None else f"{first['entity_type']} {first['id']}: {first['error_description']}"
        error = {"type": "HealthStatusBlocked", "code": code,
                 "message": _("messaging is BLOCKED ({what})").format(what=what),
                 "entities": health.get("entities") or [],  # the record keeps them; the table under the error shows them
                 "remedy": solution or own_remedy("HealthStatusBlocked", where=step.where).shell}
        step.failure_tables.append((_("Health status of every entity"), tables.style_health(table)))  # under the error
        exc = StepFailed(_("messaging is BLOCKED ({what}): {solution}").format(what=what, solution=solution))
        step.record_failure(exc, _("read health_status"), error=error)
        raise exc
    warnings = []
    if overall == "LIMITED":
        warnings.append(_("LIMITED: {info}").format(info=" ".join(info) or _("some messages cannot be sent")))
        verdict = _("LIMITED: messaging works with limits: {info}").format(info=" ".join(info) or _("see the table"))
    else:
        verdict = _("AVAILABLE: every entity ({entities}) can send messages; the customer is live").format(
            entities=", ".join(by_entity))
    return {"health": table, "ok": overall in ("AVAILABLE", "LIMITED"), "can_send_message": overall,
            "verdict": verdict, "warnings": warnings}
