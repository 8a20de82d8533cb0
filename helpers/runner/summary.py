"""The batch summary: who is done, who is stuck on which step and why (CSV, HTML grid, terminal)."""
from __future__ import annotations

import datetime as dt
import html
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import graph_reason
from ..i18n import DEFAULT_LANGUAGE, N_, _, current_language, in_language
from ..remedies import remedy_text
from .. import records
from ..records import FAILED, NOT_RUN, PASSED, TIMEOUT

SKIPPED = "skipped"  # passed because the step does not apply to this customer (facts.skipped)
_COLOURS = {PASSED: "#d4edda", FAILED: "#f8d7da", TIMEOUT: "#ffe5b4", NOT_RUN: "#eeeeee", SKIPPED: "#e2e3e5",
            "incomplete": "#eeeeee"}
# The statuses as a person reads them (the records and summary.csv keep the English values).
_STATUS_WORDS = {PASSED: N_("passed"), FAILED: N_("failed"), TIMEOUT: N_("timeout"), NOT_RUN: N_("not run"),
                 SKIPPED: N_("skipped"), "incomplete": N_("incomplete")}
# summary.csv's column keys, as the terminal table heads them.
_COLUMN_LABELS = {"customer": N_("customer"), "status": N_("status"), "failed_step": N_("failed_step"),
                  "error_code": N_("error_code"), "duration_s": N_("duration_s")}


def status_word(status: Any) -> str:
    """A status as displayed, in the current language ("passed" -> "통과"); an unknown one as it is."""
    text = str(status)
    return _(_STATUS_WORDS[text]) if text in _STATUS_WORDS else text


def collect(batch_dir: Path, customers: list[str], steps: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """{customer: {step: record}} read from disk, so the summary reflects what really finished."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for customer in customers:
        table[customer] = {}
        for step in steps:
            record = records.read(Path(batch_dir) / customer / f"{step}.json")
            table[customer][step] = record or {"status": NOT_RUN}
    return table


def _error_code(record: dict[str, Any]) -> str:
    error = record.get("error") or {}
    if error.get("code") is not None:
        return str(error["code"]) + (f"/{error['subcode']}" if error.get("subcode") else "")
    return error.get("type") or ""


def reason(record: dict[str, Any]) -> str:
    """The failure as one plain sentence (a Graph error: its title, Meta's message and the code)."""
    error = record.get("error") or {}
    if error.get("code") is not None:
        return graph_reason(error)
    text = " ".join(str(error.get("message") or "").split())  # one line, whatever the message held
    return text or (_("the step timed out") if record.get("status") == TIMEOUT else "")


def remedy(record: dict[str, Any]) -> str:
    """What to do: the record's remedy, else the catalogue's for the error's kind (worded for the shell)."""
    error = record.get("error") or {}
    if error.get("remedy"):
        return str(error["remedy"])
    kind = error.get("type") or ("StepTimeout" if record.get("status") == TIMEOUT else None)
    return remedy_text(kind, where="shell") if kind or error else ""


def frame(grid: dict[str, dict[str, dict[str, Any]]], steps: list[str]) -> pd.DataFrame:
    """One row per customer: a status per step, then the first problem and the total time."""
    rows = []
    for customer, by_step in grid.items():
        row: dict[str, Any] = {"customer": customer}
        first_problem = None
        total = 0.0
        for step in steps:
            record = by_step[step]
            status = display_status(record)
            row[step] = status
            total += float(record.get("wall_s") or record.get("duration_s") or 0)
            if first_problem is None and status not in (PASSED, NOT_RUN, SKIPPED):
                first_problem = (step, record)
        row["status"] = PASSED if all(display_status(by_step[s]) in (PASSED, SKIPPED) for s in steps) else (
            FAILED if first_problem else "incomplete")
        row["failed_step"] = first_problem[0] if first_problem else ""
        row["error_code"] = _error_code(first_problem[1]) if first_problem else ""
        row["error_message"] = reason(first_problem[1]) if first_problem else ""
        row["remedy"] = remedy(first_problem[1]) if first_problem else ""
        row["duration_s"] = round(total, 2)
        rows.append(row)
    return pd.DataFrame(rows, columns=["customer", *steps, "status", "failed_step", "error_code", "error_message",
                                       "remedy", "duration_s"])


def display_status(record: dict[str, Any]) -> str:
    """The status a person reads: a step that passed because it did not apply is "skipped"."""
    status = record.get("status", NOT_RUN)
    if status == PASSED and (record.get("facts") or {}).get("skipped"):
        return SKIPPED
    return status


def write(batch_dir: Path, grid: dict[str, dict[str, dict[str, Any]]], steps: list[str],
          notes: list[str] | None = None, batch: dict[str, Any] | None = None) -> pd.DataFrame:
    """summary.csv and summary.html in the batch folder; returns the frame.

    `notes`: lines about the batch itself (processes stopped or left running), shown under the
    terminal table and the HTML grid; they travel with the frame in `table.attrs["notes"]`.
    `batch`: batch_id, started_at, sandbox, target (the Graph URL), sandbox_faults and its seed; by default
    read from the folder's batch.json and sandbox.json, and the records' graph_url.
    """
    table = frame(grid, steps)
    table.attrs["notes"] = list(notes or [])
    table.attrs["language"] = current_language()  # the terminal summary speaks the language the files do
    table.to_csv(Path(batch_dir) / "summary.csv", index=False)
    about = {**batch_facts(Path(batch_dir), grid), **(batch or {})}
    (Path(batch_dir) / "summary.html").write_text(_html(grid, steps, table, about), encoding="utf-8")
    return table


def batch_facts(batch_dir: Path, grid: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """What the summary says about the batch: its id, start, and the Graph API it ran against."""
    asked = records.read(batch_dir / "batch.json") or {}
    sandbox = records.read(batch_dir / "sandbox.json") or {}
    targets = sorted({str(r["graph_url"]) for by_step in grid.values() for r in by_step.values() if r.get("graph_url")})
    return {"batch_dir": str(batch_dir), "batch_id": asked.get("batch_id"), "started_at": asked.get("started_at"),
            "sandbox": bool(asked.get("sandbox")),
            "sandbox_faults": asked.get("sandbox_faults"), "sandbox_faults_seed": asked.get("sandbox_faults_seed"),
            "target": sandbox.get("url") if asked.get("sandbox") and sandbox.get("url") else ", ".join(targets)}


def _faults(about: dict[str, Any]) -> str:
    """The header's injected-faults fact (--sandbox-faults), empty when the batch ran without."""
    rate = about.get("sandbox_faults")
    if rate is None:
        return ""
    return _("{rate} of Graph answers (seed {seed})").format(rate=f"{float(rate):g}",
                                                             seed=about.get("sandbox_faults_seed") or 0)


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _seconds(record: dict[str, Any]) -> str:
    seconds = record.get("wall_s") or record.get("duration_s")
    return _("{seconds} s").format(seconds=f"{float(seconds):.1f}") if seconds else ""


def _cell_html(batch_dir: Path | None, customer: str, step: str, record: dict[str, Any]) -> str:
    status = display_status(record)
    notebook = record.get("notebook") or f"{step}.ipynb"
    label = html.escape(status_word(status))
    if batch_dir is not None and status != NOT_RUN and (batch_dir / customer / notebook).is_file():
        href = urllib.parse.quote(f"{customer}/{notebook}")
        link_title = html.escape(_("the output notebook"), quote=True)
        label = f"<a href='{href}' title='{link_title}'>{label}</a>"
    seconds = _seconds(record)
    parts = [f"<div class='head'>{label}" + (f" <span class='time'>{seconds}</span>" if seconds else "") + "</div>"]
    facts = record.get("facts") or {}
    if status in (FAILED, TIMEOUT):
        code = _error_code(record)
        why = reason(record)
        if code:  # the code leads the cell in bold; the sentence need not end with it again
            why = re.sub(r"\s*\(code [^)]*\)$", "", why)
        parts.append("<div class='why'>" + (f"<b>{html.escape(code)}</b> " if code else "") + html.escape(why) + "</div>")
        what = remedy(record)
        if what:
            to_do = _("What to do: {remedy}").format(remedy=what)
            parts.append(f"<div class='what'>{html.escape(to_do)}</div>")
    else:  # a pass or a skip: its verdict one click away, so that every step's column fits the page
        text = (facts.get("reason") or facts.get("verdict")) if status == SKIPPED else facts.get("verdict")
        if text:
            opener = _("why") if status == SKIPPED else _("verdict")
            parts.append(f"<details class='verdict'><summary>{html.escape(opener)}</summary>"
                         f"{html.escape(str(text))}</details>")
    kind = "step failed" if status in (FAILED, TIMEOUT) else "step"  # a failure's remedy gets room to read
    return f"<td class='{kind}' style='background-color: {_COLOURS.get(status, '')}'>" + "".join(parts) + "</td>"


def _step_header(step: str) -> str:
    # "08_register" -> "08" over "register"; names such as "07a_system_user" or "11_..." alike.
    number, _sep, title = step.partition("_")
    if not title:
        return html.escape(step)
    return f"<span class='num'>{html.escape(number)}</span> {html.escape(title.replace('_', ' '))}"


_CSS = """<style>
body { font-family: system-ui, sans-serif; margin: 16px 20px; color: #1f2328; }
h1 { font-size: 18px; margin: 0 0 4px; }
.about { font-size: 13px; margin: 0 0 10px; }
.about span { margin-right: 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 4px 5px; font-size: 12px; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; }
th { background: #f6f8fa; font-weight: 600; overflow-wrap: normal; }  /* step names break between words only */
th .num { display: block; }
td .head { font-weight: 600; }
td .time { white-space: nowrap; }
td .head a, td summary { white-space: nowrap; }  /* 'passed', 'verdict' never split */
td.step { min-width: 4.6em; max-width: 15em; }
td.step.failed { min-width: 14em; }
td details summary { cursor: pointer; color: #57606a; }
td .time { font-weight: normal; color: #57606a; }
td .verdict, td .why, td .what { margin-top: 2px; }
td .what { color: #57606a; }
td.customer { font-weight: 600; }
th.fixed, td.customer, td.fixed { white-space: nowrap; overflow-wrap: normal; }
caption { font-size: 14px; font-weight: 600; text-align: left; padding-bottom: 6px; }
.notes { font-size: 13px; }
</style>"""


def _html(grid, steps, table: pd.DataFrame, about: dict[str, Any] | None = None) -> str:
    about = about or {}
    batch_dir = Path(about["batch_dir"]) if about.get("batch_dir") else None
    target = str(about.get("target") or "")
    where = _("the sandbox") if about.get("sandbox") else (_("Meta's Graph API") if "graph.facebook.com" in target
                                                          else "")
    facts = [(_("Batch"), about.get("batch_id") or ""), (_("Started"), _when(about.get("started_at"))),
             (_("Target"), target + (f" ({where})" if target and where else "")), (_("Faults"), _faults(about))]
    header = "".join(f"<span><b>{html.escape(name)}:</b> {html.escape(str(value))}</span>" for name, value in facts if value)
    customer_head, status_head, total_head = (html.escape(_(word)) for word in (N_("customer"), N_("status"),
                                                                                 N_("total")))
    head = (f"<tr><th class='fixed'>{customer_head}</th>" + "".join(f"<th>{_step_header(s)}</th>" for s in steps)
            + f"<th class='fixed'>{status_head}</th><th class='fixed'>{total_head}</th></tr>")
    rows = []
    for (customer, by_step), (_index, row) in zip(grid.items(), table.iterrows()):
        status = str(row["status"])
        total = _("{seconds} s").format(seconds=f"{float(row['duration_s']):.1f}") if row["duration_s"] else ""
        rows.append(f"<tr><td class='customer'>{html.escape(customer)}</td>"
                    + "".join(_cell_html(batch_dir, customer, s, by_step[s]) for s in steps)
                    + f"<td class='fixed' style='background-color: {_COLOURS.get(status, '')}'>{html.escape(status_word(status))}</td>"
                    + f"<td class='fixed'>{total}</td></tr>")
    caption = _("{passed} of {total} customers passed every step").format(passed=(table["status"] == PASSED).sum(),
                                                                           total=len(table))
    notes = "".join(f"<p class='notes'>{html.escape(note)}</p>" for note in table.attrs.get("notes", []))
    title = _("Onboarding batch summary")
    language = current_language()
    opening = "<!doctype html>" + (f'<html lang="{language}">' if language != DEFAULT_LANGUAGE else "")
    return (f"{opening}<meta charset='utf-8'><title>{html.escape(title)}</title>{_CSS}"
            f"<h1>{html.escape(title)}</h1><p class='about'>{header}</p>"
            f"<table><caption>{html.escape(caption)}</caption><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
            + notes)


def terminal(table: pd.DataFrame) -> str:
    """A compact table for the terminal, then for each failed customer why and what to do, whole;
    in the language the summary files were written in (`table.attrs["language"]`), else the current one."""
    with in_language(table.attrs.get("language")):
        return _terminal(table)


def _terminal(table: pd.DataFrame) -> str:
    view = table[["customer", "status", "failed_step", "error_code", "duration_s"]].copy()
    view["status"] = view["status"].map(status_word)
    view.columns = [_(_COLUMN_LABELS[c]) for c in view.columns]
    # Hangul takes two columns of a terminal; English output stays as pandas writes it by default.
    with pd.option_context("display.unicode.east_asian_width", current_language() != DEFAULT_LANGUAGE):
        lines = [view.to_string(index=False)]
    failed = table[table["failed_step"].fillna("") != ""]
    if len(failed):
        lines.append("")
    for row in failed.itertuples():
        lines.append(f"{row.customer} {row.failed_step}: {row.error_message or status_word(row.status)}")
        if row.remedy:
            lines.append("    " + _("What to do: {remedy}").format(remedy=row.remedy))
    lines += [""] + list(table.attrs.get("notes", [])) if table.attrs.get("notes") else []
    return "\n".join(lines)
