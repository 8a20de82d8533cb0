"""Phase 1 of the guide (notebook 00): per customer, new or migrate, and can Cloud API carry it?

Pure functions over a customer's answers, each returning a pandas DataFrame. Facts are
today's (docs/meta-facts.md); where the guide says otherwise, the guide's figure
is named beside the current one.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import pandas as pd

from . import validate
from .errors import ConfigError

# Throughput per registered number (reference section 3; Meta's throughput page, May 2026).
DEFAULT_MPS = 80
UPGRADED_MPS = 1_000
BUSINESS_APP_MPS = 20          # numbers shared with the WhatsApp Business app (coexistence): fixed
GUIDE_MPS = 250                # the guide's figure: the old On-Premises maximum
ON_PREM_SUNSET = "2025-10-23"  # the On-Premises API was switched off
EMBEDDED_SIGNUP_REGISTER_DAYS = 14

# Compliance needs the guide answers (Phase 1 table and FAQ): (words that name the need, what Cloud API offers).
_COMPLIANCE = (
    (("gdpr",), "Cloud API is GDPR compliant."),
    (("soc2", "soc"), "Cloud API is SOC 2 certified."),
    (("localstorage", "datalocalization", "datalocalisation", "residency", "local"),
     "Local Storage keeps messages at rest in a chosen country: register the number with data_localization_region "
     "(2-letter code); changing it needs deregister and register."),
    (("europe", "eu", "european"), "Cloud API runs in data centres in Europe (and North America)."),
    (("northamerica", "us", "usa", "canada", "america"), "Cloud API runs in data centres in North America (and Europe)."),
    (("hosting", "datacenter", "datacentre", "region"), "Meta hosts Cloud API in North America and Europe."),
    (("encryption", "encrypted", "encrypt"), "Messages at rest are encrypted and deleted after 30 days; Meta holds the keys."),
    (("disasterrecovery", "disaster", "recovery", "uptime", "availability"),
     "Disaster recovery across regions; expected downtime under a minute to under five."),
)


def _compliance_fact(need: str) -> str | None:
    words = ["".join(ch for ch in part if ch.isalnum()) for part in str(need).lower().replace("-", " ").split()]
    keys = set(words) | {"".join(words)}
    for names, fact in _COMPLIANCE:
        if keys & set(names) or any(name in "".join(words) for name in names if len(name) > 4):
            return fact
    return None


# Features Cloud API supports (Meta's feature list; the guide: "most key features").
SUPPORTED_FEATURES = {
    "text": "text messages",
    "templates": "message templates (marketing, utility, authentication)",
    "media": "media: image, audio, video, document, sticker",
    "image": "image messages", "audio": "audio messages", "video": "video messages",
    "document": "document messages", "sticker": "sticker messages",
    "interactive": "interactive messages: reply buttons, lists, CTA URL",
    "buttons": "reply buttons", "lists": "list messages",
    "location": "location messages", "contacts": "contact cards", "reactions": "reactions",
    "flows": "WhatsApp Flows", "catalog": "product and catalog messages", "commerce": "product and catalog messages",
    "read_receipts": "read receipts (mark as read)", "typing": "typing indicators",
    "webhooks": "webhooks for messages and statuses", "calling": "Business Calling API",
    "groups": "groups API",
}
# Features that existed on the On-Premises API only.
ON_PREM_ONLY_FEATURES = {
    "deleted_status": "the 'deleted' message status (On-Premises only)",
    "on_prem_contacts_check": "the On-Premises contacts check; Cloud API cannot check whether a number has "
                              "WhatsApp: send to an opted-in customer directly",
}


def throughput_table(expected_peak_mps: float, *, shares_whatsapp_business_app: bool = False) -> pd.DataFrame:
    """Expected peak messages/s (text + media, in + out) against today's per-number limits."""
    if isinstance(expected_peak_mps, bool) or not isinstance(expected_peak_mps, (int, float)) or expected_peak_mps < 0:
        raise ConfigError("expected_peak_mps must be a non-negative number of messages per second.")
    peak = float(expected_peak_mps)
    rows = []
    if shares_whatsapp_business_app:
        rows.append(("shared with the WhatsApp Business app (coexistence)", BUSINESS_APP_MPS, "current",
                     peak <= BUSINESS_APP_MPS, "fixed: coexistence numbers are never upgraded"))
    rows += [
        ("default per registered number", DEFAULT_MPS, "current", peak <= DEFAULT_MPS, "from registration"),
        ("after the automatic upgrade", UPGRADED_MPS, "current", peak <= UPGRADED_MPS,
         "automatic for numbers with an unlimited messaging tier and medium or better quality"),
        ("the guide's figure (old On-Premises maximum)", GUIDE_MPS, "out of date", peak <= GUIDE_MPS,
         "do not plan with it: Cloud API limits are 80, then 1,000"),
    ]
    table = pd.DataFrame(rows, columns=["limit", "messages_per_second", "fact", "peak_fits", "note"])
    table.insert(0, "expected_peak_mps", peak)
    return table


def throughput_verdict(expected_peak_mps: float, *, shares_whatsapp_business_app: bool = False) -> dict[str, Any]:
    """One line on throughput: fits today, fits after the upgrade, or needs several numbers."""
    peak = float(expected_peak_mps)
    if shares_whatsapp_business_app:
        numbers = max(1, math.ceil(peak / BUSINESS_APP_MPS))
        ok = peak <= BUSINESS_APP_MPS
        text = (f"{peak:g} mps fits the fixed {BUSINESS_APP_MPS} mps of a number shared with the WhatsApp Business app."
                if ok else f"{peak:g} mps exceeds the fixed {BUSINESS_APP_MPS} mps of a shared number: spread the load "
                           f"over {numbers} numbers or use a Cloud API-only number ({DEFAULT_MPS}, then {UPGRADED_MPS:,} mps).")
        return {"fits": ok, "numbers_needed": numbers, "verdict": text}
    if peak <= DEFAULT_MPS:
        return {"fits": True, "numbers_needed": 1,
                "verdict": f"{peak:g} mps fits the default {DEFAULT_MPS} mps per number."}
    if peak <= UPGRADED_MPS:
        return {"fits": True, "numbers_needed": 1,
                "verdict": f"{peak:g} mps exceeds the default {DEFAULT_MPS} mps but fits the {UPGRADED_MPS:,} mps of the "
                           f"automatic upgrade; until the number is upgraded, spread the peak over "
                           f"{math.ceil(peak / DEFAULT_MPS)} numbers or pace sends."}
    numbers = math.ceil(peak / UPGRADED_MPS)
    return {"fits": False, "numbers_needed": numbers,
            "verdict": f"{peak:g} mps exceeds {UPGRADED_MPS:,} mps per number: spread the peak over at least {numbers} numbers."}


def compliance_table(compliance: Iterable[str], data_localization_region: str = "") -> pd.DataFrame:
    """Each compliance need against what Cloud API offers (guide: GDPR, SOC 2, North America and Europe)."""
    rows = []
    needs = [str(c) for c in (compliance or [])]
    for need in needs:
        fact = _compliance_fact(need)
        if fact:
            rows.append((need, fact, "yes"))
        else:
            rows.append((need, "Not covered by the guide's facts (GDPR, SOC 2, hosting in North America and Europe, "
                               "local storage). Confirm with Meta before committing.", "check"))
    region = validate.local_storage_region(data_localization_region) if data_localization_region else ""
    if region:
        rows.append((f"local storage in {region}", f"Register the number with data_localization_region={region} "
                     "(notebook 08); messages at rest then stay in that country.", "yes"))
    rows.append(("hosting (always)", "Cloud API servers are in North America and Europe; Meta pays for hosting.", "info"))
    return pd.DataFrame(rows, columns=["need", "cloud_api", "met"])


def features_table(features: Iterable[str]) -> pd.DataFrame:
    """Each feature the customer uses: supported on Cloud API, On-Premises only, or to check."""
    rows = []
    for feature in [str(f) for f in (features or [])]:
        key = feature.strip().lower().replace(" ", "_").replace("-", "_")
        if key in SUPPORTED_FEATURES:
            rows.append((feature, SUPPORTED_FEATURES[key], "yes"))
        elif key in ON_PREM_ONLY_FEATURES:
            rows.append((feature, ON_PREM_ONLY_FEATURES[key], "no"))
        else:
            rows.append((feature, "Not in the playbook's list: check Meta's published Cloud API feature list.", "check"))
    return pd.DataFrame(rows, columns=["feature", "cloud_api", "supported"])


def onboarding_path(onboarding: str) -> dict[str, str]:
    """New customers go through Embedded Signup; migration is the legacy On-Premises path."""
    if onboarding == "new":
        return {"onboarding": "new", "path": "Embedded Signup",
                "why": "The fastest path: a customer can send messages within about 5 minutes. Register the number "
                       f"within {EMBEDDED_SIGNUP_REGISTER_DAYS} days of the flow, or the flow must be redone."}
    if onboarding == "migrate":
        return {"onboarding": "migrate", "path": "On-Premises to Cloud API migration (legacy)",
                "why": f"The On-Premises API was switched off on {ON_PREM_SUNSET} (the guide still says it continues). "
                       "Migration with a backup is kept for stragglers and training; a number no longer served "
                       "by On-Premises is onboarded like a new one."}
    raise ConfigError("onboarding must be 'new' or 'migrate'.")


def decision_table(*, onboarding: str, expected_peak_mps: float, compliance: Iterable[str] = (),
                   features: Iterable[str] = (), data_localization_region: str = "",
                   shares_whatsapp_business_app: bool = False) -> pd.DataFrame:
    """The guide's three questions plus the path, each with the customer's answer, today's fact and a verdict."""
    path = onboarding_path(onboarding)
    tput = throughput_verdict(expected_peak_mps, shares_whatsapp_business_app=shares_whatsapp_business_app)
    comp = compliance_table(compliance, data_localization_region)
    feats = features_table(features)
    open_needs = comp[comp["met"] == "check"]["need"].tolist()
    open_feats = feats[feats["supported"] != "yes"]["feature"].tolist()
    limit = BUSINESS_APP_MPS if shares_whatsapp_business_app else DEFAULT_MPS
    stated = float(expected_peak_mps) > 0
    tput_verdict = ("go" if tput["fits"] else "plan more numbers") if stated else "check"
    tput_why = tput["verdict"] if stated else ("peak not stated: ask the customer for the combined peak messages per "
                                               "second (text + media, inbound + outbound)")
    rows = [
        ("onboarding path", onboarding, path["path"], "", "go", path["why"]),
        ("throughput", f"{float(expected_peak_mps):g} mps peak" if stated else "not stated",
         f"{limit} mps per number by default, {UPGRADED_MPS:,} after the automatic upgrade"
         + ("" if shares_whatsapp_business_app
            else f", {BUSINESS_APP_MPS} fixed for numbers shared with the WhatsApp Business app"),
         f"up to {GUIDE_MPS} mps (the old On-Premises figure)",
         tput_verdict, tput_why),
        ("compliance", ", ".join(map(str, compliance or [])) or "none stated",
         "GDPR compliant, SOC 2 certified, hosted in North America and Europe, optional local storage",
         "GDPR, SOC 2, North America and Europe", "go" if not open_needs else "check",
         "all needs met" if not open_needs else "confirm with Meta: " + ", ".join(open_needs)),
        ("features", ", ".join(map(str, features or [])) or "none stated", "most key features (Meta's list)",
         "most key features", "go" if not open_feats else "check",
         "all supported" if not open_feats else "check: " + ", ".join(open_feats)),
    ]
    return pd.DataFrame(rows, columns=["question", "customer", "current_fact", "guide_says", "verdict", "why"])


def recommendation(decisions: pd.DataFrame) -> str:
    """One sentence from the decision table."""
    blockers = decisions[decisions["verdict"] != "go"]
    path = decisions.loc[decisions["question"] == "onboarding path", "current_fact"].iloc[0]
    if blockers.empty:
        return f"Go: onboard on Cloud API through {path}."
    items = "; ".join(f"{row.question}: {row.why}" for row in blockers.itertuples())
    return f"Go with conditions ({path}). Resolve first: {items}"


# The notebooks, in order, with what each does; 07 only for migrations.
_PLAN_STEPS = (
    ("00_plan", "Phase 1", "this decision table", "both"),
    ("01_assets", "Phase 2", "Business Manager, WABA, app, system users, numbers", "both"),
    ("02_terms", "Phase 3", "accept the Terms of Service in WhatsApp Manager", "both"),
    ("03_access_token", "Step 1", "system user token: valid, both scopes, WABA in reach; API version", "both"),
    ("04_webhooks", "Step 2", "callback URL and verify token; subscribe to messages", "both"),
    ("05_subscribe_waba", "Step 3", "subscribe the app to the WABA", "both"),
    ("06_phone_numbers", "Step 4", "list the numbers, pick the one to onboard", "both"),
    ("07_migration", "Step 4 exception", "On-Premises to Cloud migration with a backup (legacy)", "migrate"),
    ("07a_system_user", "Solution Partner", "assign the partner's system user to the customer's WABA", "both"),
    ("07b_credit_line", "Solution Partner", "share and attach the partner's credit line", "client"),
    ("08_register", "Step 5", "verify if needed, register with the 6-digit PIN", "both"),
    ("09_receive_message", "Step 6", "receive the consumer's message; the 24-hour window opens", "both"),
    ("10_send_test_message", "Step 7", "send the test message and follow its statuses", "both"),
    ("11_business_profile", "After registration", "what consumers see: about, address, email, websites, vertical",
     "both"),
    ("12_templates", "Before going live", "the first utility template, approved (without first_template_name: "
                                          "the templates listed)", "both"),
    ("13_go_live", "Going live", "health_status of every entity: AVAILABLE, LIMITED or BLOCKED", "both"),
)


def plan_steps(onboarding: str, *, partner_client: bool = False) -> pd.DataFrame:
    """The playbook's steps for this customer: 07 skipped for new customers, 07b for a business that is not a
    Solution Partner's client (no partner_business_id other than its own), as those steps themselves decide."""
    onboarding_path(onboarding)  # validates
    applies = {"both", onboarding} | ({"client"} if partner_client else set())
    rows = [(nb, part, what, "run" if who in applies else "skip (not applicable)")
            for nb, part, what, who in _PLAN_STEPS]
    return pd.DataFrame(rows, columns=["notebook", "guide_part", "does", "this_customer"])


def planning_checklist() -> pd.DataFrame:
    """The guide's remaining Phase 1 items, which no API can check."""
    rows = [
        ("read the developer docs and the Postman collection", "developers.facebook.com/docs/whatsapp; Meta's Postman collection"),
        ("communication plan", "tell the customer what changes and when; update setup documents"),
        ("pricing", "no price difference between Cloud and On-Premises; Meta pays for hosting; "
                    "per-message pricing since Jul 1 2025"),
        ("updates", "Cloud API updates ship automatically (the guide: first Tuesday of each month)"),
        ("test number first", "a number is on one platform at a time: try the flow on a test number before a live one"),
    ]
    return pd.DataFrame(rows, columns=["item", "note"])
