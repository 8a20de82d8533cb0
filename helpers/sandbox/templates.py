"""Message templates on a WABA: list, create (reviewed on the sandbox clock), delete.

A new template is PENDING; its review ends REVIEW_SECONDS later on the sandbox clock, APPROVED or
REJECTED, and Meta's `message_template_status_update` webhook tells the subscribed apps. The
review refuses what Meta's refuses most often during onboarding: promotional wording in a UTILITY
or AUTHENTICATION template (INCORRECT_CATEGORY) and variables that are not numbered in order
(INVALID_FORMAT). Only APPROVED templates can be sent.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from . import graph_errors as err
from .graph_errors import GraphError
from .models import Waba
from .store import Store

CATEGORIES = ("AUTHENTICATION", "MARKETING", "UTILITY")
# A template's review and quality states (Meta's message template docs; the spec has no enum for them).
TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION",
                     "DELETED", "LIMIT_EXCEEDED")
REVIEW_SECONDS = 60.0
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_PROMOTIONAL = re.compile(r"\b(sale|discount|offer|promo|deal|% off|buy now|limited time)\b", re.I)
DEFAULT_FIELDS = ("name", "language", "status", "category", "components", "id")
# A rejection's own words in message_template_status_update (Meta's webhook reference shows rejection_info
# {reason, recommendation} on an INVALID_FORMAT rejection); worded for the sandbox's review rule.
REJECTION_INFO = {
    "INVALID_FORMAT": {"reason": "Your template's variables are not numbered in sequence: parameters must be {{1}}, "
                                 "{{2}}, {{3}} and so on, without gaps or repeats out of order.",
                       "recommendation": "Number the parameters from {{1}} in the order they appear, and give each "
                                         "one descriptive text around it."},
}


def view(waba: Waba, template: dict) -> dict:
    out = {"name": template["name"], "language": template["language"], "status": template.get("status", "APPROVED"),
           "category": template["category"], "components": template.get("components") or [
               {"type": "BODY", "text": template.get("body", "Hello World")}],
           "id": template.get("id") or template_id(waba, template)}
    if template.get("rejected_reason"):
        out["rejected_reason"] = template["rejected_reason"]
    return out


def template_id(waba: Waba, template: dict) -> str:
    # Stable per WABA, name and language, shaped like Meta's numeric template IDs.
    digest = hashlib.sha256(f"{waba.id}:{template['name']}:{template['language']}".encode()).hexdigest()
    return str(700000000000000 + int(digest[:12], 16) % 100000000000000)


def listing(waba: Waba, params: dict) -> list[dict]:
    rows = [view(waba, t) for t in waba.templates]
    if params.get("name"):
        rows = [r for r in rows if r["name"] == str(params["name"])]
    if params.get("status"):
        rows = [r for r in rows if r["status"] == str(params["status"]).upper()]
    return sorted(rows, key=lambda r: r["id"])


def create(state: Store, waba: Waba, params: dict) -> dict:
    name, language, category = params.get("name"), params.get("language"), params.get("category")
    for key, value in (("name", name), ("language", language), ("category", category)):
        if not value:
            raise err.parameter_required(key)
    if not _NAME.match(str(name)):
        raise err.invalid_parameter("name may only contain lowercase letters, digits and underscores.")
    if not _LANGUAGE.match(str(language)):
        raise err.invalid_parameter(f"language {language!r} is not a template language code such as en_US.")
    category = str(category).upper()
    if category not in CATEGORIES:
        raise err.param_enum("category", list(CATEGORIES), category)
    components = params.get("components")
    if isinstance(components, str):  # sent as a form field holding JSON
        try:
            components = json.loads(components)
        except ValueError:
            raise err.invalid_parameter("components must be a JSON array.") from None
    if not isinstance(components, list) or not components:
        raise err.parameter_required("components")
    body = next((c for c in components if isinstance(c, dict) and str(c.get("type", "")).upper() == "BODY"), None)
    if body is None or not str(body.get("text", "")).strip():
        raise err.invalid_parameter("components must include a BODY with text.")
    if any(t["name"] == name and t["language"] == language for t in waba.templates):
        raise GraphError(100, "(#100) Invalid parameter", subcode=2388024,
                         details=f"Content in this language already exists for the template {name}.")
    template = {"name": str(name), "language": str(language), "category": category, "components": components,
                "status": "PENDING", "review_at": state.now() + REVIEW_SECONDS}
    template["id"] = template_id(waba, template)
    template["verdict"] = ("REJECTED", waba.review_rejects) if waba.review_rejects else _review(category, str(body["text"]))
    waba.templates.append(template)
    state.count_write("template_create", f"{waba.id}/{name}/{language}")
    return {"id": template["id"], "status": "PENDING", "category": category}


def _review(category: str, text: str) -> tuple[str, str]:
    if category in ("UTILITY", "AUTHENTICATION") and _PROMOTIONAL.search(text):
        return "REJECTED", "INCORRECT_CATEGORY"
    numbers = [int(n) for n in re.findall(r"{{\s*(\d+)\s*}}", text)]
    if sorted(set(numbers)) != list(range(1, len(set(numbers)) + 1)):
        return "REJECTED", "INVALID_FORMAT"
    return "APPROVED", "NONE"


def delete(waba: Waba, params: dict) -> dict:
    name = params.get("name")
    if not name:
        raise err.parameter_required("name")
    before = len(waba.templates)
    waba.templates[:] = [t for t in waba.templates if t["name"] != str(name)]
    if len(waba.templates) == before:
        raise err.invalid_parameter(f"There is no message template named {name} on this WhatsApp Business Account.")
    return {"success": True}


def due_reviews(state: Store) -> list[tuple[Waba, dict[str, Any]]]:
    """Finish the reviews that are due on the sandbox clock; (waba, status-update value) for each."""
    now, finished = state.now(), []
    for waba in state.wabas.values():
        for template in waba.templates:
            if template.get("status") == "PENDING" and template.get("review_at", 0) <= now:
                status, reason = template.pop("verdict", ("APPROVED", "NONE"))
                template["status"] = status
                if status == "REJECTED":
                    template["rejected_reason"] = reason
                value = {"event": status, "message_template_id": int(template["id"]),
                         "message_template_name": template["name"],
                         "message_template_language": template["language"], "reason": reason,
                         "message_template_category": template["category"]}
                if reason in REJECTION_INFO:
                    value["rejection_info"] = dict(REJECTION_INFO[reason])
                finished.append((waba, value))
    return finished
