"""The partner's book: every client and owned WABA of a business portfolio, each number's readiness, one table.

`python -m helpers portfolio --business-id ID [--out DIR] [--sandbox] [--write-profiles DIR]`
(and notebooks/portfolio.ipynb) reads, with the partner's system user token:

- `GET /{business}/client_whatsapp_business_accounts` and `.../owned_whatsapp_business_accounts`
  (every page), with each WABA's owner, funding (`primary_funding_id`) and `health_status`;
- per WABA (a progress bar over them): its numbers (every page, with `health_status`), its
  subscribed apps and its message templates;
- the partner's credit lines (`GET /{business}/extendedcredits`) and their shares
  (`GET /{line}/owning_credit_allocation_configs`), to tell whether a client WABA bills to one of them:
  its `primary_funding_id` is a share's receiving credential (Meta's "Managing credit lines").

One row per number (a WABA without numbers is one row). A Graph error on one WABA is shown in that
WABA's row, with its code; the other WABAs are still read. `write_profiles` turns the WABAs that no
customer profile covers yet into starter profiles (IDs and environment variable names only).
"""
from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any, Iterable, TextIO

import pandas as pd
from tqdm import tqdm

from . import operations as ops, tables, validate
from .client import GraphClient
from .errors import ConfigError, GraphAPIError, PlaybookError
from .i18n import N_, _
from .parameters import ENV_FALLBACKS, PARAMS, PROFILE_KEYS
from .processes import temporary_environ
from .profiles import load_profile

CUSTOMERS_DIR = Path(__file__).resolve().parents[1] / "customers"
SEED_PARTNER_BUSINESS = "100000000000001"   # Example Co, the sandbox seed's Solution Partner
MAX_PAGE_SIZE = 100
WABA_LIST_FIELDS = ("id", "name", "currency", "owner_business_info", "primary_funding_id", "health_status")
NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "status", "code_verification_status", "quality_rating",
                 "name_status", "messaging_limit_tier", "whatsapp_business_manager_messaging_limit", "health_status")
TEMPLATE_FIELDS = ("name", "language", "status", "category")
RELATIONS = (("client", "client_whatsapp_business_accounts"), ("owned", "owned_whatsapp_business_accounts"))
# A number in one of these operating statuses is registered on the platform (FLAGGED: low quality;
# RATE_LIMITED: for now; RESTRICTED: policy); health_status says whether it can send.
REGISTERED_STATUSES = ("CONNECTED", "FLAGGED", "RATE_LIMITED", "RESTRICTED")

COLUMNS = ["business", "business_id", "waba_id", "waba_name", "relation", "phone_number_id", "display_phone_number",
           "status", "registered", "quality", "messaging_limit", "name_status", "webhook_subscribed", "credit_line_attached",
           "templates_approved", "templates_other", "can_send_message", "blocking_entity", "health_code",
           "possible_solution", "profile", "readiness", "problems"]

READY, LIMITED, NOT_READY, BLOCKED, ERROR = "ready", "limited", "not ready", "blocked", "error"
# The table and its CSV keep the verdicts and relations above as they are (in every language); where they are
# shown (the styled table, the counts, the terminal) they are said in the current language.
VERDICT_WORDS = {READY: N_("ready"), LIMITED: N_("limited"), NOT_READY: N_("not ready"), BLOCKED: N_("blocked"),
                 ERROR: N_("error")}
RELATION_WORDS = {"client": N_("client"), "owned": N_("owned")}


def verdict_word(verdict: Any) -> str:
    """A readiness verdict as people read it, in the current language (anything else as it is)."""
    return _(VERDICT_WORDS[verdict]) if verdict in VERDICT_WORDS else _text(verdict)


# ---- reading the portfolio ---------------------------------------------------------------------

def read_portfolio(client: GraphClient, business_id: str, *, app_id: str | None = None, page_size: int | None = None,
                   profile_dirs: Iterable[str | Path] = (CUSTOMERS_DIR,), progress: bool = True,
                   progress_file: TextIO | None = None) -> pd.DataFrame:
    """The partner's book as a DataFrame (COLUMNS), one row per number.

    `app_id`: the partner's app, whose subscription to each WABA is the webhook column (None: the
    token's own app, from debug_token). `page_size`: the `limit` of every listing (None: Graph's
    default). `profile_dirs`: where customer profiles are looked up for the profile column.
    """
    business_id = validate.graph_id(business_id, "business_id")
    page_size = check_page_size(page_size)
    limit = {"limit": page_size} if page_size else {}
    covered = profiles_by_waba(profile_dirs)
    if app_id is None:
        app_id = token_app_id(client)
    credit_lines = {str(line.get("id")) for line in client.paginate(f"{business_id}/extendedcredits", **limit)}
    # A client WABA is funded by the receiving credential a share of the line created, not by the line's id.
    credentials = {str((share.get("receiving_credential") or {}).get("id"))
                   for line in sorted(credit_lines) for share in ops.credit_allocations(client, line)
                   if (share.get("receiving_credential") or {}).get("id")}
    wabas: list[tuple[str, dict[str, Any]]] = []
    for relation, edge in RELATIONS:
        for waba in client.paginate(f"{business_id}/{edge}", fields=",".join(WABA_LIST_FIELDS), **limit):
            wabas.append((relation, waba))
    rows: list[dict[str, Any]] = []
    bar = tqdm(wabas, unit="WABA", desc=_("portfolio"), disable=not progress, file=progress_file or sys.stderr)
    for relation, waba in bar:
        bar.set_postfix_str(str(waba.get("name") or waba.get("id")))
        rows.extend(_waba_rows(client, relation, waba, app_id=app_id, credentials=credentials, limit=limit,
                               profile=covered.get(str(waba.get("id")), "")))
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["templates_approved"] = table["templates_approved"].astype("Int64")  # a count, blank for an unread WABA
    table.attrs.update(business_id=business_id, app_id=app_id, credit_lines=sorted(credit_lines))
    return table


def check_page_size(page_size: Any) -> int | None:
    if page_size in (None, "", 0):
        return None
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigError(_("page size must be a whole number from 1 to {limit}.").format(limit=MAX_PAGE_SIZE))
    return page_size


def token_app_id(client: GraphClient) -> str | None:
    """The app the token belongs to (GET /debug_token with the token itself)."""
    secret = validate.secret_from_env(client.token_env, N_("access token"))
    data = client.request("GET", "debug_token", secret_params={"input_token": secret}).get("data") or {}
    return str(data["app_id"]) if data.get("app_id") else None


def _waba_rows(client: GraphClient, relation: str, waba: dict[str, Any], *, app_id: str | None, credentials: set[str],
               limit: dict[str, int], profile: str) -> list[dict[str, Any]]:
    waba_id = str(waba.get("id"))
    owner = waba.get("owner_business_info") or {}
    base = {"business": owner.get("name") or "", "business_id": str(owner.get("id") or ""), "waba_id": waba_id,
            "waba_name": waba.get("name") or "", "relation": relation, "profile": profile}
    funding = str(waba.get("primary_funding_id") or "")
    # A client bills to the partner's credit line; an owned WABA may pay its own way (health says if it cannot).
    attached = funding in credentials if funding or relation == "client" else None
    try:
        numbers = list(client.paginate(f"{waba_id}/phone_numbers", fields=",".join(NUMBER_FIELDS), **limit))
        apps = list(client.paginate(f"{waba_id}/subscribed_apps", **limit))
        templates = list(client.paginate(f"{waba_id}/message_templates", fields=",".join(TEMPLATE_FIELDS), **limit))
    except GraphAPIError as exc:
        code = f"{exc.code}" + (f"/{exc.subcode}" if exc.subcode else "")
        return [{**base, "credit_line_attached": attached, "readiness": ERROR, "health_code": code,
                 "problems": _("Graph error {code} reading the WABA: {reason}").format(code=code, reason=exc.reason),
                 "possible_solution": exc.remedy_for("shell")}]
    subscribed = any(str((a.get("whatsapp_business_api_data") or {}).get("id")) == str(app_id) for a in apps) \
        if app_id else bool(apps)
    approved = sum(1 for t in templates if t.get("status") == "APPROVED")
    other = ", ".join(f"{t.get('name')} {str(t.get('status', '')).lower()}" for t in templates
                      if t.get("status") != "APPROVED")
    shared = {**base, "webhook_subscribed": subscribed, "credit_line_attached": attached,
              "templates_approved": approved, "templates_other": other}
    if not numbers:
        row = {**shared, **_health_columns(waba.get("health_status") or {})}
        return [_judge(row, registered=None)]
    rows = []
    for number in numbers:
        registered = number.get("status") in REGISTERED_STATUSES
        row = {**shared, "phone_number_id": str(number.get("id") or ""),
               "display_phone_number": number.get("display_phone_number") or "",
               "status": number.get("status") or "", "registered": registered, "quality": number.get("quality_rating") or "",
               "messaging_limit": number.get("whatsapp_business_manager_messaging_limit")
               or number.get("messaging_limit_tier") or "",
               "name_status": number.get("name_status") or "",
               **_health_columns(number.get("health_status") or {})}
        rows.append(_judge(row, registered=registered))
    return rows


def _health_columns(health: dict[str, Any]) -> dict[str, Any]:
    """can_send_message, and the first entity that blocks (else limits) it: which, Meta's code, what to do."""
    overall = health.get("can_send_message") or ""
    entities = health.get("entities") or []
    worst = next((e for e in entities if e.get("can_send_message") == "BLOCKED"), None) or next(
        (e for e in entities if e.get("can_send_message") == "LIMITED"), None)
    if worst is None:
        return {"can_send_message": overall, "blocking_entity": "", "health_code": "", "possible_solution": ""}
    errors = worst.get("errors") or []
    first = errors[0] if errors else {}
    solution = first.get("possible_solution") or " ".join(str(i) for i in worst.get("additional_info") or [])
    return {"can_send_message": overall, "blocking_entity": f"{worst.get('entity_type')} {worst.get('id')}",
            "health_code": str(first.get("error_code") or ""), "possible_solution": solution}


def _judge(row: dict[str, Any], *, registered: bool | None) -> dict[str, Any]:
    """The readiness verdict: blocked (Meta says it cannot send), not ready (a step is missing), limited, ready.

    The verdict is one of the constants above (as it is in every language); the problems are prose, in the
    current language."""
    problems = []
    if registered is None:
        problems.append(_("no phone number"))
    elif not registered:
        problems.append(_("number not registered"))
    if not row.get("webhook_subscribed"):
        problems.append(_("app not subscribed (webhooks)"))
    if row.get("credit_line_attached") is False:
        problems.append(_("no credit line attached"))
    if not row.get("templates_approved"):
        problems.append(_("no approved template"))
    health = row.get("can_send_message")
    if health == "BLOCKED":
        verdict = BLOCKED
    elif problems:
        verdict = NOT_READY
    elif health == "LIMITED":
        verdict = LIMITED
    else:
        verdict = READY
    return {**row, "readiness": verdict, "problems": "; ".join(problems)}


def profiles_by_waba(folders: Iterable[str | Path]) -> dict[str, str]:
    """waba_id -> the profile file that covers it, over every *.yaml of the folders (unreadable ones skipped)."""
    covered: dict[str, str] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.yaml")):
            try:
                profile = load_profile(path)
            except ConfigError:
                continue
            if profile.get("waba_id"):
                covered.setdefault(str(profile["waba_id"]), str(path))
    return covered


# ---- files: CSV, HTML ---------------------------------------------------------------------------

_VERDICT_COLOURS = {READY: tables.OK_BACKGROUND, LIMITED: tables.WARN_BACKGROUND, NOT_READY: "#ffe5b4",
                    BLOCKED: tables.BAD_BACKGROUND, ERROR: tables.BAD_BACKGROUND}
_GOOD, _BAD = tables.OK_BACKGROUND, tables.BAD_BACKGROUND

_CSS = """<style>
body { font-family: system-ui, sans-serif; margin: 0.8em; }
table { border-collapse: collapse; width: 100%; table-layout: auto; }
th, td { border: 1px solid #ccc; padding: 3px 4px; font-size: 11.5px; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
td { white-space: pre-wrap; }
td.wide { min-width: 11em; }
td.nowrap { white-space: pre; }
caption { font-size: 15px; font-weight: 600; text-align: left; padding-bottom: 8px; }
</style>"""


def write_files(table: pd.DataFrame, out_dir: str | Path) -> tuple[Path, Path]:
    """portfolio.csv (every column, blank where missing) and portfolio.html (the styled table) in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out / "portfolio.csv", out / "portfolio.html"
    table.to_csv(csv_path, index=False)
    html_path.write_text(to_html(table), encoding="utf-8")
    return csv_path, html_path


def _mark(value: Any) -> str:
    if value is True:
        return "✓"
    if value is False:
        return "✗"
    return _text(value)


def _text(value: Any) -> str:
    """A cell's value as text; None, NaN and NA (nothing read) as blank."""
    if value is None or (not isinstance(value, (str, list, dict)) and pd.isna(value)):
        return ""
    return str(value)


def _two_lines(first: Any, second: Any) -> str:
    return "\n".join(t for t in (_mark(first), _mark(second)) if t)


# The shown table's columns (its headings, translated where they are shown; the code names them in English).
_SHOWN_COLUMNS = [N_("business / WABA"), N_("relation"), N_("number"), N_("registered"), N_("quality"), N_("limit"),
                  N_("name status"), N_("webhook"), N_("credit line"), N_("templates approved"), N_("can send"),
                  N_("blocking entity"), N_("possible solution"), N_("profile"), N_("readiness")]


def display_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: names over IDs in one cell, ✓/✗ for booleans, blanks for missing values,
    headings and verdicts in the current language."""
    view = _view(table)
    return view.rename(columns={c: _(c) for c in view.columns})


def _view(table: pd.DataFrame) -> pd.DataFrame:
    """display_frame with its columns named in English (as style() and _CELL_CLASS name them)."""
    rows = []
    for r in table.to_dict("records"):
        r = {key: None if _text(value) == "" else value for key, value in r.items()}  # NaN, NA: nothing read
        rows.append({
            "business / WABA": _two_lines(r["business"], _two_lines(r["waba_name"], r["waba_id"])),
            "relation": _(RELATION_WORDS[r["relation"]]) if r["relation"] in RELATION_WORDS else _mark(r["relation"]),
            "number": _two_lines(r["display_phone_number"], r["phone_number_id"]),
            # The status under the mark when it is not plain CONNECTED (FLAGGED, PENDING, ...).
            "registered": _two_lines(r["registered"], "" if r["status"] in ("CONNECTED", None) else r["status"]),
            "quality": _mark(r["quality"]),
            "limit": _mark(r["messaging_limit"]).replace("TIER_", ""),
            "name status": _mark(r["name_status"]).replace("_", " ").lower(),
            "webhook": _mark(r["webhook_subscribed"]),
            "credit line": _mark(r["credit_line_attached"]),
            "templates approved": _two_lines(r["templates_approved"], r["templates_other"]),
            "can send": _mark(r["can_send_message"]),
            "blocking entity": _two_lines(_mark(r["blocking_entity"]).replace(" ", "\n"),
                                          r["health_code"] and _("code {code}").format(code=r["health_code"])),
            "possible solution": _mark(r["possible_solution"]),
            "profile": Path(_mark(r["profile"])).name if _mark(r["profile"]) else "",
            "readiness": _two_lines(verdict_word(r["readiness"]), r["problems"]),
        })
    return pd.DataFrame(rows, columns=_SHOWN_COLUMNS)


# Sentences wrap in a wide cell; IDs, numbers and states stay on their lines.
_CELL_CLASS = {"possible solution": "wide", "readiness": "wide", "number": "nowrap", "registered": "nowrap",
               "can send": "nowrap", "blocking entity": "nowrap", "relation": "nowrap", "limit": "nowrap",
               "quality": "nowrap"}


def style(table: pd.DataFrame):
    """A Styler of display_frame(table): green/amber/red cells, no index (the notebook shows this)."""
    view = _view(table)

    def flag(value: str) -> str:
        return f"background-color: {_GOOD}" if value == "✓" else f"background-color: {_BAD}" if value == "✗" else ""

    def lookup(colours: dict[str, str]):
        return lambda value: f"background-color: {colours[value]}" if value in colours else ""

    def verdicts(column: pd.Series) -> list[str]:  # by the table's verdict, whatever the language shows
        return [lookup(_VERDICT_COLOURS)(r) for r in readiness]

    def templates(value: str) -> str:
        count = value.split("\n", 1)[0]
        return "" if not count else f"background-color: {_GOOD if count != '0' else _BAD}"

    readiness = list(table["readiness"])
    styler = (view.style
              .map(lambda v: flag(v.split("\n", 1)[0]), subset=["registered"])
              .map(flag, subset=["webhook", "credit line"])
              .map(lookup(tables.QUALITY_COLOURS), subset=["quality"])
              .map(lookup(tables.HEALTH_COLOURS), subset=["can send"])
              .map(templates, subset=["templates approved"])
              .apply(verdicts, subset=["readiness"], axis=0)
              .apply(lambda col: [f"background-color: {_BAD}" if r == ERROR else "" for r in readiness],
                     subset=["business / WABA"], axis=0)
              .set_td_classes(pd.DataFrame({c: [_CELL_CLASS.get(c, "")] * len(view) for c in view.columns},
                                           index=view.index))
              .format(html.escape)
              .hide(axis="index"))
    headings = [_(c) for c in view.columns]
    if headings != list(view.columns):  # in English the headings are the columns' own names
        styler = styler.relabel_index(headings, axis=1)
    return styler


def caption(table: pd.DataFrame) -> str:
    wabas = table["waba_id"].nunique()
    ready = table.loc[table["readiness"] == READY, "waba_id"].nunique()
    clients = table.loc[table["relation"] == "client", "waba_id"].nunique()
    numbers = int(table["phone_number_id"].fillna("").astype(bool).sum())
    return _("Business {business_id}: {wabas} WABAs ({clients} client, {owned} owned), {numbers} numbers. Ready to "
             "send: {ready_numbers} of {numbers} numbers, in {ready_wabas} of {wabas} WABAs.").format(
        business_id=table.attrs.get("business_id", ""), wabas=wabas, clients=clients, owned=wabas - clients,
        numbers=numbers, ready_numbers=int((table["readiness"] == READY).sum()), ready_wabas=ready)


def to_html(table: pd.DataFrame) -> str:
    styler = style(table).set_caption(html.escape(caption(table)))
    title = html.escape(_("Partner portfolio"))
    return (f"<!doctype html><meta charset='utf-8'><title>{title}</title>{_CSS}" + styler.to_html())


def counts(table: pd.DataFrame) -> pd.Series:
    """Numbers (rows) per readiness verdict, in the order ready, limited, not ready, blocked, error (the verdicts
    as the table holds them: `.rename(index=verdict_word)` says them in the current language)."""
    order = [READY, LIMITED, NOT_READY, BLOCKED, ERROR]
    return table["readiness"].value_counts().reindex(order, fill_value=0)


def terminal(table: pd.DataFrame) -> str:
    # The columns keep the CSV's names; the verdicts and relations are said in the current language.
    view = table[["business", "waba_id", "relation", "display_phone_number", "readiness", "problems"]].fillna("")
    view["readiness"] = view["readiness"].map(verdict_word)
    view["relation"] = view["relation"].map(lambda r: _(RELATION_WORDS[r]) if r in RELATION_WORDS else r)
    return caption(table) + "\n" + view.to_string(index=False, max_colwidth=70)


# ---- starter profiles ---------------------------------------------------------------------------

_LEGAL_SUFFIXES = re.compile(r"\b(llc|ltd|limited|inc|gmbh|sa|sas|srl|bv|ag|plc|pty|co)\b\.?$", re.I)


def slug(name: str, fallback: str) -> str:
    """`Harbor Bikes LLC` -> `harbor-bikes`: lowercase words, without a trailing legal form."""
    ascii_name = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode()
    words = _LEGAL_SUFFIXES.sub("", ascii_name.strip()).strip(" .,&")
    text = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:50].strip("-")
    return text or fallback


def write_profiles(table: pd.DataFrame, folder: str | Path, *, token_env: str,
                   app_secret_env: str = str(PARAMS["app_secret_env"].default),
                   verify_token_env: str = str(PARAMS["verify_token_env"].default),
                   covered_dirs: Iterable[str | Path] = (CUSTOMERS_DIR,)) -> dict[str, list[Path]]:
    """A starter profile per WABA of `table` that no profile in `folder` or `covered_dirs` covers.

    Never overwrites a file. Returns {"written": [...], "skipped": [...]} (skipped: a profile of that
    WABA exists, or a file of that name does).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in (("token_env", token_env), ("app_secret_env", app_secret_env),
                        ("verify_token_env", verify_token_env)):
        validate.env_name(value, name)
    covered = profiles_by_waba([folder, *covered_dirs])
    taken = {p.stem for d in [folder, *covered_dirs] for p in Path(d).glob("*.yaml")}
    app_id = table.attrs.get("app_id")
    written: list[Path] = []
    skipped: list[Path] = []
    for waba_id, rows in table[table["readiness"] != ERROR].groupby("waba_id", sort=False):
        if waba_id in covered:
            skipped.append(Path(covered[waba_id]))
            continue
        first = {key: _text(value) for key, value in rows.iloc[0].items()}
        # The business's name; for a second WABA of a business, the WABA's; then the WABA ID's last digits.
        customer = slug(first["business"] or first["waba_name"], f"waba-{waba_id}")
        if customer in taken:
            customer = slug(first["waba_name"], customer)
        if customer in taken:
            customer = f"{customer}-{str(waba_id)[-4:]}"
        path = folder / f"{customer}.yaml"
        if path.exists():
            skipped.append(path)
            continue
        taken.add(customer)
        env_prefix = customer.upper().replace("-", "_")
        profile: dict[str, Any] = {"customer": customer, "business_id": first["business_id"] or None,
                                   "waba_id": str(waba_id), "app_id": app_id or None}
        if first["relation"] == "client" and "partner_business_id" in PROFILE_KEYS:
            profile["partner_business_id"] = table.attrs.get("business_id")
        if first["phone_number_id"]:
            profile["display_phone_number"] = first["display_phone_number"]
            profile["phone_number_id"] = first["phone_number_id"]
        profile.update(token_env=token_env, pin_env=f"{env_prefix}_PIN", app_secret_env=app_secret_env,
                       verify_token_env=verify_token_env)
        profile = {k: v for k, v in profile.items() if v not in (None, "")}
        unknown = set(profile) - PROFILE_KEYS
        if unknown:  # the registry decides what a profile may hold
            raise ConfigError(_("starter profile keys {keys} are not profile keys.").format(
                keys=", ".join(sorted(unknown))))
        header = (f"# Starter profile for {first['business'] or first['waba_name']} ({first['relation']} WABA of business "
                  f"{table.attrs.get('business_id')}), written from the partner's portfolio.\n"
                  f"# Secrets are environment variable NAMES: set {env_prefix}_PIN to the number's two-step PIN "
                  f"before 08, and add consumer_number for 09 and 10.\n")
        # Every value a double-quoted string (YAML reads JSON strings): IDs stay text, as in customers/*.yaml.
        body = "".join(f"{key}: {json.dumps(str(value), ensure_ascii=False)}\n" for key, value in profile.items())
        with open(path, "x", encoding="utf-8") as handle:  # "x": never overwrite, even in a race
            handle.write(header + body)
        load_profile(path)  # what we wrote must load as any profile does
        written.append(path)
    return {"written": written, "skipped": skipped}


# ---- the notebook (notebooks/portfolio.ipynb) ------------------------------------------------------

def notebook_view(*, business_id: str, graph_url: str, api_version: str, token_env: str, out_dir: str,
                  page_size: int = 0, profiles_dir: str = "") -> dict[str, Any]:
    """Everything the portfolio notebook shows: inputs checked first, then the table, its files, the profiles.

    An empty graph_url takes the lab's sandbox (PLAYBOOK_GRAPH_URL), as the step notebooks do; an empty
    business_id the partner of the lab's profile (PLAYBOOK_PROFILE).
    """
    graph_url = graph_url or os.environ.get(ENV_FALLBACKS["graph_url"], "") or str(PARAMS["graph_url"].default)
    if not str(business_id or "").strip() and os.environ.get(ENV_FALLBACKS["profile"]):
        # In the lab: the partner of the lab's profile (its own business when it is the partner itself).
        lab_profile = load_profile(os.environ[ENV_FALLBACKS["profile"]])
        business_id = str(lab_profile.get("partner_business_id") or lab_profile.get("business_id") or "")
    if not str(business_id or "").strip():
        raise ConfigError(_("business_id is empty: give the partner's business portfolio ID (digits)."))
    business_id = validate.graph_id(business_id, "business_id")
    if not str(out_dir or "").strip():
        raise ConfigError(_("out_dir is empty: name the folder for portfolio.csv and portfolio.html."))
    page_size = check_page_size(page_size)
    client = GraphClient(graph_url, api_version, token_env)
    validate.secret_from_env(client.token_env, N_("access token"))
    table = read_portfolio(client, business_id, page_size=page_size)
    csv_path, html_path = write_files(table, out_dir)
    profiles = write_profiles(table, profiles_dir, token_env=token_env) if profiles_dir else {"written": [], "skipped": []}
    files = pd.DataFrame([(_("portfolio table (CSV)"), str(csv_path)), (_("portfolio table (HTML)"), str(html_path))]
                         + [(_("starter profile"), str(p)) for p in profiles["written"]]
                         + [(_("kept (covers its WABA already)"), str(p)) for p in profiles["skipped"]],
                         columns=[_("file"), _("path")])
    return {"table": table, "styled": style(table).set_caption(html.escape(caption(table))),
            "counts": counts(table).rename(index=verdict_word), "files": files, "profiles": profiles}


# ---- the command ---------------------------------------------------------------------------------

def add_parser(commands) -> None:
    parser = commands.add_parser(
        "portfolio", help="the partner's book: every client and owned WABA, its numbers and readiness, as one table",
        description="List every client and owned WABA of a business portfolio with each number's readiness "
                    "(registered, quality, limit, name, webhook, credit line, templates, health_status); write "
                    "portfolio.csv and portfolio.html. Exit 0 when read (whatever the verdicts), 2 for bad input.")
    parser.add_argument("--business-id", help="the partner's business portfolio ID (with --sandbox: the seed's "
                                              f"partner, {SEED_PARTNER_BUSINESS}, by default)")
    parser.add_argument("--out", default="portfolio", help="folder for portfolio.csv and portfolio.html (default: portfolio)")
    parser.add_argument("--sandbox", action="store_true", help="start the embedded sandbox and read its seed's partner")
    parser.add_argument("--sandbox-seed", metavar="FILE", help="with --sandbox: the seed YAML to load")
    parser.add_argument("--write-profiles", metavar="DIR",
                        help="write a starter customer profile for each WABA no profile covers yet (never overwrites)")
    parser.add_argument("--graph-url", default=str(PARAMS["graph_url"].default), help="Graph API base URL")
    parser.add_argument("--api-version", default=str(PARAMS["api_version"].default), help="Graph API version, vNN.0")
    parser.add_argument("--token-env", default=str(PARAMS["token_env"].default),
                        help="NAME of the environment variable holding the partner's system user token")
    parser.add_argument("--app-id", help="the partner's app (default: the token's app)")
    parser.add_argument("--page-size", type=int, help=f"items per page of every listing (1-{MAX_PAGE_SIZE}; default: Graph's)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ConfigError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    except PlaybookError as exc:  # the listing itself failed (token, business): nothing to show
        print(_("error: {problem}").format(problem=exc.reason) + "\n    "
              + _("What to do: {remedy}").format(remedy=exc.remedy_for("shell")), file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    # Every input first: nothing starts, nothing is asked of Graph, before they are right.
    if args.business_id is None and not args.sandbox:
        raise ConfigError(_("--business-id is required (the partner's business portfolio ID), or use --sandbox."))
    business_id = validate.graph_id(args.business_id or SEED_PARTNER_BUSINESS, "--business-id")
    check_page_size(args.page_size)
    validate.env_name(args.token_env, "--token-env")
    validate.api_version(args.api_version)
    graph_url = validate.url(args.graph_url, "--graph-url")
    app_id = validate.graph_id(args.app_id, "--app-id") if args.app_id else None
    if args.sandbox_seed and not args.sandbox:
        raise ConfigError(_("--sandbox-seed is the embedded sandbox's seed: add --sandbox."))
    with contextlib.ExitStack() as stack:
        if args.sandbox:
            from .sandbox import Sandbox  # only with --sandbox: the emulator (and Meta's spec) stays unloaded

            sandbox = Sandbox(seed=args.sandbox_seed).start()
            stack.callback(sandbox.stop)
            graph_url = sandbox.url
            # The sandbox's fake secrets, in this process only while it runs (as `helpers run --sandbox` hands them on).
            stack.enter_context(temporary_environ(sandbox.demo_env()))
        else:
            validate.secret_from_env(args.token_env, N_("access token"))
        client = GraphClient(graph_url, args.api_version, args.token_env)
        table = read_portfolio(client, business_id, app_id=app_id, page_size=args.page_size)
    csv_path, html_path = write_files(table, args.out)
    print(terminal(table))
    print("\n" + _("portfolio: {html}  (and {csv})").format(html=html_path, csv=csv_path.name))
    if args.write_profiles:
        result = write_profiles(table, args.write_profiles, token_env=args.token_env)
        for path in result["written"]:
            print(_("wrote {path}").format(path=path))
        for path in result["skipped"]:
            print(_("kept {path} (already covers its WABA or exists)").format(path=path))
    return 0
