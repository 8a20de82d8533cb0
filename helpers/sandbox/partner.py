"""A Solution Partner's side of onboarding: the business portfolio, its credit line, system users
assigned to a customer's WABA. Meta's rules over the sandbox's state, each raising Meta's error.
"""
from __future__ import annotations

import hashlib
from typing import Any

from . import graph_errors as err
from . import spec_model
from .models import Business, Token, Waba
from .params import list_param
from .store import Store

# The currencies a shared credit line can bill a customer's WABA in.
CREDIT_CURRENCIES = ("USD", "EUR", "INR", "IDR", "GBP", "AUD")


def business_for(state: Store, token: Token, business_id: str, method: str) -> Business:
    business = state.businesses.get(business_id)
    if business is None or token.type == "APP" or token.business_id != business_id:
        raise err.unsupported_request(method, business_id)
    return business


def business_fields(business: Business) -> dict:
    return {"id": lambda: business.id, "name": lambda: business.name, "timezone_id": lambda: 0}


def credit_line_owner(state: Store, credit_line_id: str) -> Business | None:
    for business in state.businesses.values():
        if any(line["id"] == credit_line_id for line in business.credit_lines):
            return business
    return None


def extended_credits(business: Business) -> dict:
    return {"data": [{"id": line["id"], "legal_entity_name": line.get("legal_entity_name", business.name)}
                     for line in business.credit_lines]}


def owned_wabas(state: Store, business: Business) -> list[Waba]:
    return sorted((w for w in state.wabas.values() if w.business_id == business.id), key=lambda w: w.id)


def client_wabas(state: Store, business: Business) -> list[Waba]:
    return sorted((w for w in state.wabas.values() if business.id in w.shared_with), key=lambda w: w.id)


def share_and_attach(state: Store, token: Token, credit_line_id: str, params: dict) -> dict:
    """POST /{credit_line_id}/whatsapp_credit_sharing_and_attach?waba_currency=&waba_id= (the partner's token)."""
    owner = credit_line_owner(state, credit_line_id)
    if owner is None or token.type == "APP" or token.business_id != owner.id:
        raise err.unsupported_request("POST", credit_line_id)
    currency, waba_id = params.get("waba_currency"), params.get("waba_id")
    if not currency:
        raise err.parameter_required("waba_currency")
    if str(currency) not in CREDIT_CURRENCIES:
        raise err.param_enum("waba_currency", list(CREDIT_CURRENCIES), str(currency))
    if not waba_id:
        raise err.parameter_required("waba_id")
    waba = state.wabas.get(str(waba_id))
    if waba is None or (waba.business_id != owner.id and owner.id not in waba.shared_with):
        raise err.invalid_parameter(f"waba_id {waba_id} is not a WhatsApp Business Account shared with business "
                                    f"{owner.id}: the customer must finish Embedded Signup with your app first.")
    if waba.business_id != owner.id and waba.partner_tasks is not None:
        # A WABA shared through a Multi-Partner Solution: billing needs MANAGE_BILLING for the partner's system user.
        tasks = waba.assigned_users.get(str(token.user_id)) or []
        if not {"MANAGE", "MANAGE_BILLING"} & set(tasks):
            raise err.permissions_error(f"System user {token.user_id} needs the MANAGE_BILLING task on WhatsApp "
                                        f"Business Account {waba.id} to attach a credit line to it.")
    attach_credit_line(waba, credit_line_id, str(currency))
    state.count_write("credit_share", waba.id)
    return {"allocation_config_id": waba.credit_allocation["allocation_config_id"], "waba_id": waba.id}


def attach_credit_line(waba: Waba, credit_line_id: str, currency: str) -> None:
    """The WABA now bills to the credit line; attaching the same line again keeps its allocation.

    As at Meta ("Managing credit lines"), sharing creates an allocation config whose receiving
    credential (the credit the client's business received) is what funds the WABA: the WABA's
    primary_funding_id is that credential's id, not the partner's credit line id.
    """
    if waba.credit_allocation is None or waba.credit_allocation["credit_line_id"] != credit_line_id:
        digest = hashlib.sha256(f"{credit_line_id}:{waba.id}".encode()).hexdigest()
        waba.credit_allocation = {"allocation_config_id": str(580000000000000 + int(digest[:12], 16) % 10**14),
                                  "credit_line_id": credit_line_id, "currency": currency}
    waba.credit_allocation.setdefault("receiving_credential_id",
                                      receiving_credential_id(credit_line_id, waba.business_id))
    waba.payment_method = "CREDIT_LINE"


def receiving_credential_id(credit_line_id: str, receiving_business_id: str) -> str:
    """The credential the client's business receives from the partner's credit line (one per line and business)."""
    digest = hashlib.sha256(f"credential:{credit_line_id}:{receiving_business_id}".encode()).hexdigest()
    return str(620000000000000 + int(digest[:12], 16) % 10**14)


def primary_funding_id(waba: Waba) -> str | None:
    """GET /{waba_id}?fields=primary_funding_id: the receiving credential of the attached credit line."""
    allocation = waba.credit_allocation
    if not allocation:
        return None
    return allocation.get("receiving_credential_id") or receiving_credential_id(allocation["credit_line_id"],
                                                                                waba.business_id)


# ---- the allocation config a share created (GET /{allocation_config_id}) ----------------------

ALLOCATION_CONFIG_NODE = "ExtendedCreditAllocationConfig"


def allocation_waba(state: Store, allocation_config_id: str) -> Waba | None:
    for waba in state.wabas.values():
        if (waba.credit_allocation or {}).get("allocation_config_id") == allocation_config_id:
            return waba
    return None


def allocation_config(state: Store, token: Token, allocation_config_id: str) -> dict[str, Any]:
    """A getter per field of GET /{allocation_config_id} (the partner's system token): Meta's "Verifying
    shared status" step 1 reads receiving_credential. Only the credit line's owner sees it; others get 100/33."""
    waba = allocation_waba(state, allocation_config_id)
    owner = credit_line_owner(state, waba.credit_allocation["credit_line_id"]) if waba else None
    if waba is None or owner is None or token.type == "APP" or token.business_id != owner.id:
        raise err.unsupported_request("GET", allocation_config_id)
    receiving = state.businesses[waba.business_id]
    return {"id": lambda: allocation_config_id,
            "receiving_credential": lambda: {"id": primary_funding_id(waba)},
            "receiving_business": lambda: {"name": receiving.name, "id": receiving.id},
            "request_status": lambda: "ACTIVE"}


# ---- system users assigned to a WABA ------------------------------------------------------------

def _system_users(state: Store, waba: Waba) -> dict[str, Token]:
    """The system users of the businesses that reach this WABA (its owner and the partners it is shared with)."""
    businesses = {waba.business_id, *waba.shared_with}
    return {t.user_id: t for t in state.tokens.values()
            if t.type == "SYSTEM_USER" and t.user_id and t.business_id in businesses}


def assigned_users(state: Store, waba: Waba, params: dict) -> list[dict]:
    business = params.get("business")
    if not business:
        raise err.parameter_required("business")
    if str(business) not in state.businesses:
        raise err.invalid_parameter(f"business {business} is not a business portfolio.")
    users = _system_users(state, waba)
    rows = []
    for user_id, tasks in sorted(waba.assigned_users.items()):
        token = users.get(user_id)
        owner = state.businesses[token.business_id] if token else None
        row: dict[str, Any] = {"id": user_id, "name": _user_name(user_id), "user_type": "SYSTEM_USER",
                               "tasks": list(tasks)}
        if owner is not None:
            row["business"] = {"id": owner.id, "name": owner.name}
        rows.append(row)
    return rows


def assign_user(state: Store, waba: Waba, params: dict) -> dict:
    user = params.get("user")
    if not user:
        raise err.parameter_required("user")
    if params.get("tasks") in (None, "", []):
        raise err.parameter_required("tasks")
    raw = params["tasks"]
    if isinstance(raw, str) and raw.strip().startswith("["):
        raw = raw.replace("'", '"')  # Meta's own examples send tasks=['MANAGE']
    tasks = list_param(raw)
    allowed = spec_model.waba_permission_tasks()
    for task in tasks:
        if task not in allowed:
            raise err.param_enum("tasks", list(allowed), task)
    users = _system_users(state, waba)
    if str(user) not in users:
        raise err.invalid_parameter(f"user {user} is not a system user of a business this WhatsApp Business Account "
                                    "belongs to or is shared with.")
    if waba.partner_tasks is not None and users[str(user)].business_id != waba.business_id:
        refused = [t for t in tasks if t not in waba.partner_tasks]
        if refused:
            raise err.permissions_error(
                f"This WhatsApp Business Account is shared through a Multi-Partner Solution that grants "
                f"{', '.join(waba.partner_tasks)}; {', '.join(refused)} cannot be assigned to a partner's system user.")
    waba.assigned_users[str(user)] = list(dict.fromkeys(tasks))
    state.count_write("user_assign", f"{waba.id}/{user}")
    return {"success": True}


def unassign_user(state: Store, waba: Waba, params: dict) -> dict:
    user = params.get("user")
    if not user:
        raise err.parameter_required("user")
    waba.assigned_users.pop(str(user), None)
    return {"success": True}


def _user_name(user_id: str) -> str:
    return f"System User {user_id[-4:]}"
