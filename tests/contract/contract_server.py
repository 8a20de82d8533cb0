"""A Graph stand-in that checks every request it receives against Meta's OpenAPI spec.

For each request it finds the spec operation (path template + method), then checks the path
parameters, the query and header parameters, the auth and the request body against the spec's
schemas, records what it found (`Received`) and answers with the spec's own first example of
the 200 response, or with a Graph error envelope (HTTP 400) naming the problems.

- Graph reads a parameter from the query string, a form body or a JSON body alike, so the
  parameters the operation does not declare as query/path/header ones are merged from all three
  and validated against the operation's requestBody schema.
- Node paths are ambiguous in the spec (/{Version}/{Phone-Number-ID} and /{Version}/{WABA-ID}
  have the same shape), so the server is told which fixture ID is which kind of node (`ids`).
- Graph's method override (`method=GET` in a POST form body, how the client keeps secrets out
  of URLs) is honoured: the request is checked as the method it names.
- Endpoints the spec does not describe (NOT_IN_SPEC) are recorded as such, checked against the
  parameters Meta's Graph API reference requires, and answered with realistic canned bodies.
"""
from __future__ import annotations

import itertools
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import tornado.web

import spec_validation as sv
from helpers.serving import BackgroundServer

CONTEXT = "requests"  # the live_meta.yaml context of request differences
_METHODS = ("get", "post", "delete", "put", "patch")


@dataclass(frozen=True)
class NotInSpec:
    """A Graph endpoint the spec leaves out, with what Meta's reference requires of a call."""
    template: str
    method: str
    required: tuple[str, ...]  # parameters that must be present (query, form or JSON)
    auth: str                  # "bearer": a user/system token; "app": an {app_id}|{secret} token; "secret": client_secret
    answer: Callable[[dict[str, Any], dict[str, str]], Any]
    source: str


def _debug_token(params: dict[str, Any], ids: dict[str, str]) -> Any:
    app = next((i for i, kind in ids.items() if kind == "Application-ID"), "300000000000001")
    waba = next((i for i, kind in ids.items() if kind == "WABA-ID"), "200000000000001")
    scopes = ["whatsapp_business_management", "whatsapp_business_messaging"]
    return {"data": {"app_id": app, "type": "SYSTEM_USER", "application": "Contract test app", "data_access_expires_at": 0,
                     "expires_at": 0, "is_valid": True, "scopes": scopes, "user_id": "500000000000001",
                     "granular_scopes": [{"scope": s, "target_ids": [waba]} for s in scopes]}}


NOT_IN_SPEC: tuple[NotInSpec, ...] = (
    NotInSpec("/{Version}/debug_token", "get", ("input_token",), "bearer", _debug_token,
              "https://developers.facebook.com/docs/graph-api/reference/debug_token/"),
    NotInSpec("/{Version}/oauth/access_token", "get", ("client_id", "client_secret", "code"), "secret",
              lambda p, ids: {"access_token": "FAKE-EXCHANGED-TOKEN-not-real", "token_type": "bearer"},
              "https://developers.facebook.com/docs/facebook-login/guides/access-tokens/#exchange-code"),
    NotInSpec("/{Version}/{Application-ID}/subscriptions", "post", ("object", "callback_url", "verify_token", "fields"),
              "app", lambda p, ids: {"success": True},
              "https://developers.facebook.com/docs/graph-api/reference/app/subscriptions/"),
    NotInSpec("/{Version}/{Extended-Credit-Line-ID}/whatsapp_credit_sharing_and_attach", "post",
              ("waba_currency", "waba_id"), "bearer",
              lambda p, ids: {"allocation_config_id": "580000000000001", "waba_id": str(p.get("waba_id"))},
              "https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/"
              "onboarding-customers-as-a-solution-partner"),
    # Meta's "Managing credit lines": verifying shared status, and finding a share again to revoke it.
    NotInSpec("/{Version}/{Extended-Credit-Line-ID}/owning_credit_allocation_configs", "get", (), "bearer",
              lambda p, ids: {"data": [{"id": "580000000000001", "receiving_credential": {"id": "590000000000001"},
                                        "receiving_business": {"id": str(p.get("receiving_business_id") or
                                                                          "100000000000004")}}]},
              "https://developers.facebook.com/docs/marketing-api/reference/extended-credit/owning_credit_allocation_configs/"),
    NotInSpec("/{Version}/{Allocation-Config-ID}", "get", ("fields",), "bearer",
              lambda p, ids: {"receiving_credential": {"id": "590000000000001"}, "id": "580000000000001"},
              "https://developers.facebook.com/documentation/business-messaging/whatsapp/solution-providers/"
              "share-and-revoke-credit-lines/"),
    NotInSpec("/{Version}/{Application-ID}/subscriptions", "get", (), "app",
              lambda p, ids: {"data": [{"object": "whatsapp_business_account", "callback_url": "https://example.com/hook",
                                        "active": True, "fields": [{"name": "messages", "version": "v25.0"}]}]},
              "https://developers.facebook.com/docs/graph-api/reference/app/subscriptions/"),
)


@dataclass
class Received:
    """One request as the server saw it, and what the spec says about it."""
    method: str                  # the effective method (after Graph's `method` override)
    path: str
    template: str | None         # the spec path template (or a NOT_IN_SPEC one) it matched
    operation_id: str | None     # the spec's operationId; None when not in the spec
    in_spec: bool
    params: dict[str, Any]       # body parameters after merging query, form and JSON
    problems: list[str] = field(default_factory=list)
    differences: set[str] = field(default_factory=set)  # live_meta.yaml ids that explained errors

    @property
    def key(self) -> tuple[str, str | None]:
        return self.method, self.template


def request_differences() -> list[dict]:
    """The request-side differences of live_meta.yaml."""
    return sv.differences(CONTEXT)


# ---- matching a concrete path to a template ------------------------------------------------------

def _segments(path: str) -> list[str]:
    return [urllib.parse.unquote(s) for s in path.strip("/").split("/")]


def match_template(path: str, ids: dict[str, str], templates) -> tuple[str | None, dict[str, str]]:
    """The template a concrete path matches and its path parameters.

    `{Version}` takes any segment (its pattern is checked later, as a parameter); any other
    placeholder takes only an ID that `ids` says is of that kind, which settles the spec's
    same-shaped node paths. Templates with more literal segments win.
    """
    parts = _segments(path)
    found: list[tuple[int, str, dict[str, str]]] = []
    for template in templates:
        tparts = template.strip("/").split("/")
        if len(tparts) != len(parts):
            continue
        values: dict[str, str] = {}
        for tp, part in zip(tparts, parts):
            if tp.startswith("{") and tp.endswith("}"):
                name = tp[1:-1]
                if name != "Version" and ids.get(part) != name:
                    break
                values[name] = part
            elif tp != part:
                break
        else:
            found.append((sum(not t.startswith("{") for t in tparts), template, values))
    if not found:
        return None, {}
    found.sort(key=lambda f: -f[0])
    return found[0][1], found[0][2]


# ---- the spec's parameters ---------------------------------------------------------------------

def _parameters(template: str, method: str) -> list[tuple[dict, str]]:
    """(parameter, pointer to its schema): path-level ones overridden by the operation's own."""
    base = f"#/paths/{sv.escape(template)}"
    item = sv.document()["paths"][template]
    merged: dict[tuple[str, str], tuple[dict, str]] = {}
    for at, entries in ((base, item.get("parameters", [])), (f"{base}/{method}", item[method].get("parameters", []))):
        for i, entry in enumerate(entries):
            pointer = f"{at}/parameters/{i}"
            if "$ref" in entry:
                pointer, entry = entry["$ref"], sv.resolve(entry["$ref"])
            merged[(entry["in"], entry["name"].lower())] = (entry, f"{pointer}/schema")
    return list(merged.values())


def _body_schema(template: str, method: str) -> tuple[str | None, bool]:
    """Pointer to the requestBody schema (JSON preferred, else the first media type) and whether a body is required."""
    body = sv.operation(method, template).get("requestBody")
    if not body:
        return None, False
    base = f"#/paths/{sv.escape(template)}/{method}/requestBody"
    if "$ref" in body:
        base, body = body["$ref"], sv.resolve(body["$ref"])
    content = body.get("content", {})
    media = "application/json" if "application/json" in content else next(iter(content), None)
    if media is None or "schema" not in content[media]:
        return None, bool(body.get("required"))
    return f"{base}/content/{sv.escape(media)}/schema", bool(body.get("required"))


def _schema_at(pointer: str) -> dict:
    schema = sv.resolve(pointer)
    while isinstance(schema, dict) and "$ref" in schema:
        schema = sv.resolve(schema["$ref"])
    return schema if isinstance(schema, dict) else {}


def _types(schema: dict) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else ({kind} if kind else set())


def coerce(value: Any, pointer: str | None) -> Any:
    """A string from a URL or form as the schema's type (OpenAPI's simple-style deserialisation).

    Graph also takes a JSON-encoded object or array in a form/query parameter. A value that
    does not convert is left as the string, so the schema's type check reports it.
    """
    if not isinstance(value, str) or pointer is None:
        return value
    types = _types(_schema_at(pointer))
    if "integer" in types and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if "number" in types and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return float(value)
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    if types & {"object", "array"} and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _schema_nodes(body_pointer: str) -> Iterator[tuple[str, dict]]:
    """(pointer, schema) for a body schema and every branch it reaches through $ref, allOf, oneOf, anyOf."""
    queue, seen = [body_pointer], set()
    while queue:
        pointer = queue.pop(0)
        if pointer in seen:
            continue
        seen.add(pointer)
        node = sv.resolve(pointer)
        if "$ref" in node:
            queue.append(node["$ref"])
            continue
        yield pointer, node
        for key in ("allOf", "oneOf", "anyOf"):
            queue.extend(f"{pointer}/{key}/{i}" for i in range(len(node.get(key, []))))


def _property_names(body_pointer: str) -> set[str]:
    """Every top-level property a body schema declares, in any of its allOf/oneOf/anyOf branches."""
    return {name for _, node in _schema_nodes(body_pointer) for name in node.get("properties", {})}


def _property_pointer(body_pointer: str, name: str) -> str | None:
    """Pointer to a top-level property's schema in a body schema (through $ref, allOf, oneOf, anyOf)."""
    for pointer, node in _schema_nodes(body_pointer):
        if name in node.get("properties", {}):
            return f"{pointer}/properties/{sv.escape(name)}"
    return None


# ---- the server --------------------------------------------------------------------------------

@dataclass
class _Wire:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json_body: Any
    headers: dict[str, str]  # lower-cased names
    body_problem: str | None = None


class ContractGraph:
    """A real HTTP server on 127.0.0.1 (free port) that validates what it receives.

    >>> with ContractGraph({"200000000000001": "WABA-ID"}) as graph:
    ...     operations.get_waba(GraphClient(graph_url=graph.url), "200000000000001")
    ...     graph.received   # one Received per request, with its problems
    """

    def __init__(self, ids: dict[str, str], *, diffs: list[dict] | None = None) -> None:
        self.ids = dict(ids)
        self.diffs = request_differences() if diffs is None else diffs
        self.received: list[Received] = []
        self._traces = itertools.count(1)
        app = tornado.web.Application([(r"(/.*)", _Handler, {"graph": self})])
        self.server = BackgroundServer(app, name="contract-graph")

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "ContractGraph":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "ContractGraph":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def clear(self) -> None:
        self.received.clear()

    # ---- one request ----
    def handle(self, wire: _Wire) -> tuple[int, Any]:
        method = wire.method.lower()
        override = wire.form.get("method") if method == "post" else None
        if override:  # Graph's method override
            method = override.lower()
        params = {**wire.query, **wire.form, **(wire.json_body if isinstance(wire.json_body, dict) else {})}
        if override:
            params.pop("method")
        template, path_values = match_template(wire.path, self.ids, sv.document()["paths"])
        if template is not None and method in sv.document()["paths"][template]:
            record = self._check_spec_operation(wire, method, template, path_values, params)
        else:
            record = self._check_not_in_spec(wire, method, template, params)
        if wire.body_problem:
            record.problems.insert(0, wire.body_problem)
        self.received.append(record)
        if record.problems:
            return 400, {"error": {"message": "(#100) The request does not conform to the spec: " + "; ".join(record.problems),
                                   "type": "OAuthException", "code": 100, "fbtrace_id": f"CONTRACT{next(self._traces):06d}"}}
        if record.in_spec:
            return 200, example_response(method, record.template)
        entry = next(e for e in NOT_IN_SPEC if (e.method, e.template) == (method, record.template))
        return 200, entry.answer(params, self.ids)

    def _check_spec_operation(self, wire: _Wire, method: str, template: str, path_values: dict[str, str],
                              params: dict[str, Any]) -> Received:
        op = sv.operation(method, template)
        record = Received(method.upper(), wire.path, template, op.get("operationId"), True, {})
        problems = record.problems
        access_token = params.pop("access_token", None)
        for parameter, pointer in _parameters(template, method):
            name, where = parameter["name"], parameter["in"]
            if where == "path":
                value: Any = path_values.get(name)
            elif where == "query":
                value = params.pop(name, None)  # a query parameter may come in the body too
            elif where == "header":
                value = wire.headers.get(name.lower())
                if name.lower() == "content-type" and value:
                    value = value.split(";")[0].strip()  # the media type, without charset
                if name.lower() == "authorization" and value is None and access_token:
                    continue  # Graph takes the token as access_token instead of the header
                if name.lower() == "content-type" and value is None and wire.method == "GET":
                    continue  # live_meta get-without-content-type: a GET has no body to describe
            else:
                continue
            if value is None:
                if parameter.get("required"):
                    problems.append(f"required {where} parameter {name!r} is missing")
                continue
            self._validate(coerce(value, pointer), pointer, f"{where} parameter {name!r}", record)
        if not (_bearer(wire.headers) or access_token):
            problems.append("no access token: send Authorization: Bearer <token> or access_token")
        body_pointer, body_required = _body_schema(template, method)
        record.params = params
        if body_pointer is None:
            for name in params:  # nothing else may carry it: a misspelt or undocumented parameter
                problems.append(f"parameter {name!r} is not in the spec for {method.upper()} {template}")
            return record
        if body_required and not params:
            problems.append(f"{method.upper()} {template} requires a request body")
            return record
        from_json = set(wire.json_body) if isinstance(wire.json_body, dict) else set()
        body = {name: value if name in from_json else coerce(value, _property_pointer(body_pointer, name))
                for name, value in params.items()}
        record.params = body
        known = _property_names(body_pointer)
        for name in body:  # the schemas allow extra properties, but Graph ignores a misspelt one silently
            if name not in known:
                problems.append(f"parameter {name!r} is not a property of the request body schema ({body_pointer})")
        if body:  # an optional body may be left out altogether
            self._validate(body, body_pointer, "request body", record)
        return record

    def _check_not_in_spec(self, wire: _Wire, method: str, spec_template: str | None, params: dict[str, Any]) -> Received:
        template, _ = match_template(wire.path, self.ids, {e.template for e in NOT_IN_SPEC})
        entry = next((e for e in NOT_IN_SPEC if (e.method, e.template) == (method, template)), None)
        record = Received(method.upper(), wire.path, template or spec_template, None, False, params)
        if entry is None:
            if spec_template:
                methods = sorted(m.upper() for m in sv.document()["paths"][spec_template] if m in _METHODS)
                record.problems.append(f"{method.upper()} {spec_template} is neither a spec operation (the spec has "
                                       f"{', '.join(methods)} there) nor a listed not-in-spec endpoint")
            else:
                record.problems.append(f"{method.upper()} {wire.path} is neither a spec operation nor a listed "
                                       "not-in-spec endpoint (is every ID in the id map?)")
            return record
        version = _segments(wire.path)[0]
        if not re.fullmatch(r"v[0-9]+\.[0-9]+", version):
            record.problems.append(f"path parameter 'Version' {version!r} is not a Graph version")
        for name in entry.required:
            if not str(params.get(name, "")).strip():
                record.problems.append(f"required parameter {name!r} is missing ({entry.source})")
        token = _bearer(wire.headers) or params.get("access_token")
        if entry.auth == "app" and not (token and re.fullmatch(r"[0-9]+\|.+", token)):
            record.problems.append("this endpoint needs the app access token {app_id}|{app_secret}")
        elif entry.auth == "bearer" and not token:
            record.problems.append("no access token: send Authorization: Bearer <token> or access_token")
        return record

    def _validate(self, instance: Any, pointer: str, what: str, record: Received) -> None:
        errors, used = sv.problems(instance, pointer, self.diffs)
        record.problems.extend(f"{what}: {e}" for e in errors)
        record.differences |= used


def _bearer(headers: dict[str, str]) -> str | None:
    match = re.fullmatch(r"Bearer\s+(\S.*)", headers.get("authorization", ""))
    return match.group(1) if match else None


def example_response(method: str, template: str) -> Any:
    """The spec's first example of the operation's 200 response ({"success": true} when it has none)."""
    responses = sv.operation(method, template)["responses"]
    entry = responses.get("200", responses.get(200)) or {}
    if "$ref" in entry:
        entry = sv.resolve(entry["$ref"])
    content = entry.get("content", {}).get("application/json", {})
    for example in (content.get("examples") or {}).values():
        if "$ref" in example:
            example = sv.resolve(example["$ref"])
        return example["value"]
    return content.get("example", {"success": True})


class _Handler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH")

    def initialize(self, graph: ContractGraph) -> None:
        self.graph = graph

    def _answer(self, _path: str) -> None:
        req = self.request
        content_type = req.headers.get("Content-Type", "")
        wire = _Wire(req.method, req.path, _single(req.query_arguments), {}, None,
                     {k.lower(): v for k, v in req.headers.items()})
        if req.body:
            if content_type.startswith("application/json"):
                try:
                    wire.json_body = json.loads(req.body)
                except ValueError as exc:
                    wire.body_problem = f"the JSON body does not parse ({exc})"
                if wire.json_body is not None and not isinstance(wire.json_body, dict):
                    wire.body_problem = "the JSON body is not an object"
            elif "form" in content_type:
                wire.form = _single(req.body_arguments)
            else:
                wire.body_problem = f"a body with Content-Type {content_type or '(none)'} that Graph cannot read"
        status, body = self.graph.handle(wire)
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.write(json.dumps(body))

    get = post = delete = put = patch = _answer


def _single(arguments: dict[str, list[bytes]]) -> dict[str, str]:
    """One value per name (Graph takes the last), decoded."""
    return {name: values[-1].decode("utf-8", "replace") for name, values in arguments.items()}
