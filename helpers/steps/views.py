"""What a step's result area shows: the last run's verdict and tables, or its failure as the error block.

`Step.run` (the action cell and the form's Run) draws `result_view(step)` into the step's one
result area. Any action that returns a dict gets a view: its verdict line, then every DataFrame
in it (in order, under a heading), each through `tables.show`. A few keys have views of their own
(the phone numbers' compact table, 02's diagnosis, 04's warnings).
"""
from __future__ import annotations

from html import escape
from typing import Any, Callable, Mapping

import pandas as pd
from IPython.display import HTML, Markdown

from .. import plan, tables
from ..i18n import N_, _
from .failures import TERMS_REMEDY

# Headings for the tables steps return, by their key in the result (marked N_(), shown with _()).
TITLES = {
    "decisions": N_("Decision table"), "throughput": N_("Throughput"), "compliance": N_("Compliance"),
    "features": N_("Features"), "steps": N_("This customer's steps"), "checklist": N_("Checklist"),
    "token": N_("The token"), "waba": N_("The WABA"), "numbers": N_("Phone numbers"), "terms": N_("Terms of Service"),
    "versions": N_("API versions"), "checks": N_("The endpoint, checked as Meta would"),
    "subscription": N_("The app's webhook subscription"), "apps": N_("The WABA's subscribed apps"),
    "message": N_("The consumer's message"), "timeline": N_("Status timeline"),
    "users": N_("Users assigned to the WABA"), "lines": N_("The partner's credit lines"),
    "profile": N_("Business profile"), "templates": N_("Message templates"),
    "health": N_("Health status of every entity"),
}
# What the Run button does, for the line a page shows before it is pressed (by the action's name; marked N_()).
RUN_HINTS = {
    "plan": N_("build the plan"), "assets": N_("check the assets"), "terms": N_("check the Terms of Service"),
    "access_token": N_("check the access token"), "webhooks": N_("check and save the webhook"),
    "subscribe_waba": N_("subscribe the app to the WABA"), "phone_numbers": N_("list the phone numbers"),
    "migration": N_("migrate the number"), "register": N_("register the number"),
    "set_new_pin_and_register": N_("set a new PIN and register the number"),
    "receive_message": N_("receive the consumer's message"), "send_test_message": N_("send the test message"),
    "system_user": N_("assign the partner's system user to the WABA"),
    "credit_line": N_("share and attach the credit line"),
    "business_profile": N_("set the business profile"), "templates": N_("list and create the first template"),
    "go_live": N_("read the go-live health status"),
}
# The plan's tables (helpers.plan): their fixed words (verdicts, yes/no) are translated where shown.
PLAN_KEYS = ("decisions", "throughput", "compliance", "features", "steps")


def _styled(key: str, value: pd.DataFrame, step) -> Any:
    """A result table in the one style; numbers, templates and health colour their own columns."""
    if key == "numbers":
        return tables.style_phone_numbers(value, all_columns=bool(step.params.get("show_all_columns")))
    if key in ("templates", "health"):
        return tables.style_templates(value) if key == "templates" else tables.style_health(value)
    if key in PLAN_KEYS:
        return tables.show(plan.localized(value))
    return tables.show(value)


def _markdown(text: str) -> Any:
    return Markdown(text)


def _line(mark: str, text: Any) -> Any:
    """A verdict or warning in bold, as HTML: its text holds IDs and names like business_* that Markdown would mangle."""
    return HTML(f"<p><b>{mark} {escape(str(text))}</b></p>")


def run_hint(action: Callable[..., Any]) -> list[Any]:
    """The one line a page shows instead of acting on open."""
    what = getattr(action, "run_hint", None) or RUN_HINTS.get(getattr(action, "__name__", ""), N_("run this step"))
    return [_markdown(_("Press Run in the form above to {what}.").format(what=_(what)))]


_CALLS_CSS = ("<style>.playbook-calls{border-collapse:collapse;font-size:12px;margin:4px 0}"
              ".playbook-calls th,.playbook-calls td{border:1px solid #ccc;padding:2px 6px;text-align:left;"
              "vertical-align:top}.playbook-calls td.path{word-break:break-all}"
              ".playbook-curl pre{white-space:pre-wrap;word-break:break-all;font-size:11px;margin:2px 0}</style>")


def graph_calls_html(calls: list[Mapping[str, Any]]) -> str:
    """Graph calls as a compact table (method, path, status, ms, fbtrace_id) and a <details> with the curl lines."""
    def cell(value: Any) -> str:
        return "" if value is None else escape(str(value))

    rows = "".join(
        f"<tr><td>{cell(c.get('method'))}</td><td class='path'>{cell(c.get('path'))}</td>"
        f"<td>{cell(c.get('status') if c.get('status') is not None else c.get('error'))}"
        f"{' (' + cell(c['error_code']) + ')' if c.get('error_code') else ''}</td>"
        f"<td>{cell(c.get('ms'))}</td><td>{cell(c.get('fbtrace_id'))}</td></tr>" for c in calls)
    curls = "\n".join(escape(str(c.get("curl") or "")) for c in calls)
    count = (_("1 Graph call") if len(calls) == 1 else _("{count} Graph calls").format(count=len(calls)))
    summary = _("The same calls as curl (secrets as $VARIABLE: export them first)")
    method, path, status = (escape(_("method")), escape(_("path")), escape(_("status")))
    return (f"{_CALLS_CSS}<div class='playbook-graph-calls'><b>{escape(count)}</b>"
            f"<table class='playbook-calls'><thead><tr><th>{method}</th><th>{path}</th>"
            f"<th>{status}</th><th>ms</th>"
            f"<th>fbtrace_id</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<details class='playbook-curl'><summary>{escape(summary)}</summary><pre>{curls}</pre></details></div>")


def calls_view(step) -> list[Any]:
    """The Graph calls of the last run, below its result (method, path, status, ms, fbtrace_id, curl)."""
    if not step.last_calls:
        return []
    return [HTML(graph_calls_html(step.last_calls))]


def result_view(step) -> list[Any]:
    """The objects the result area shows for the step's last run, then the Graph calls it made."""
    return (error_view(step) if step.last_error is not None else _result_objects(step)) + calls_view(step)


def _result_objects(step) -> list[Any]:
    result = step.last_result
    if not isinstance(result, dict):
        return [result] if result is not None else []
    shown: list[Any] = []
    ok = result.get("ok", True)
    for warning in result.get("warnings") or []:
        shown.append(_line("⚠️", warning))
    if result.get("verdict"):
        shown.append(_line("✅" if ok else "⚠️", result["verdict"]))
    for key, value in result.items():
        if key == "diagnosis":
            shown.extend(_terms_diagnosis(value))
        elif key == "problem" and value:
            shown.append(tables.style_error(tables.error_block(value)))
        elif isinstance(value, pd.DataFrame):
            if value.empty:
                continue
            title = _(TITLES[key]) if key in TITLES else key.replace("_", " ").capitalize()
            shown.append(_markdown(f"#### {title}"))
            shown.append(_styled(key, value, step))
        elif type(value).__name__ == "Styler":
            shown.append(value)
    return shown


def error_view(step) -> list[Any]:
    """The failure, as the remedy catalogue reads: which action, then code, title, what to do, fbtrace_id."""
    error = step.record.get("error") or {}
    action = _(error.get("action") or N_("the step"))
    shown = [_markdown("### ❌ " + _("{step}: {action} failed").format(step=step.name, action=action))]
    for warning in step.record["facts"].get("callback_warnings") or []:
        shown.append(_line("⚠️", warning))
    shown.append(tables.style_error(tables.error_block(error)))
    for heading, table in getattr(step, "failure_tables", []):
        shown.extend([_markdown(f"#### {_(heading)}"), table])
    if error.get("code") == 133005:
        shown.append(_markdown(_("Each wrong PIN counts towards a lock (133008). If nobody knows the PIN, use "
                                 "**Set a new PIN** in the form instead of guessing.")))
    return shown


def _terms_diagnosis(diagnosis: Any) -> list[Any]:
    if diagnosis:
        return [_markdown(_("**A register attempt failed because the Terms are not accepted.**") + " " + _(TERMS_REMEDY)),
                tables.style_error(tables.error_block(diagnosis))]
    return [_markdown(_("No register attempt in `run_dir` failed on the Terms of Service."))]
