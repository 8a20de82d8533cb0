"""pandas views of Graph responses: what a solutions engineer reads in a notebook.

Every table a step shows goes through `show` (a Styler): text wraps instead of being cut at 50
characters, left-aligned; no row index; missing values blank; integer-valued floats as integers;
times in one format, to the second, with the zone; booleans as coloured ✓ / ✗.
"""
from __future__ import annotations

import datetime as dt
import html
import math
import re
from typing import Any, Iterable, Sequence

import pandas as pd

from .i18n import N_, _

TRUE_MARK, FALSE_MARK = "✓", "✗"
TRUE_COLOUR, FALSE_COLOUR = "#1e7e34", "#b00020"
OK_BACKGROUND, WARN_BACKGROUND, BAD_BACKGROUND = "#d4edda", "#fff3cd", "#f8d7da"
# Meta's states, coloured the same wherever they show (step tables, the portfolio).
QUALITY_COLOURS = {"GREEN": OK_BACKGROUND, "YELLOW": WARN_BACKGROUND, "RED": BAD_BACKGROUND}
HEALTH_COLOURS = {"AVAILABLE": OK_BACKGROUND, "LIMITED": WARN_BACKGROUND, "BLOCKED": BAD_BACKGROUND}
TEMPLATE_COLOURS = {"APPROVED": OK_BACKGROUND, "PENDING": WARN_BACKGROUND, "REJECTED": BAD_BACKGROUND,
                    "PAUSED": BAD_BACKGROUND, "DISABLED": BAD_BACKGROUND}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
# Columns (or field names in a field/value table) whose numbers are Unix times.
_TIME_NAME = re.compile(r"^(timestamp|time|.*_at|.*_time|expires_on|data_access_expires_at)$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}| ?UTC)?$")
_CELL_CSS = [("text-align", "left"), ("vertical-align", "top"), ("white-space", "pre-wrap"),
             ("overflow-wrap", "break-word"), ("max-width", "48em"), ("padding", "0.3em 0.6em")]


# A frame keeps its English column names (code and records read them); `show` translates them in the
# header it draws, when the catalogue has them (a module marks its column names with N_() for that).
# Tables whose columns are Meta's field names (phone numbers, templates, health) keep them: headers=False.
HEADERS = (N_("field"), N_("value"), N_("check"))  # this module's own column names


def header_text(label: Any, translate: bool = True) -> str:
    """A column's name as its header shows it: in the reader's language, unless it is a Meta field name."""
    return _(label) if translate and isinstance(label, str) else str(label)


# ---- one display for every table ---------------------------------------------------------------
def is_missing(value: Any) -> bool:
    """None, NaN, NaT and pandas' <NA>."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict, set, str)) else False
    except (TypeError, ValueError):
        return False


def format_time(value: Any) -> str:
    """A time (Timestamp, datetime, ISO text or Unix seconds) as 2026-12-01 12:00:05 UTC."""
    if is_missing(value) or value == "":
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        stamp = pd.Timestamp(float(value), unit="s", tz="UTC")
    elif isinstance(value, str) and value.strip().isdigit():
        stamp = pd.Timestamp(int(value.strip()), unit="s", tz="UTC")
    else:
        try:
            stamp = pd.Timestamp(value.replace("UTC", "").strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            return str(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.floor("s").strftime(TIME_FORMAT)


def _is_numpy_bool(value: Any) -> bool:
    # numpy's bool (numpy 1: "bool_", numpy 2: "bool"), as pandas' nullable "boolean" columns yield it.
    return type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool")


def format_value(value: Any, *, time: bool = False) -> str:
    """One cell as text: blank for missing, ✓/✗ for booleans, 33 for 33.0, times to the second in UTC."""
    if isinstance(value, (bool,)) or _is_numpy_bool(value):
        return TRUE_MARK if value else FALSE_MARK
    if is_missing(value):
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)) or (time and isinstance(value, (int, float, str))):
        return format_time(value)
    if isinstance(value, str):
        return format_time(value) if _ISO_TIME.match(value.strip()) else value
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:g}"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def _html_text(text: str) -> str:
    """Escaped, with a break opportunity after each underscore: ready_to_register and AVAILABLE_WITHOUT_REVIEW
    may wrap there instead of widening the table (copied text is unchanged)."""
    return html.escape(str(text)).replace("_", "_<wbr>")


def _bool_colour(value: Any) -> str:
    if isinstance(value, bool) or _is_numpy_bool(value):
        return f"color: {TRUE_COLOUR if value else FALSE_COLOUR}; font-weight: bold"
    return ""


def show(frame: pd.DataFrame, *, columns: Sequence[str] | None = None, backgrounds: dict[str, Any] | None = None,
         caption: str | None = None, headers: bool = True):
    """The Styler every step table is shown with (see the module docstring for the rules).

    `columns`: which columns, in order (the rest are left out). `backgrounds`: column -> function of a
    cell value returning a CSS background colour or "" (06 colours its readiness flags this way).
    `headers`: translate the column names in the header (False: they are Meta's field names, kept as they are).
    """
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]]
    frame = frame.reset_index(drop=True)
    time_columns = {c for c in frame.columns if _TIME_NAME.match(str(c))
                    or pd.api.types.is_datetime64_any_dtype(frame[c])}
    field_column = "field" if "field" in frame.columns else "check" if "check" in frame.columns else None
    formatted = pd.DataFrame({c: [format_value(v, time=c in time_columns) for v in frame[c]] for c in frame.columns},
                             columns=frame.columns)
    if field_column is not None:  # a field/value table: the field's name says whether its value is a time
        for column in frame.columns:
            if column == field_column:
                continue
            for i, name in enumerate(frame[field_column]):
                if _TIME_NAME.match(str(name)):
                    formatted.iloc[i, frame.columns.get_loc(column)] = format_value(frame.iloc[i][column], time=True)
    css = pd.DataFrame([[_bool_colour(v) for v in row] for row in frame.itertuples(index=False)],
                       columns=frame.columns, dtype=object) if len(frame) else pd.DataFrame(columns=frame.columns)
    for column, colour in (backgrounds or {}).items():
        if column in frame.columns:
            css[column] = [";".join(x for x in (old, f"background-color: {colour(v)}" if colour(v) else "") if x)
                           for old, v in zip(css[column], frame[column])]
    styler = (formatted.style.hide(axis="index").format(_html_text)
              .format_index(lambda label: _html_text(header_text(label, headers)), axis=1))
    if len(frame):
        styler = styler.apply(lambda _data: css, axis=None)
    styler = styler.set_table_styles([
        {"selector": "td", "props": _CELL_CSS},
        {"selector": "th", "props": [("text-align", "left"), ("vertical-align", "bottom"), ("padding", "0.3em 0.6em"),
                                     ("white-space", "normal")]},
        {"selector": "", "props": [("border-collapse", "collapse"), ("table-layout", "auto")]},
    ], overwrite=True)
    if caption:
        styler = styler.set_caption(caption)
    return styler


READY_NAME_STATUSES = ("APPROVED", "AVAILABLE_WITHOUT_REVIEW")
_READINESS = ("verified", "on_cloud_api", "name_approved")


def phone_numbers_table(numbers: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per number, with readiness columns.

    `ready_to_register`: code verified, on Cloud API, display name approved.
    `connected`: registered and able to send (status CONNECTED).
    """
    rows = []
    for n in numbers:
        throughput = n.get("throughput") or {}
        name_status = n.get("name_status") or n.get("new_name_status")
        row = {
            "display_phone_number": n.get("display_phone_number"),
            "phone_number_id": str(n.get("id", "")),
            "verified_name": n.get("verified_name"),
            "code_verification_status": n.get("code_verification_status"),
            "status": n.get("status"),
            "platform_type": n.get("platform_type"),
            "name_status": name_status,
            "quality": n.get("quality_rating"),
            "throughput": throughput.get("level") if isinstance(throughput, dict) else throughput,
            "account_mode": n.get("account_mode"),
            "verified": n.get("code_verification_status") == "VERIFIED",
            "on_cloud_api": n.get("platform_type") == "CLOUD_API",
            "name_approved": name_status in READY_NAME_STATUSES,
            "connected": n.get("status") == "CONNECTED",
        }
        row["ready_to_register"] = all(row[c] for c in _READINESS)
        rows.append(row)
    columns = ["display_phone_number", "phone_number_id", "verified_name", "code_verification_status", "status",
               "platform_type", "name_status", "quality", "throughput", "account_mode", "verified", "on_cloud_api",
               "name_approved", "connected", "ready_to_register"]
    return pd.DataFrame(rows, columns=columns)


# 06's compact view: the number, then whether it is ready; the readiness flags, name status and quality.
COMPACT_NUMBER_COLUMNS = ("display_phone_number", "phone_number_id", "verified_name", "ready_to_register", "connected",
                          "verified", "name_status", "quality")
_FLAGS = ("ready_to_register", "connected", "verified", "on_cloud_api", "name_approved")


def style_phone_numbers(table: pd.DataFrame, *, all_columns: bool = False):
    """The numbers table for display: the compact view (COMPACT_NUMBER_COLUMNS), or every column with the
    readiness verdict right after the number's name; readiness flags and quality coloured."""
    if all_columns:
        first = list(COMPACT_NUMBER_COLUMNS[:4])
        columns = first + [c for c in table.columns if c not in first]
    else:
        columns = list(COMPACT_NUMBER_COLUMNS)

    def flag(value):
        return OK_BACKGROUND if value is True or _is_numpy_bool(value) and value else (
            BAD_BACKGROUND if value is False or _is_numpy_bool(value) else "")

    return show(table, columns=columns, backgrounds={**{c: flag for c in _FLAGS},
                                                     "quality": lambda q: QUALITY_COLOURS.get(q, "")}, headers=False)


def token_report_table(report: dict[str, Any]) -> pd.DataFrame:
    """The token check as a two-column table (check, value) plus a verdict row."""
    none = _("none")
    rows = [
        (_("valid"), report["is_valid"]),
        (_("type"), report["type"]),
        (_("app"), f"{report.get('application') or ''} ({report.get('app_id')})"),
        (_("expires"), report["expires"]),
        (_("scopes"), ", ".join(report["scopes"]) or none),
        (_("missing scopes"), ", ".join(report["missing_scopes"]) or none),
        (_("target WABAs"), _("all assets (no target list)") if report["target_ids"] is None
         else ", ".join(report["target_ids"]) or none),
        (_("WABA among targets"), {None: _("n/a"), True: _("yes"), False: _("NO")}[report["waba_in_targets"]]),
        (_("verdict"), _("usable for onboarding") if report["ok"]
         else _("NOT usable: {problems}").format(problems="; ".join(report["problems"]))),
    ]
    return pd.DataFrame(rows, columns=["check", "value"])


def subscribed_apps_table(apps: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """GET /{waba_id}/subscribed_apps as a table: app id, name, link, override callback."""
    rows = []
    for row in apps:
        app = row.get("whatsapp_business_api_data") or {}
        rows.append({"app_id": str(app.get("id", "")), "name": app.get("name"), "link": app.get("link"),
                     "override_callback_uri": row.get("override_callback_uri")})
    return pd.DataFrame(rows, columns=["app_id", "name", "link", "override_callback_uri"])


def error_table(error) -> pd.DataFrame:
    """A GraphAPIError as a table: what Meta said, and what to do."""
    record = error.to_record()
    keys = ["code", "subcode", "title", "message", "details", "fbtrace_id", "http_status", "remedy"]
    return pd.DataFrame([(k, record[k]) for k in keys], columns=["field", "value"])


def error_block(error: dict[str, Any]) -> pd.DataFrame:
    """A failure as the remedy catalogue reads: code, title, what Meta said, what to do, fbtrace_id.

    `error` is a record's error (GraphAPIError.to_record() plus the remedy, or {type, message, remedy}).
    Empty fields are left out (no "subcode None").
    """
    code = error.get("code")
    if not is_missing(code) and code is not None:
        subcode = error.get("subcode")
        code_text = (_("{code} (subcode {subcode})").format(code=format_value(code), subcode=format_value(subcode))
                     if not is_missing(subcode) else format_value(code))
    else:
        code_text = None
    details = error.get("details")
    message = error.get("message")
    rows = [(_("code"), code_text), (_("title"), error.get("title") or (None if code_text else error.get("type"))),
            (_("what Meta said") if code_text else _("what happened"), message),
            (_("details"), details if details and details != message else None),
            (_("what to do"), error.get("remedy")), ("fbtrace_id", error.get("fbtrace_id"))]
    return pd.DataFrame([(k, v) for k, v in rows if not is_missing(v) and v != ""], columns=["field", "value"])


def failure_summary(error: dict[str, Any] | None) -> str:
    """One line naming the failure: "(#133005) Two step verification PIN Mismatch", or our own error's reason."""
    error = error or {}
    code = error.get("code")
    if code is not None and not is_missing(code):
        subcode = error.get("subcode")
        title = error.get("title") or error.get("message") or ""
        return f"(#{format_value(code)}" + (f"/{format_value(subcode)}" if not is_missing(subcode) else "") + f") {title}"
    return str(error.get("message") or error.get("type") or _("the step failed"))


def style_error(frame: pd.DataFrame):
    """An error table (field, value) for display: every word of the remedy shown, left-aligned,
    the field names in bold."""
    frame = frame[[not is_missing(v) and v != "" for v in frame["value"]]] if "value" in frame else frame
    return show(frame).set_properties(subset=["field"], **{"font-weight": "bold", "white-space": "nowrap"}) \
        .hide(axis="columns")


def style_templates(table: pd.DataFrame):
    """The templates in the steps' one table style, the review status coloured."""
    return show(table, backgrounds={"status": lambda s: TEMPLATE_COLOURS.get(s, "")}, headers=False)


def style_health(table: pd.DataFrame):
    """health_status in the steps' one table style, each entity's can_send_message coloured."""
    colour = lambda s: HEALTH_COLOURS.get(s, "")  # noqa: E731
    return show(table, backgrounds={"can_send_message": colour, "can_receive_call_sip": colour}, headers=False)
