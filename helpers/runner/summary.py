"""The batch summary: who is done, who is stuck on which step and why (CSV, HTML grid, terminal)."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import graph_reason
from ..remedies import remedy_text
from . import records
from .records import FAILED, NOT_RUN, PASSED, TIMEOUT

_COLOURS = {PASSED: "#d4edda", FAILED: "#f8d7da", TIMEOUT: "#ffe5b4", NOT_RUN: "#eeeeee", "skipped": "#e2e3e5"}


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
    return text or ("the step timed out" if record.get("status") == TIMEOUT else "")


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
            status = record.get("status", NOT_RUN)
            row[step] = status
            total += float(record.get("wall_s") or record.get("duration_s") or 0)
            if first_problem is None and status not in (PASSED, NOT_RUN, "skipped"):
                first_problem = (step, record)
        row["status"] = PASSED if all(by_step[s].get("status") in (PASSED, "skipped") for s in steps) else (
            FAILED if first_problem else "incomplete")
        row["failed_step"] = first_problem[0] if first_problem else ""
        row["error_code"] = _error_code(first_problem[1]) if first_problem else ""
        row["error_message"] = reason(first_problem[1]) if first_problem else ""
        row["remedy"] = remedy(first_problem[1]) if first_problem else ""
        row["duration_s"] = round(total, 2)
        rows.append(row)
    return pd.DataFrame(rows, columns=["customer", *steps, "status", "failed_step", "error_code", "error_message",
                                       "remedy", "duration_s"])


def write(batch_dir: Path, grid: dict[str, dict[str, dict[str, Any]]], steps: list[str],
          notes: list[str] | None = None) -> pd.DataFrame:
    """summary.csv and summary.html in the batch folder; returns the frame.

    `notes`: lines about the batch itself (processes stopped or left running), shown under the
    terminal table and the HTML grid; they travel with the frame in `table.attrs["notes"]`.
    """
    table = frame(grid, steps)
    table.attrs["notes"] = list(notes or [])
    table.to_csv(Path(batch_dir) / "summary.csv", index=False)
    (Path(batch_dir) / "summary.html").write_text(_html(grid, steps, table), encoding="utf-8")
    return table


def _cell_text(record: dict[str, Any]) -> str:
    status = record.get("status", NOT_RUN)
    seconds = record.get("wall_s") or record.get("duration_s")
    text = status + (f" ({float(seconds):.1f} s)" if seconds else "")
    if status in (FAILED, TIMEOUT):
        error = record.get("error") or {}
        code = _error_code(record)
        text += f"\n{code}: {reason(record)}\nWhat to do: {remedy(record)}"
    return text


_CSS = """<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 6px; font-size: 12px; vertical-align: top; }
td { max-width: 22em; white-space: pre-wrap; }
caption { font-size: 15px; font-weight: 600; text-align: left; padding-bottom: 8px; }
</style>"""


def _html(grid, steps, table: pd.DataFrame) -> str:
    cells = pd.DataFrame({step: [_cell_text(grid[c][step]) for c in grid] for step in steps}, index=list(grid))
    cells["customer status"] = list(table["status"])
    cells["total (s)"] = [f"{d:.1f}" for d in table["duration_s"]]
    cells.index.name = "customer"
    statuses = pd.DataFrame({step: [grid[c][step].get("status", NOT_RUN) for c in grid] for step in steps}, index=list(grid))
    statuses["customer status"] = list(table["status"])
    statuses["total (s)"] = ""
    styler = (cells.style
              .apply(lambda col: [f"background-color: {_COLOURS.get(s, '')}" for s in statuses[col.name]], axis=0)
              .format(html.escape)
              .set_caption(f"{(table['status'] == PASSED).sum()} of {len(table)} customers passed every step"))
    notes = "".join(f"<p>{html.escape(note)}</p>" for note in table.attrs.get("notes", []))
    return (f"<!doctype html><meta charset='utf-8'><title>Onboarding batch summary</title>{_CSS}"
            + styler.to_html() + notes)


def terminal(table: pd.DataFrame) -> str:
    """A compact table for the terminal, then for each failed customer why and what to do, whole."""
    view = table[["customer", "status", "failed_step", "error_code", "duration_s"]]
    lines = [view.to_string(index=False)]
    failed = table[table["failed_step"].fillna("") != ""]
    if len(failed):
        lines.append("")
    for row in failed.itertuples():
        lines.append(f"{row.customer} {row.failed_step}: {row.error_message or row.status}")
        if row.remedy:
            lines.append(f"    What to do: {row.remedy}")
    lines += [""] + list(table.attrs.get("notes", [])) if table.attrs.get("notes") else []
    return "\n".join(lines)
