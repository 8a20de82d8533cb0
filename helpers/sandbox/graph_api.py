"""The Graph API surface: routes a parsed request to the rule in SandboxState that answers it.

Order of checks follows Graph: the token first (missing, unparsable, expired), then the object
(unknown IDs and IDs the token cannot see look the same), then the edge and the method,
then the parameters.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import inspect
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

from ..versions import DEFAULT_API_VERSION, VERSIONS
from . import graph_errors as err
from . import partner, spec_model, templates
from .service import SandboxService
from .models import MANAGEMENT, MESSAGING, Token
from .params import list_param, object_param

WABA_DEFAULT_FIELDS = ("id", "name", "currency", "timezone_id", "message_template_namespace")
PHONE_DEFAULT_FIELDS = ("verified_name", "code_verification_status", "display_phone_number", "quality_rating",
                        "platform_type", "throughput", "webhook_configuration", "id")
NODE_TYPES = {"waba": spec_model.WABA, "phone": spec_model.PHONE_NUMBER, "business": spec_model.BUSINESS,
              "app": "Application", "credit_line": "ExtendedCredit",
              "allocation_config": partner.ALLOCATION_CONFIG_NODE}
SPEC_NODES = ("waba", "phone", "business")   # the kinds whose fields and edges come from the spec
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass
class Call:
    method: str
    version: str | None          # as requested ("v25.0"), None when the path had no version
    parts: list[str]
    params: dict[str, Any]
    token: str | None
    token_in_query: bool
    base_url: str                # scheme://host of this request, for paging links
    usage: tuple[str, str] | None = None   # (business id, BUC type) for X-Business-Use-Case-Usage

    @property
    def version_or_default(self) -> str:
        return self.version or DEFAULT_API_VERSION


class GraphAPI:
    def __init__(self, service: SandboxService) -> None:
        self.service = service

    @property
    def state(self):
        return self.service.state

    async def dispatch(self, call: Call) -> dict:
        parts = call.parts
        if parts == ["debug_token"]:
            return self._only(call, ("GET",), parts[0], self._debug_token)
        if parts == ["oauth", "access_token"]:
            return self._only(call, ("GET", "POST"), "oauth", self._exchange_code)
        token = self.state.authenticate(call.token)
        if not parts:
            raise err.unknown_path("/")
        kind = self._kind(parts[0])
        if kind is None:
            raise err.unsupported_request(call.method, parts[0])
        if len(parts) > 2:
            raise err.unknown_path("/" + "/".join(parts[1:]))
        edge = parts[1] if len(parts) == 2 else None
        methods = ROUTES.get((kind, edge))
        if methods is None:
            if edge and kind in SPEC_NODES and call.method in spec_model.edges(NODE_TYPES[kind]).get(edge, ()):
                raise err.not_emulated(call.method, edge)
            if call.method == "GET" and edge:
                raise err.nonexisting_field(edge, NODE_TYPES[kind])
            raise err.unsupported_request(call.method, parts[0])
        handler = methods.get(call.method)
        if handler is None:
            raise err.unsupported_request(call.method, parts[0])
        result = handler(self, call, token, parts[0])
        return await result if inspect.isawaitable(result) else result

    def _kind(self, object_id: str) -> str | None:
        if object_id in self.state.wabas:
            return "waba"
        if object_id in self.state.phones:
            return "phone"
        if object_id in self.state.apps:
            return "app"
        if object_id in self.state.businesses:
            return "business"
        if partner.credit_line_owner(self.state, object_id) is not None:
            return "credit_line"
        if partner.allocation_waba(self.state, object_id) is not None:
            return "allocation_config"
        return None

    def _only(self, call: Call, methods, name: str, handler: Callable[[Call], dict]) -> dict:
        if call.method not in methods:
            raise err.unsupported_request(call.method, name)
        return handler(call)

    # ---- tokens -----------------------------------------------------------------------------

    def _debug_token(self, call: Call) -> dict:
        caller = self.state.authenticate(call.token)
        return self.state.debug_token(caller, _str(call.params.get("input_token")))

    def _exchange_code(self, call: Call) -> dict:
        p = call.params
        return self.state.exchange_code(_str(p.get("client_id")), _str(p.get("client_secret")), _str(p.get("code")),
                                        _str(p.get("grant_type")))

    # ---- WABA -------------------------------------------------------------------------------

    def get_waba(self, call: Call, token: Token, waba_id: str) -> dict:
        waba = self._waba(call, token, waba_id)
        return select_fields(self.state.waba_fields(waba, token), call.params.get("fields"), WABA_DEFAULT_FIELDS,
                             NODE_TYPES["waba"])

    def list_phone_numbers(self, call: Call, token: Token, waba_id: str) -> dict:
        waba = self._waba(call, token, waba_id)
        conditions = phone_filters(call.params.get("filtering"))
        getters = [self.state.phone_fields(p, token.app_id) for p in self.state.waba_phones(waba)]
        getters = [g for g in getters if all(_matches(g[f](), op, value) for f, op, value in conditions)]
        fields = call.params.get("fields")
        rows = [select_fields(g, fields, PHONE_DEFAULT_FIELDS, NODE_TYPES["phone"]) for g in getters]
        return paginate(call, rows, f"{waba.id}/phone_numbers")

    def get_subscribed_apps(self, call: Call, token: Token, waba_id: str) -> dict:
        return self.state.subscribed_apps(self._waba(call, token, waba_id))

    async def subscribe_app(self, call: Call, token: Token, waba_id: str) -> dict:
        waba = self._waba(call, token, waba_id)
        override = call.params.get("override_callback_uri")
        verify_token = _str(call.params.get("verify_token"))
        if override:
            self.state.ensure_can_override(token, waba)
            await self.service.delivery.verify_callback(str(override), verify_token)
        return self.state.subscribe_app(token, waba, None if override is None else str(override), verify_token)

    def unsubscribe_app(self, call: Call, token: Token, waba_id: str) -> dict:
        return self.state.unsubscribe_app(token, self._waba(call, token, waba_id))

    def _waba(self, call: Call, token: Token, waba_id: str):
        waba = self.state.waba_for(token, waba_id, call.method)
        call.usage = (waba.business_id, "whatsapp_business_management")
        return waba

    # ---- phone numbers ----------------------------------------------------------------------

    def _phone(self, call: Call, token: Token, phone_id: str, scope: str = MANAGEMENT):
        phone = self.state.phone_for(token, phone_id, call.method, scope)
        business_id = self.state.wabas[phone.waba_id].business_id
        call.usage = (business_id, "whatsapp" if scope == MESSAGING else "whatsapp_business_management")
        return phone

    def get_phone(self, call: Call, token: Token, phone_id: str) -> dict:
        phone = self._phone(call, token, phone_id)
        return select_fields(self.state.phone_fields(phone, token.app_id), call.params.get("fields"),
                             PHONE_DEFAULT_FIELDS, NODE_TYPES["phone"])

    async def update_phone(self, call: Call, token: Token, phone_id: str) -> dict:
        phone = self._phone(call, token, phone_id)
        if "pin" in call.params:
            return self.state.set_pin(phone, call.params["pin"])
        config = object_param(call.params, "webhook_configuration")
        if config is None:
            raise err.invalid_parameter("Send pin (two-step verification) or webhook_configuration.")
        uri = config.get("override_callback_uri")
        if uri is None:
            raise err.parameter_required("webhook_configuration['override_callback_uri']")
        if uri:
            await self.service.delivery.verify_callback(str(uri), _str(config.get("verify_token")))
        return self.state.set_webhook_override(phone, str(uri), _str(config.get("verify_token")))

    def request_code(self, call: Call, token: Token, phone_id: str) -> dict:
        p = call.params
        return self.state.request_code(self._phone(call, token, phone_id), p.get("code_method"),
                                       p.get("language") or p.get("locale"))

    def verify_code(self, call: Call, token: Token, phone_id: str) -> dict:
        return self.state.verify_code(self._phone(call, token, phone_id), call.params.get("code"))

    def register(self, call: Call, token: Token, phone_id: str) -> dict:
        return self.state.register(self._phone(call, token, phone_id), call.params)

    def deregister(self, call: Call, token: Token, phone_id: str) -> dict:
        return self.state.deregister(self._phone(call, token, phone_id))

    def get_business_profile(self, call: Call, token: Token, phone_id: str) -> dict:
        phone = self._phone(call, token, phone_id)
        return self.state.business_profile(phone, call.params.get("fields"))

    def update_business_profile(self, call: Call, token: Token, phone_id: str) -> dict:
        return self.state.update_business_profile(self._phone(call, token, phone_id), call.params)

    def send_message(self, call: Call, token: Token, phone_id: str) -> dict:
        phone = self._phone(call, token, phone_id, MESSAGING)
        if "status" in call.params and "to" not in call.params:  # mark as read (and the typing indicator)
            return self.state.mark_read(phone, call.params)
        response, plan = self.state.send_message(phone, call.params)
        self.service.report_statuses(phone, plan)
        return response

    # ---- the partner's business portfolio -----------------------------------------------------

    def get_business(self, call: Call, token: Token, business_id: str) -> dict:
        business = partner.business_for(self.state, token, business_id, call.method)
        return select_fields(partner.business_fields(business), call.params.get("fields"), ("id", "name"),
                             NODE_TYPES["business"])

    def get_extended_credits(self, call: Call, token: Token, business_id: str) -> dict:
        return partner.extended_credits(partner.business_for(self.state, token, business_id, call.method))

    def list_owned_wabas(self, call: Call, token: Token, business_id: str) -> dict:
        business = partner.business_for(self.state, token, business_id, call.method)
        return self._waba_page(call, token, partner.owned_wabas(self.state, business),
                               f"{business.id}/owned_whatsapp_business_accounts")

    def list_client_wabas(self, call: Call, token: Token, business_id: str) -> dict:
        business = partner.business_for(self.state, token, business_id, call.method)
        return self._waba_page(call, token, partner.client_wabas(self.state, business),
                               f"{business.id}/client_whatsapp_business_accounts")

    def _waba_page(self, call: Call, token: Token, wabas: list, edge: str) -> dict:
        fields = call.params.get("fields")
        rows = [select_fields(self.state.waba_fields(w, token), fields, ("id", "name"), NODE_TYPES["waba"])
                for w in wabas]
        return paginate(call, rows, edge)

    def share_credit_line(self, call: Call, token: Token, credit_line_id: str) -> dict:
        return partner.share_and_attach(self.state, token, credit_line_id, call.params)

    def get_allocation_config(self, call: Call, token: Token, allocation_config_id: str) -> dict:
        """GET /{allocation_config_id}?fields=receiving_credential,receiving_business,request_status."""
        getters = partner.allocation_config(self.state, token, allocation_config_id)
        names = _field_names(call.params.get("fields")) if call.params.get("fields") else ["id"]
        result = {}
        for name in names:
            if name not in getters:
                raise err.nonexisting_field(name, NODE_TYPES["allocation_config"])
            result[name] = getters[name]()
        result.setdefault("id", allocation_config_id)
        return result

    def list_allocation_configs(self, call: Call, token: Token, credit_line_id: str) -> dict:
        """GET /{credit_line_id}/owning_credit_allocation_configs?receiving_business_id=&fields=id,receiving_business:
        the line's active shares (Meta's revoke steps read it to find a client's allocation config)."""
        owner = partner.credit_line_owner(self.state, credit_line_id)
        if owner is None or token.type == "APP" or token.business_id != owner.id:
            raise err.unsupported_request(call.method, credit_line_id)
        receiving = call.params.get("receiving_business_id")
        names = _field_names(call.params.get("fields")) if call.params.get("fields") else ["id"]
        rows = []
        for waba in sorted(self.state.wabas.values(), key=lambda w: w.id):
            allocation = waba.credit_allocation or {}
            if allocation.get("credit_line_id") != credit_line_id or (receiving and str(receiving) != waba.business_id):
                continue
            getters = partner.allocation_config(self.state, token, allocation["allocation_config_id"])
            row = {}
            for name in names:
                if name not in getters:
                    raise err.nonexisting_field(name, NODE_TYPES["allocation_config"])
                row[name] = getters[name]()
            row.setdefault("id", allocation["allocation_config_id"])
            rows.append(row)
        return paginate(call, rows, f"{credit_line_id}/owning_credit_allocation_configs")

    def get_assigned_users(self, call: Call, token: Token, waba_id: str) -> dict:
        waba = self._waba(call, token, waba_id)
        return paginate(call, partner.assigned_users(self.state, waba, call.params), f"{waba.id}/assigned_users")

    def assign_user(self, call: Call, token: Token, waba_id: str) -> dict:
        return partner.assign_user(self.state, self._waba(call, token, waba_id), call.params)

    def unassign_user(self, call: Call, token: Token, waba_id: str) -> dict:
        return partner.unassign_user(self.state, self._waba(call, token, waba_id), call.params)

    # ---- message templates ------------------------------------------------------------------

    def list_templates(self, call: Call, token: Token, waba_id: str) -> dict:
        waba = self._waba(call, token, waba_id)
        return paginate(call, templates.listing(waba, call.params), f"{waba.id}/message_templates")

    def create_template(self, call: Call, token: Token, waba_id: str) -> dict:
        return templates.create(self.state, self._waba(call, token, waba_id), call.params)

    def delete_template(self, call: Call, token: Token, waba_id: str) -> dict:
        return templates.delete(self._waba(call, token, waba_id), call.params)

    # ---- app webhook subscriptions ----------------------------------------------------------

    async def set_app_subscription(self, call: Call, token: Token, app_id: str) -> dict:
        app = self.state.app_for(token, app_id, call.method)
        p = call.params
        for name in ("object", "callback_url", "verify_token", "fields"):
            if not p.get(name):
                raise err.parameter_required(name)
        fields = list_param(p["fields"])
        await self.service.delivery.verify_callback(str(p["callback_url"]), str(p["verify_token"]))
        return self.state.set_app_subscription(app, str(p["object"]), str(p["callback_url"]), str(p["verify_token"]),
                                               fields)

    def get_app_subscriptions(self, call: Call, token: Token, app_id: str) -> dict:
        app = self.state.app_for(token, app_id, call.method)
        return self.state.app_subscriptions(app, call.version_or_default)

    def delete_app_subscription(self, call: Call, token: Token, app_id: str) -> dict:
        app = self.state.app_for(token, app_id, call.method)
        obj = call.params.get("object")
        fields = list_param(call.params["fields"]) if call.params.get("fields") else []
        return self.state.delete_app_subscription(app, str(obj) if obj else None, fields)


ROUTES: dict[tuple[str, str | None], dict[str, Callable]] = {
    ("waba", None): {"GET": GraphAPI.get_waba},
    ("waba", "phone_numbers"): {"GET": GraphAPI.list_phone_numbers},
    ("waba", "subscribed_apps"): {"GET": GraphAPI.get_subscribed_apps, "POST": GraphAPI.subscribe_app,
                                  "DELETE": GraphAPI.unsubscribe_app},
    ("waba", "assigned_users"): {"GET": GraphAPI.get_assigned_users, "POST": GraphAPI.assign_user,
                                 "DELETE": GraphAPI.unassign_user},
    ("waba", "message_templates"): {"GET": GraphAPI.list_templates, "POST": GraphAPI.create_template,
                                    "DELETE": GraphAPI.delete_template},
    ("business", None): {"GET": GraphAPI.get_business},
    ("business", "extendedcredits"): {"GET": GraphAPI.get_extended_credits},
    ("business", "owned_whatsapp_business_accounts"): {"GET": GraphAPI.list_owned_wabas},
    ("business", "client_whatsapp_business_accounts"): {"GET": GraphAPI.list_client_wabas},
    ("credit_line", "whatsapp_credit_sharing_and_attach"): {"POST": GraphAPI.share_credit_line},
    ("credit_line", "owning_credit_allocation_configs"): {"GET": GraphAPI.list_allocation_configs},
    ("allocation_config", None): {"GET": GraphAPI.get_allocation_config},
    ("phone", None): {"GET": GraphAPI.get_phone, "POST": GraphAPI.update_phone},
    ("phone", "request_code"): {"POST": GraphAPI.request_code},
    ("phone", "verify_code"): {"POST": GraphAPI.verify_code},
    ("phone", "register"): {"POST": GraphAPI.register},
    ("phone", "deregister"): {"POST": GraphAPI.deregister},
    ("phone", "messages"): {"POST": GraphAPI.send_message},
    ("phone", "whatsapp_business_profile"): {"GET": GraphAPI.get_business_profile,
                                             "POST": GraphAPI.update_business_profile},
    ("app", "subscriptions"): {"GET": GraphAPI.get_app_subscriptions, "POST": GraphAPI.set_app_subscription,
                               "DELETE": GraphAPI.delete_app_subscription},
}


def served_version(requested: str | None, today: dt.date) -> str:
    """The version Meta answers as: an expired version is served as the oldest one still available."""
    if not requested:
        return DEFAULT_API_VERSION
    usable = sorted((v for v, (_, until) in VERSIONS.items() if until is None or until > today),
                    key=lambda v: int(v[1:].split(".")[0]))
    entry = VERSIONS.get(requested)
    major = int(requested[1:].split(".")[0])
    expired = (entry is not None and entry[1] is not None and entry[1] <= today) or (
        entry is None and major < min(int(v[1:].split(".")[0]) for v in VERSIONS))
    return usable[0] if expired and usable else requested


def select_fields(getters: dict[str, Callable[[], Any]], fields: Any, defaults: tuple[str, ...], node_type: str) -> dict:
    """The requested fields (or the defaults); a field Meta does not serve on the node gets its #100."""
    names = _field_names(fields) if fields else list(defaults)
    if "id" not in names:
        names.append("id")
    known = spec_model.node_fields(node_type)
    result = {}
    for name in names:
        if name not in known:
            raise err.nonexisting_field(name, node_type)
        value = getters[name]()
        if value is not None:  # as Meta, a field without a value is left out
            result[name] = value
    return result


def phone_filters(filtering: Any) -> list[tuple[str, str, Any]]:
    """`filtering=[{"field", "operator", "value"}]` on phone_numbers, checked against the spec's fields and operators."""
    if filtering in (None, "", []):
        return []
    rules = spec_model.phone_numbers_filtering()
    try:
        conditions = json.loads(filtering) if isinstance(filtering, str) else filtering
    except ValueError:
        raise err.invalid_parameter("filtering must be a JSON array of {field, operator, value}.") from None
    if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
        raise err.invalid_parameter("filtering must be a JSON array of {field, operator, value}.")
    out = []
    for condition in conditions:
        name, operator = condition.get("field"), str(condition.get("operator", "")).upper()
        if name not in rules["fields"]:
            raise err.param_enum("filtering[field]", rules["fields"], str(name))
        if operator not in rules["operators"]:
            raise err.param_enum("filtering[operator]", rules["operators"], operator)
        if "value" not in condition:
            raise err.parameter_required("filtering[value]")
        out.append((name, operator, condition["value"]))
    return out


def _matches(actual: Any, operator: str, expected: Any) -> bool:
    """EQUAL, the one operator the spec names; booleans compare as booleans, the rest as text."""
    if isinstance(actual, bool) and not isinstance(expected, bool):
        expected = str(expected).strip().lower() in ("true", "1")
    elif not isinstance(actual, bool):
        actual, expected = str(actual), str(expected)
    return operator == "EQUAL" and actual == expected


def paginate(call: Call, rows: list[dict], edge: str) -> dict:
    """Graph cursor paging: opaque base64 cursors; next/previous only when that page exists."""
    limit = _limit(call.params.get("limit"))
    ids = [row["id"] for row in rows]
    after, before = call.params.get("after"), call.params.get("before")
    start = 0
    if after:
        cursor_id = _decode_cursor(after)
        start = next((i for i, row_id in enumerate(ids) if row_id > cursor_id), len(ids))
    elif before:
        cursor_id = _decode_cursor(before)
        end = next((i for i, row_id in enumerate(ids) if row_id >= cursor_id), len(ids))
        start = max(0, end - limit)
    page = rows[start:start + limit]
    result: dict[str, Any] = {"data": page}
    if not page:
        return result
    paging: dict[str, Any] = {"cursors": {"before": _cursor(page[0]["id"]), "after": _cursor(page[-1]["id"])}}
    if start + limit < len(rows):
        paging["next"] = _page_url(call, edge, limit, after=_cursor(page[-1]["id"]))
    if start > 0:
        paging["previous"] = _page_url(call, edge, limit, before=_cursor(page[0]["id"]))
    result["paging"] = paging
    return result


def _page_url(call: Call, edge: str, limit: int, **cursor: str) -> str:
    query: dict[str, Any] = {}
    if call.token_in_query and call.token:
        query["access_token"] = call.token  # Graph repeats a query-string token; a header token stays out
    for name in ("fields", "business", "name", "status", "filtering", "receiving_business_id"):  # the page's own selection carries over
        if call.params.get(name) not in (None, ""):
            query[name] = call.params[name]
    query["limit"] = limit
    query.update(cursor)
    return f"{call.base_url}/{call.version_or_default}/{edge}?{urllib.parse.urlencode(query)}"


def _cursor(row_id: str) -> str:
    # Meta's cursors are base64 of a record starting "AQH", hence their "QVFI" look.
    return base64.urlsafe_b64encode(f"AQH{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any) -> str:
    text = str(cursor)
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith("AQH") or not decoded[3:].isdigit():
        raise err.invalid_parameter("The paging cursor is not valid. Start again without after/before.")
    return decoded[3:]


def _limit(value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_PAGE_SIZE
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise err.invalid_parameter("limit must be a positive integer.") from None
    if limit < 1:
        raise err.invalid_parameter("limit must be a positive integer.")
    return min(limit, MAX_PAGE_SIZE)


def _field_names(fields: Any) -> list[str]:
    """'a,b{c,d},e' -> ['a', 'b', 'e'] (subfield selections are answered in full)."""
    text = ",".join(fields) if isinstance(fields, list) else str(fields)
    names, depth, current = [], 0, ""
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            names.append(current.strip())
            current = ""
        elif depth == 0:
            current += char
    names.append(current.strip())
    return [n for n in names if n]


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
