"""The Solution Partner's steps beyond the guide: 07a system user, 07b credit line (both before
registration, as Meta orders them), 11 business profile, 12 templates, 13 go-live health.

Each returns {"ok", "verdict", tables...} like the actions of 00 to 10, writes its facts and
outputs into the step's record, and treats "already done" as a success without the write call.
Every write goes through helpers.steps.journal.guarded_write: a lost answer is read back, never doubled.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

import pandas as pd

from .. import operations as ops, tables
from ..client import GraphClient
from ..errors import ConfigError, GraphAPIError, StepFailed
from ..parameters import env_name_of
from ..remedies import own_remedy, template_rejection
from .actions import phone_number_id, step_action
from .journal import guarded_write
from .step import Step

MPS_REMEDY = ("The WABA is shared through a Multi-Partner Solution that does not grant these tasks. Set "
              "assigned_tasks to the granular tasks the solution grants (e.g. MANAGE_TEMPLATES, MANAGE_PHONE, "
              "MANAGE_BILLING for the credit line) instead of MANAGE, then run the step again.")
BILLING_REMEDY = ("The partner's system user lacks MANAGE_BILLING on this WABA (shared through a Multi-Partner "
                  "Solution). Add MANAGE_BILLING to assigned_tasks and run 07a_system_user, then this step again.")
REVIEW_POLL_SECONDS = 15.0   # how often the template's status is read while its review runs


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
        raise ConfigError("partner_business_id (or business_id) is empty: the assigned users are listed per business.")
    client = partner_client(step)
    with step.action("find the system user"):
        user_id = p.get("system_user_id") or str(ops.check_token(client).get("user_id") or "")
        if not user_id:
            raise ConfigError("the token names no user: set system_user_id to the system user to assign.")
    wanted = list(p["assigned_tasks"])
    with step.action("list the WABA's assigned users"):
        users = ops.list_assigned_users(client, waba_id, business_id=business)
    current = next((u for u in users if str(u.get("id")) == user_id), None)
    already = _has_tasks(current, wanted)
    if not already:
        def assigned() -> dict[str, Any] | None:
            listed = ops.list_assigned_users(client, waba_id, business_id=business)
            user = next((u for u in listed if str(u.get("id")) == user_id), None)
            return dict(user) if _has_tasks(user, wanted) else None
        with step.action(f"assign system user {user_id} with {', '.join(wanted)}"):
            try:
                guarded_write(step, f"user_assign:{waba_id}/{user_id}", f"assign system user {user_id}", keep=("id",),
                              write=lambda: ops.assign_user(client, waba_id, user_id=user_id, tasks=wanted),
                              read_back=assigned)
            except GraphAPIError as exc:
                if exc.code in (10, 200):  # permission: the task is missing, not the token
                    exc.remedy = MPS_REMEDY
                raise
        with step.action("confirm with GET"):
            users = ops.list_assigned_users(client, waba_id, business_id=business)
        current = next((u for u in users if str(u.get("id")) == user_id), None)
    ok = _has_tasks(current, wanted)
    tasks = list((current or {}).get("tasks") or [])
    step.output(system_user_id=user_id)
    step.fact(system_user_id=user_id, wanted_tasks=wanted, tasks=tasks, already_assigned=already,
              granular="MANAGE" not in wanted)
    verdict = ((f"system user {user_id} already has {', '.join(tasks)} on WABA {waba_id} (nothing to do)" if already
                else f"system user {user_id} assigned to WABA {waba_id} with {', '.join(tasks)}") if ok
               else f"system user {user_id} is not assigned {', '.join(wanted)} on WABA {waba_id}")
    return {"users": users_table(users), "ok": ok, "already": already, "verdict": verdict}


# ---- 07b credit line --------------------------------------------------------------------------------
@step_action
def credit_line(step: Step) -> dict[str, Any]:
    """Share the partner's credit line with the customer and attach it to the WABA, before registration."""
    p = step.params
    partner = _partner_of(step)
    if partner is None:
        step.fact(skipped=True, reason="no partner_business_id: the business pays for its own WABA "
                                       "(a Solution Partner's credit line applies only to its clients)")
        return {"ok": True, "skipped": True, "lines": pd.DataFrame(columns=["credit_line_id", "legal_entity_name"]),
                "verdict": "not applicable: skipped (the customer is not a Solution Partner's client)"}
    (waba_id,) = step.require("waba_id")
    client = partner_client(step)
    with step.action("find the partner's credit line"):
        lines = ops.list_credit_lines(client, partner)
        ids = [str(line.get("id")) for line in lines]
        line_id = p.get("credit_line_id") or (ids[0] if ids else "")
        if not ids:
            raise ConfigError(f"business {partner} has no extended credit line: a Solution Partner gets one from Meta "
                              "(Business settings > Payments); until then its customers' paid messages fail (131042).")
        if line_id not in ids:
            raise ConfigError(f"credit line {line_id} is not one of business {partner}'s ({', '.join(ids)}): "
                              "leave credit_line_id empty to use the partner's own.")
    with step.action("read the WABA's currency and funding"):
        waba = ops.get_waba(client, waba_id, fields=("id", "name", "currency", "primary_funding_id"))
    currency = p.get("waba_currency") or str(waba.get("currency") or "")
    if currency not in ops.CREDIT_CURRENCIES:
        with step.action("check the currency"):
            raise ConfigError(f"WABA {waba_id} bills in {currency or 'no currency'}; a shared credit line bills in "
                              f"{', '.join(ops.CREDIT_CURRENCIES)}: set waba_currency to one of them.")
    already = str(waba.get("primary_funding_id") or "") == line_id
    allocation = None
    if not already:
        def attached() -> dict[str, Any] | None:
            funded = ops.get_waba(client, waba_id, fields=("id", "primary_funding_id"))
            return dict(funded) if str(funded.get("primary_funding_id") or "") == line_id else None
        with step.action(f"share and attach credit line {line_id} in {currency}"):
            try:
                shared = guarded_write(step, f"credit_share:{waba_id}", f"share credit line {line_id}",
                                       keep=("allocation_config_id", "primary_funding_id"),
                                       write=lambda: _share_once(client, line_id, waba_id, currency),
                                       read_back=attached)
                allocation = None if shared.adopted else shared.value
            except GraphAPIError as exc:
                if exc.code in (10, 200):  # permission: the task is missing, not the token
                    exc.remedy = BILLING_REMEDY
                raise
    with step.action("confirm the WABA's funding"):
        after = ops.get_waba(client, waba_id, fields=("id", "name", "currency", "primary_funding_id"))
    ok = str(after.get("primary_funding_id") or "") == line_id
    step.output(credit_line_id=line_id)
    step.fact(skipped=False, partner_business_id=partner, credit_line_id=line_id, currency=currency,
              already_attached=already, allocation_config_id=(allocation or {}).get("allocation_config_id"),
              primary_funding_id=after.get("primary_funding_id"))
    table = pd.DataFrame([{"credit_line_id": str(line.get("id")), "legal_entity_name": line.get("legal_entity_name"),
                           "attached_to_waba": str(line.get("id")) == str(after.get("primary_funding_id") or "")}
                          for line in lines], columns=["credit_line_id", "legal_entity_name", "attached_to_waba"])
    verdict = ((f"credit line {line_id} already attached to WABA {waba_id} (nothing to do)" if already
                else f"credit line {line_id} shared and attached to WABA {waba_id}, billed in {currency}") if ok
               else f"WABA {waba_id} is funded by {after.get('primary_funding_id') or 'nothing'}, not {line_id}")
    return {"lines": table, "ok": ok, "skipped": False, "already": already, "verdict": verdict}


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
    with step.action("find the business number"):
        phone_id = phone_number_id(step)
    with step.action("read the business profile"):
        before = ops.get_business_profile(step.client, phone_id)
    wanted = {field: p.get(param) for field, param in PROFILE_KEYS.items() if p.get(param) not in (None, "", [])}
    changes = {k: v for k, v in wanted.items() if before.get(k) != v}
    if changes:
        def matches() -> dict[str, Any] | None:
            now = ops.get_business_profile(step.client, phone_id)
            return dict(now) if all(now.get(k) == v for k, v in changes.items()) else None
        with step.action(f"set {', '.join(changes)}"):
            # Idempotent at Meta: after a lost answer the profile read back says whether it took.
            guarded_write(step, f"business_profile:{phone_id}", f"set {', '.join(changes)}", keep=(),
                          write=lambda: ops.set_business_profile(step.client, phone_id, **changes), read_back=matches)
        with step.action("confirm with GET"):
            after = ops.get_business_profile(step.client, phone_id)
    else:
        after = before
    differs = sorted(k for k, v in wanted.items() if after.get(k) != v)
    rows = [{"field": k, "before": _shown(before.get(k)), "wanted": _shown(wanted.get(k)), "now": _shown(after.get(k))}
            for k in ops.BUSINESS_PROFILE_FIELDS]
    step.fact(phone_number_id=phone_id, set_fields=sorted(changes), already_set=bool(wanted) and not changes,
              differs=differs, vertical=after.get("vertical"))
    if not wanted:
        verdict = "no business_* keys in the profile: the current profile is shown, nothing set"
    elif differs:
        verdict = f"the profile still differs in {', '.join(differs)}"
    else:
        verdict = ("the profile already matches (nothing to do)" if not changes
                   else f"profile set: {', '.join(sorted(changes))}")
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


def style_templates(table: pd.DataFrame):
    """The templates in the steps' one table style, the review status coloured."""
    return tables.show(table, backgrounds={"status": lambda s: tables.TEMPLATE_COLOURS.get(s, "")})


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
    with step.action("list the templates (every page)"):
        listed = ops.list_message_templates(step.client, waba_id)
    name, language = p.get("first_template_name") or "", p.get("first_template_language") or "en_US"
    approved = sum(1 for t in listed if t.get("status") == "APPROVED")
    if not name:
        step.fact(templates=len(listed), approved=approved, first_template=None)
        return {"templates": templates_table(listed), "ok": True,
                "verdict": f"{len(listed)} templates, {approved} approved; no first_template_name: nothing created"}
    template = _find(listed, name, language)  # one of the same name and language is adopted, never created twice
    created = template is None
    if created:
        with step.action(f"create the utility template {name} ({language})"):
            (body,) = step.require("first_template_body")
            made = guarded_write(
                step, f"template_create:{waba_id}/{name}/{language}", f"create template {name} ({language})",
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
        with step.action("wait for the review"):
            template = _wait_for_review(step, waba_id, name, language, p["template_wait_seconds"]) or template
    with step.action("list the templates again"):
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
        error = {"type": "TemplateRejected", "message": f"template {name} ({language}) was rejected: {reason}",
                 "rejected_reason": reason, "remedy": remedy}
        step.failure_tables.append(("Message templates", style_templates(table)))
        exc = StepFailed(f"template {name} was rejected ({reason}): {template_rejection(reason)}")
        step._fail(exc, "wait for the review", error=error)
        raise exc
    if status not in ("APPROVED", "PENDING"):
        return {"templates": table, "ok": False, "verdict": f"template {name} is {status}: it cannot be sent"}
    verdict = (f"template {name} ({language}) {'created and ' if created else ''}approved" if status == "APPROVED"
               else f"template {name} ({language}) {'created, ' if created else ''}still in review after "
                    f"{p['template_wait_seconds']:g} s: not a failure; run again (or --resume) to pick up the result")
    return {"templates": table, "ok": True, "pending": status == "PENDING", "verdict": verdict,
            "warnings": [f"Still in review: {verdict}."] if status == "PENDING" else []}


# ---- 13 go-live ---------------------------------------------------------------------------------------
def health_table(health: Mapping[str, Any]) -> pd.DataFrame:
    """health_status as one row per entity (and per error): status, error code, description, possible solution."""
    order = {kind: i for i, kind in enumerate(ops.HEALTH_ENTITY_ORDER)}
    rows = []
    entities = sorted(health.get("entities") or [], key=lambda e: order.get(str(e.get("entity_type")), 99))
    for entity in entities:
        base = {"entity_type": entity.get("entity_type"), "id": str(entity.get("id") or ""),
                "can_send_message": entity.get("can_send_message"),
                "additional_info": " ".join(entity.get("additional_info") or []) or None}
        errors = entity.get("errors") or [{}]
        for error in errors:
            rows.append({**base, "error_code": error.get("error_code"), "error_description": error.get("error_description"),
                         "possible_solution": error.get("possible_solution")})
    return pd.DataFrame(rows, columns=["entity_type", "id", "can_send_message", "error_code", "error_description",
                                       "possible_solution", "additional_info"])


def style_health(table: pd.DataFrame):
    """health_status in the steps' one table style, each entity's can_send_message coloured."""
    return tables.show(table, backgrounds={"can_send_message": lambda s: tables.HEALTH_COLOURS.get(s, "")})


@step_action
def go_live(step: Step) -> dict[str, Any]:
    """Meta's readiness summary for the number: health_status of every entity; BLOCKED fails, LIMITED warns."""
    with step.action("find the business number"):
        phone_id = phone_number_id(step)
    with step.action("read health_status"):
        health = ops.get_health_status(step.client, phone_id)
    table = health_table(health)
    overall = str(health.get("can_send_message") or "UNKNOWN")
    by_entity = {f"{r.entity_type} {r.id}": r.can_send_message for r in table.drop_duplicates(["entity_type", "id"])
                 .itertuples()}
    blocked = table[table["can_send_message"] == "BLOCKED"]
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
        error = {"type": "HealthStatusBlocked", "code": code, "message": f"messaging is BLOCKED ({what})",
                 "entities": health.get("entities") or [],  # the record keeps them; the table under the error shows them
                 "remedy": solution or own_remedy("HealthStatusBlocked", where=step.where).shell}
        step.failure_tables.append(("Health status of every entity", style_health(table)))  # shown under the error
        exc = StepFailed(f"messaging is BLOCKED ({what}): {solution}")
        step._fail(exc, "read health_status", error=error)
        raise exc
    warnings = []
    if overall == "LIMITED":
        warnings.append("LIMITED: " + (" ".join(info) or "some messages cannot be sent"))
        verdict = "LIMITED: messaging works with limits: " + (" ".join(info) or "see the table")
    else:
        verdict = f"AVAILABLE: every entity ({', '.join(by_entity)}) can send messages; the customer is live"
    return {"health": table, "ok": overall in ("AVAILABLE", "LIMITED"), "can_send_message": overall,
            "verdict": verdict, "warnings": warnings}
