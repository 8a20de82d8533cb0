"""Graph API versions and their expiry dates (docs/meta-facts.md, "Graph API versions", from Meta's changelog)."""
from __future__ import annotations

import datetime as dt

from .i18n import _

DEFAULT_API_VERSION = "v25.0"
LATEST_KNOWN_VERSION = "v27.0"
WARN_DAYS_BEFORE_EXPIRY = 90

# version -> (released, available until; None = not announced)
VERSIONS: dict[str, tuple[dt.date, dt.date | None]] = {
    "v27.0": (dt.date(2026, 11, 4), None),
    "v26.0": (dt.date(2026, 7, 29), None),
    "v25.0": (dt.date(2026, 2, 18), dt.date(2028, 7, 29)),
    "v24.0": (dt.date(2025, 10, 8), dt.date(2028, 2, 18)),
    "v23.0": (dt.date(2025, 5, 29), dt.date(2027, 10, 8)),
    "v22.0": (dt.date(2025, 1, 21), dt.date(2027, 5, 20)),
    "v21.0": (dt.date(2024, 10, 2), dt.date(2027, 1, 21)),
    "v20.0": (dt.date(2024, 5, 21), dt.date(2026, 9, 24)),
    "v19.0": (dt.date(2024, 1, 23), dt.date(2026, 5, 21)),
    "v18.0": (dt.date(2023, 9, 12), dt.date(2026, 1, 26)),
}


def version_status(version: str, today: dt.date | None = None) -> dict:
    """Where a version stands today: 'current', 'expires soon', 'expired' or 'unknown'.

    Versions older than the table are expired; newer ones than the table are 'unknown'
    (probably released after this table was written, so not flagged).
    """
    today = today or dt.date.today()
    entry = VERSIONS.get(version)
    major = int(version[1:].split(".")[0])
    oldest = min(int(v[1:].split(".")[0]) for v in VERSIONS)
    if entry is None:
        if major < oldest:
            return {"version": version, "status": "expired", "available_until": None,
                    "note": _("{version} expired long ago; Meta serves calls to it as the oldest usable version. "
                              "Use {default}.").format(version=version, default=DEFAULT_API_VERSION)}
        return {"version": version, "status": "unknown", "available_until": None,
                "note": _("{version} is newer than this playbook's version table (latest known {latest}).").format(
                    version=version, latest=LATEST_KNOWN_VERSION)}
    _major, until = entry
    if until is None:
        return {"version": version, "status": "current", "available_until": None, "note": _("expiry not announced yet")}
    days = (until - today).days
    if days < 0:
        status, note = "expired", _("{version} expired on {date}; Meta now serves such calls as the next-oldest "
                                    "usable version, so behaviour may change under you. Use {default}.").format(
            version=version, date=f"{until:%Y-%m-%d}", default=DEFAULT_API_VERSION)
    elif days <= WARN_DAYS_BEFORE_EXPIRY:
        status, note = "expires soon", _("{version} expires on {date} ({days} days). Move to {default} or "
                                         "later.").format(version=version, date=f"{until:%Y-%m-%d}", days=days,
                                                          default=DEFAULT_API_VERSION)
    else:
        status, note = "current", _("available until {date}").format(date=f"{until:%Y-%m-%d}")
    return {"version": version, "status": status, "available_until": until.isoformat(), "note": note}
