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
from .i18n import N_, _

# Throughput per registered number (reference section 3; Meta's throughput page, May 2026).
DEFAULT_MPS = 80
UPGRADED_MPS = 1_000
BUSINESS_APP_MPS = 20          # numbers shared with the WhatsApp Business app (coexistence): fixed
GUIDE_MPS = 250                # the guide's figure: the old On-Premises maximum
ON_PREM_SUNSET = "2025-10-23"  # the On-Premises API was switched off
EMBEDDED_SIGNUP_REGISTER_DAYS = 14

# Compliance needs the guide answers (Phase 1 table and FAQ): (words that name the need, what Cloud API offers).
# The facts are marked N_() and translated where a table shows them.
_COMPLIANCE = (
    (("gdpr",), N_("Cloud API is GDPR compliant.")),
    (("soc2", "soc"), N_("Cloud API is SOC 2 certified.")),
    (("localstorage", "datalocalization", "datalocalisation", "residency", "local"),
     N_("Local Storage keeps messages at rest in a chosen country: register the number with data_localization_region "
        "(2-letter code); changing it needs deregister and register.")),
    (("europe", "eu", "european"), N_("Cloud API runs in data centres in Europe (and North America).")),
    (("northamerica", "us", "usa", "canada", "america"),
     N_("Cloud API runs in data centres in North America (and Europe).")),
    (("hosting", "datacenter", "datacentre", "region"), N_("Meta hosts Cloud API in North America and Europe.")),
    (("encryption", "encrypted", "encrypt"),
     N_("Messages at rest are encrypted and deleted after 30 days; Meta holds the keys.")),
    (("disasterrecovery", "disaster", "recovery", "uptime", "availability"),
     N_("Disaster recovery across regions; expected downtime under a minute to under five.")),
)


def _compliance_fact(need: str) -> str | None:
    words = ["".join(ch for ch in part if ch.isalnum()) for part in str(need).lower().replace("-", " ").split()]
    keys = set(words) | {"".join(words)}
    for names, fact in _COMPLIANCE:
        if keys & set(names) or any(name in "".join(words) for name in names if len(name) > 4):
            return fact
    return None


# Features Cloud API supports (Meta's feature list; the guide: "most key features"). Descriptions marked N_().
SUPPORTED_FEATURES = {
    "text": N_("text messages"),
    "templates": N_("message templates (marketing, utility, authentication)"),
    "media": N_("media: image, audio, video, document, sticker"),
    "image": N_("image messages"), "audio": N_("audio messages"), "video": N_("video messages"),
    "document": N_("document messages"), "sticker": N_("sticker messages"),
    "interactive": N_("interactive messages: reply buttons, lists, CTA URL"),
    "buttons": N_("reply buttons"), "lists": N_("list messages"),
    "location": N_("location messages"), "contacts": N_("contact cards"), "reactions": N_("reactions"),
    "flows": N_("WhatsApp Flows"), "catalog": N_("product and catalog messages"),
    "commerce": N_("product and catalog messages"),
    "read_receipts": N_("read receipts (mark as read)"), "typing": N_("typing indicators"),
    "webhooks": N_("webhooks for messages and statuses"), "calling": N_("Business Calling API"),
    "groups": N_("groups API"),
}
# Features that existed on the On-Premises API only.
ON_PREM_ONLY_FEATURES = {
    "deleted_status": N_("the 'deleted' message status (On-Premises only)"),
    "on_prem_contacts_check": N_("the On-Premises contacts check; Cloud API cannot check whether a number has "
                                 "WhatsApp: send to an opted-in customer directly"),
}

# The tables' fixed words that code compares (a verdict, yes/no, run/skip) stay English in the frames and
# in the records (00's facts.verdicts); `localized` translates them for display.
GO, CHECK, MORE_NUMBERS = N_("go"), N_("check"), N_("plan more numbers")
YES, NO, INFO = N_("yes"), N_("no"), N_("info")
RUN, SKIP = N_("run"), N_("skip (not applicable)")
QUESTIONS = (N_("onboarding path"), N_("throughput"), N_("compliance"), N_("features"))
_WORD_COLUMNS = ("question", "verdict", "met", "supported", "this_customer")
_COLUMNS = (  # the tables' headers, translated where tables.show draws them
    N_("limit"), N_("messages_per_second"), N_("fact"), N_("peak_fits"), N_("note"), N_("need"), N_("cloud_api"),
    N_("met"), N_("feature"), N_("supported"), N_("question"), N_("customer"), N_("current_fact"), N_("guide_says"),
    N_("verdict"), N_("why"), N_("notebook"), N_("guide_part"), N_("does"), N_("this_customer"), N_("item"))


def localized(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of one of the plan's tables with its fixed words (verdicts, yes/no, run/skip) in the current language."""
    frame = frame.copy()
    for column in _WORD_COLUMNS:
        if column in frame.columns:
            frame[column] = [_(v) if isinstance(v, str) else v for v in frame[column]]
    return frame


def throughput_table(expected_peak_mps: float, *, shares_whatsapp_business_app: bool = False) -> pd.DataFrame:
    """Expected peak messages/s (text + media, in + out) against today's per-number limits."""
    if isinstance(expected_peak_mps, bool) or not isinstance(expected_peak_mps, (int, float)) or expected_peak_mps < 0:
        raise ConfigError(_("expected_peak_mps must be a non-negative number of messages per second."))
    peak = float(expected_peak_mps)
    rows = []
    if shares_whatsapp_business_app:
        rows.append((_("shared with the WhatsApp Business app (coexistence)"), BUSINESS_APP_MPS, _("current"),
                     peak <= BUSINESS_APP_MPS, _("fixed: coexistence numbers are never upgraded")))
    rows += [
        (_("default per registered number"), DEFAULT_MPS, _("current"), peak <= DEFAULT_MPS, _("from registration")),
        (_("after the automatic upgrade"), UPGRADED_MPS, _("current"), peak <= UPGRADED_MPS,
         _("automatic for numbers with an unlimited messaging tier and medium or better quality")),
        (_("the guide's figure (old On-Premises maximum)"), GUIDE_MPS, _("out of date"), peak <= GUIDE_MPS,
         _("do not plan with it: Cloud API limits are 80, then 1,000")),
    ]
    table = pd.DataFrame(rows, columns=["limit", "messages_per_second", "fact", "peak_fits", "note"])
    table.insert(0, "expected_peak_mps", peak)
    return table


def throughput_verdict(expected_peak_mps: float, *, shares_whatsapp_business_app: bool = False) -> dict[str, Any]:
    """One line on throughput: fits today, fits after the upgrade, or needs several numbers."""
    peak = float(expected_peak_mps)
    # The figures as the sentences write them (80, 1,000): named placeholders, filled after translation.
    figures = {"peak": f"{peak:g}", "shared": BUSINESS_APP_MPS, "default": DEFAULT_MPS, "upgraded": f"{UPGRADED_MPS:,}"}
    if shares_whatsapp_business_app:
        numbers = max(1, math.ceil(peak / BUSINESS_APP_MPS))
        ok = peak <= BUSINESS_APP_MPS
        text = (_("{peak} mps fits the fixed {shared} mps of a number shared with the WhatsApp Business app.")
                if ok else _("{peak} mps exceeds the fixed {shared} mps of a shared number: spread the load over "
                             "{numbers} numbers or use a Cloud API-only number ({default}, then {upgraded} mps)."))
        return {"fits": ok, "numbers_needed": numbers, "verdict": text.format(**figures, numbers=numbers)}
    if peak <= DEFAULT_MPS:
        return {"fits": True, "numbers_needed": 1,
                "verdict": _("{peak} mps fits the default {default} mps per number.").format(**figures)}
    if peak <= UPGRADED_MPS:
        return {"fits": True, "numbers_needed": 1,
                "verdict": _("{peak} mps exceeds the default {default} mps but fits the {upgraded} mps of the "
                             "automatic upgrade; until the number is upgraded, spread the peak over "
                             "{numbers} numbers or pace sends.").format(**figures,
                                                                        numbers=math.ceil(peak / DEFAULT_MPS))}
    numbers = math.ceil(peak / UPGRADED_MPS)
    return {"fits": False, "numbers_needed": numbers,
            "verdict": _("{peak} mps exceeds {upgraded} mps per number: spread the peak over at least {numbers} "
                         "numbers.").format(**figures, numbers=numbers)}


def compliance_table(compliance: Iterable[str], data_localization_region: str = "") -> pd.DataFrame:
    """Each compliance need against what Cloud API offers (guide: GDPR, SOC 2, North America and Europe)."""
    rows = []
    needs = [str(c) for c in (compliance or [])]
    for need in needs:
        fact = _compliance_fact(need)
        if fact:
            rows.append((need, _(fact), YES))
        else:
            rows.append((need, _("Not covered by the guide's facts (GDPR, SOC 2, hosting in North America and Europe, "
                                 "local storage). Confirm with Meta before committing."), CHECK))
    region = validate.local_storage_region(data_localization_region) if data_localization_region else ""
    if region:
        rows.append((_("local storage in {region}").format(region=region),
                     _("Register the number with data_localization_region={region} "
                       "(notebook 08); messages at rest then stay in that country.").format(region=region), YES))
    rows.append((_("hosting (always)"), _("Cloud API servers are in North America and Europe; Meta pays for hosting."),
                 INFO))
    return pd.DataFrame(rows, columns=["need", "cloud_api", "met"])


def features_table(features: Iterable[str]) -> pd.DataFrame:
    """Each feature the customer uses: supported on Cloud API, On-Premises only, or to check."""
    rows = []
    for feature in [str(f) for f in (features or [])]:
        key = feature.strip().lower().replace(" ", "_").replace("-", "_")
        if key in SUPPORTED_FEATURES:
            rows.append((feature, _(SUPPORTED_FEATURES[key]), YES))
        elif key in ON_PREM_ONLY_FEATURES:
            rows.append((feature, _(ON_PREM_ONLY_FEATURES[key]), NO))
        else:
            rows.append((feature, _("Not in the playbook's list: check Meta's published Cloud API feature list."),
                         CHECK))
    return pd.DataFrame(rows, columns=["feature", "cloud_api", "supported"])


def onboarding_path(onboarding: str) -> dict[str, str]:
    """New customers go through Embedded Signup; migration is the legacy On-Premises path."""
    if onboarding == "new":
        return {"onboarding": "new", "path": _("Embedded Signup"),
                "why": _("The fastest path: a customer can send messages within about 5 minutes. Register the number "
                         "within {days} days of the flow, or the flow must be redone.").format(
                             days=EMBEDDED_SIGNUP_REGISTER_DAYS)}
    if onboarding == "migrate":
        return {"onboarding": "migrate", "path": _("On-Premises to Cloud API migration (legacy)"),
                "why": _("The On-Premises API was switched off on {date} (the guide still says it continues). "
                         "Migration with a backup is kept for stragglers and training; a number no longer served "
                         "by On-Premises is onboarded like a new one.").format(date=ON_PREM_SUNSET)}
    raise ConfigError(_("onboarding must be 'new' or 'migrate'."))


def decision_table(*, onboarding: str, expected_peak_mps: float, compliance: Iterable[str] = (),
                   features: Iterable[str] = (), data_localization_region: str = "",
                   shares_whatsapp_business_app: bool = False) -> pd.DataFrame:
    """The guide's three questions plus the path, each with the customer's answer, today's fact and a verdict."""
    path = onboarding_path(onboarding)
    tput = throughput_verdict(expected_peak_mps, shares_whatsapp_business_app=shares_whatsapp_business_app)
    comp = compliance_table(compliance, data_localization_region)
    feats = features_table(features)
    open_needs = comp[comp["met"] == CHECK]["need"].tolist()
    open_feats = feats[feats["supported"] != YES]["feature"].tolist()
    limit = BUSINESS_APP_MPS if shares_whatsapp_business_app else DEFAULT_MPS
    stated = float(expected_peak_mps) > 0
    tput_verdict = (GO if tput["fits"] else MORE_NUMBERS) if stated else CHECK
    tput_why = tput["verdict"] if stated else _("peak not stated: ask the customer for the combined peak messages per "
                                                "second (text + media, inbound + outbound)")
    if shares_whatsapp_business_app:
        limits = _("{limit} mps per number by default, {upgraded} after the automatic upgrade").format(
            limit=limit, upgraded=f"{UPGRADED_MPS:,}")
    else:
        limits = _("{limit} mps per number by default, {upgraded} after the automatic upgrade, {shared} fixed for "
                   "numbers shared with the WhatsApp Business app").format(
            limit=limit, upgraded=f"{UPGRADED_MPS:,}", shared=BUSINESS_APP_MPS)
    onboarding_q, throughput_q, compliance_q, features_q = QUESTIONS
    rows = [
        (onboarding_q, onboarding, path["path"], "", GO, path["why"]),
        (throughput_q, _("{peak} mps peak").format(peak=f"{float(expected_peak_mps):g}") if stated else _("not stated"),
         limits, _("up to {mps} mps (the old On-Premises figure)").format(mps=GUIDE_MPS),
         tput_verdict, tput_why),
        (compliance_q, ", ".join(map(str, compliance or [])) or _("none stated"),
         _("GDPR compliant, SOC 2 certified, hosted in North America and Europe, optional local storage"),
         _("GDPR, SOC 2, North America and Europe"), GO if not open_needs else CHECK,
         _("all needs met") if not open_needs
         else _("confirm with Meta: {needs}").format(needs=", ".join(open_needs))),
        (features_q, ", ".join(map(str, features or [])) or _("none stated"), _("most key features (Meta's list)"),
         _("most key features"), GO if not open_feats else CHECK,
         _("all supported") if not open_feats else _("check: {features}").format(features=", ".join(open_feats))),
    ]
    return pd.DataFrame(rows, columns=["question", "customer", "current_fact", "guide_says", "verdict", "why"])


def recommendation(decisions: pd.DataFrame) -> str:
    """One sentence from the decision table."""
    blockers = decisions[decisions["verdict"] != GO]
    path = decisions.loc[decisions["question"] == QUESTIONS[0], "current_fact"].iloc[0]
    if blockers.empty:
        return _("Go: onboard on Cloud API through {path}.").format(path=path)
    items = "; ".join(f"{_(row.question)}: {row.why}" for row in blockers.itertuples())
    return _("Go with conditions ({path}). Resolve first: {items}").format(path=path, items=items)


# The notebooks, in order, with what each does; 07 only for migrations. Parts and descriptions marked N_().
_PLAN_STEPS = (
    ("00_plan", N_("Phase 1"), N_("this decision table"), "both"),
    ("01_assets", N_("Phase 2"), N_("Business Manager, WABA, app, system users, numbers"), "both"),
    ("02_terms", N_("Phase 3"), N_("accept the Terms of Service in WhatsApp Manager"), "both"),
    ("03_access_token", N_("Step 1"), N_("system user token: valid, both scopes, WABA in reach; API version"), "both"),
    ("04_webhooks", N_("Step 2"), N_("callback URL and verify token; subscribe to messages"), "both"),
    ("05_subscribe_waba", N_("Step 3"), N_("subscribe the app to the WABA"), "both"),
    ("06_phone_numbers", N_("Step 4"), N_("list the numbers, pick the one to onboard"), "both"),
    ("07_migration", N_("Step 4 exception"), N_("On-Premises to Cloud migration with a backup (legacy)"), "migrate"),
    ("07a_system_user", N_("Solution Partner"), N_("assign the partner's system user to the customer's WABA"), "both"),
    ("07b_credit_line", N_("Solution Partner"), N_("share and attach the partner's credit line"), "client"),
    ("08_register", N_("Step 5"), N_("verify if needed, register with the 6-digit PIN"), "both"),
    ("09_receive_message", N_("Step 6"), N_("receive the consumer's message; the 24-hour window opens"), "both"),
    ("10_send_test_message", N_("Step 7"), N_("send the test message and follow its statuses"), "both"),
    ("11_business_profile", N_("After registration"),
     N_("what consumers see: about, address, email, websites, vertical"), "both"),
    ("12_templates", N_("Before going live"), N_("the first utility template, approved (without first_template_name: "
                                                 "the templates listed)"), "both"),
    ("13_go_live", N_("Going live"), N_("health_status of every entity: AVAILABLE, LIMITED or BLOCKED"), "both"),
)


def plan_steps(onboarding: str, *, partner_client: bool = False) -> pd.DataFrame:
    """The playbook's steps for this customer: 07 skipped for new customers, 07b for a business that is not a
    Solution Partner's client (no partner_business_id other than its own), as those steps themselves decide."""
    onboarding_path(onboarding)  # validates
    applies = {"both", onboarding} | ({"client"} if partner_client else set())
    rows = [(nb, _(part), _(what), RUN if who in applies else SKIP) for nb, part, what, who in _PLAN_STEPS]
    return pd.DataFrame(rows, columns=["notebook", "guide_part", "does", "this_customer"])


def planning_checklist() -> pd.DataFrame:
    """The guide's remaining Phase 1 items, which no API can check."""
    rows = [
        (_("read the developer docs and the Postman collection"),
         _("developers.facebook.com/docs/whatsapp; Meta's Postman collection")),
        (_("communication plan"), _("tell the customer what changes and when; update setup documents")),
        (_("pricing"), _("no price difference between Cloud and On-Premises; Meta pays for hosting; "
                         "per-message pricing since Jul 1 2025")),
        (_("updates"), _("Cloud API updates ship automatically (the guide: first Tuesday of each month)")),
        (_("test number first"),
         _("a number is on one platform at a time: try the flow on a test number before a live one")),
    ]
    return pd.DataFrame(rows, columns=["item", "note"])
