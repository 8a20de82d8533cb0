"""pandas views of Graph responses: what a solutions engineer reads in a notebook."""
from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

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


def style_phone_numbers(table: pd.DataFrame):
    """A Styler that colours the readiness columns (green ok, red not) for notebook 06."""
    flags = ["verified", "on_cloud_api", "name_approved", "connected", "ready_to_register"]

    def colour(value):
        return "background-color: #d4edda" if value is True else "background-color: #f8d7da" if value is False else ""

    quality = {"GREEN": "#d4edda", "YELLOW": "#fff3cd", "RED": "#f8d7da"}
    return (table.style.map(colour, subset=flags)
            .map(lambda q: f"background-color: {quality[q]}" if q in quality else "", subset=["quality"])
            .hide(axis="index"))


def token_report_table(report: dict[str, Any]) -> pd.DataFrame:
    """The token check as a two-column table (check, value) plus a verdict row."""
    rows = [
        ("valid", report["is_valid"]),
        ("type", report["type"]),
        ("app", f"{report.get('application') or ''} ({report.get('app_id')})"),
        ("expires", report["expires"]),
        ("scopes", ", ".join(report["scopes"]) or "none"),
        ("missing scopes", ", ".join(report["missing_scopes"]) or "none"),
        ("target WABAs", "all assets (no target list)" if report["target_ids"] is None else ", ".join(report["target_ids"]) or "none"),
        ("WABA among targets", {None: "n/a", True: "yes", False: "NO"}[report["waba_in_targets"]]),
        ("verdict", "usable for onboarding" if report["ok"] else "NOT usable: " + "; ".join(report["problems"])),
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


def style_error(frame: pd.DataFrame):
    """An error table (field, value) for display: every word of the remedy shown, left-aligned
    (a plain DataFrame would cut long values at 50 characters)."""
    return (frame.set_index("field").rename_axis(None).style
            .set_properties(**{"text-align": "left", "white-space": "pre-wrap", "max-width": "60em"})
            .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}]))
