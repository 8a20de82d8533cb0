"""Validation against Meta's OpenAPI spec, allowing exactly the differences in live_meta.yaml.

- `operation(method, template)`: the spec's operation for a path template such as
  "/{Version}/{Phone-Number-ID}/messages".
- `response_schema(method, template, status)` / `request_schema(method, template)`: JSON pointers
  into the spec.
- `problems(instance, pointer)`: the validation errors (jsonschema Draft 2020-12 over a registry
  holding the whole spec, OpenAPI's `nullable` honoured) that no listed difference explains, and
  the ids of the differences that explained the others.

A difference explains an error when the schema object that failed is the one it names (`where`,
a JSON pointer into the spec), the keyword is its `check`, and the offending value is among its
`values` (enum values, missing required properties, extra properties, JSON types).
"""
from __future__ import annotations

import copy
import functools
from collections import defaultdict
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from helpers import spec

SPEC_URI = "urn:meta-openapi"
GRAPH_ERROR = "#/components/schemas/GraphAPIError"


@functools.lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    doc = copy.deepcopy(spec.load())
    _honour_nullable(doc)
    return doc


def _honour_nullable(node: Any) -> None:
    """OpenAPI 3.0's `nullable: true` (still used by this 3.1 spec) as JSON Schema: null allowed too."""
    if isinstance(node, dict):
        for value in node.values():
            _honour_nullable(value)
        if node.get("nullable") is True:
            if isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
                if "enum" in node and None not in node["enum"]:
                    node["enum"] = [*node["enum"], None]
            elif "type" not in node:
                inner = {k: v for k, v in node.items() if k != "nullable"}
                node.clear()
                node["anyOf"] = [inner, {"type": "null"}]
    elif isinstance(node, list):
        for value in node:
            _honour_nullable(value)


@functools.lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource(document(), DRAFT202012))


@functools.lru_cache(maxsize=1)
def _pointers() -> dict[int, str]:
    """id(schema object) -> its JSON pointer, to name the schema an error came from."""
    found: dict[int, str] = {}

    def walk(node: Any, at: str) -> None:
        if isinstance(node, dict):
            found[id(node)] = at
            for key, value in node.items():
                walk(value, f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{at}/{i}")

    walk(document(), "#")
    return found


@functools.lru_cache(maxsize=None)
def validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=_registry())


def resolve(pointer: str) -> Any:
    node: Any = document()
    for part in pointer.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def operation(method: str, template: str) -> dict:
    return document()["paths"][template][method.lower()]


def response_schema(method: str, template: str, status: int) -> str | None:
    """Pointer to the schema of that response, or None when the spec lists no such status."""
    responses = operation(method, template)["responses"]
    base = f"#/paths/{escape(template)}/{method.lower()}/responses/{status}"
    entry = responses.get(str(status), responses.get(status))  # YAML keeps unquoted codes as ints
    if entry is None:
        return None
    if "$ref" in entry:
        base, entry = entry["$ref"], resolve(entry["$ref"])
    content = entry.get("content", {}).get("application/json")
    return f"{base}/content/application~1json/schema" if content and "schema" in content else None


def request_schema(method: str, template: str) -> str | None:
    body = operation(method, template).get("requestBody")
    if not body or "application/json" not in body.get("content", {}):
        return None
    return f"#/paths/{escape(template)}/{method.lower()}/requestBody/content/application~1json/schema"


# ---- differences ---------------------------------------------------------------------------------

CONTEXTS = ("responses", "webhooks", "requests")


def differences(context: str) -> list[dict]:
    """The schema differences listed for one context: responses, webhooks or requests."""
    assert context in CONTEXTS, context
    return [d for d in spec.live_meta() if "where" in d and context in d["applies_to"]]


def _offending(error: ValidationError) -> set[str]:
    if error.validator == "required":
        return {p for p in error.validator_value if isinstance(error.instance, dict) and p not in error.instance}
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        return {k for k in error.instance if k not in allowed} if isinstance(error.instance, dict) else set()
    if error.validator == "type":
        return {_json_type(error.instance)}
    return {error.instance if isinstance(error.instance, str) else repr(error.instance)}


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "integer" if isinstance(value, int) else "number")


def _explained(error: ValidationError, diffs: Iterable[dict]) -> str | None:
    where = _pointers().get(id(error.schema))
    for diff in diffs:
        places = diff["where"] if isinstance(diff["where"], list) else [diff["where"]]
        if where in places and diff["check"] == error.validator:
            values = {str(v) for v in diff.get("values", [])}
            if not values or _offending(error) <= values:
                return diff["id"]
    return None


def _residual(errors: Iterable[ValidationError], diffs: list[dict]) -> tuple[list[ValidationError], set[str]]:
    left: list[ValidationError] = []
    used: set[str] = set()
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            branches: dict[Any, list[ValidationError]] = defaultdict(list)
            for sub in error.context:
                branches[sub.relative_schema_path[0]].append(sub)
            chosen = _discriminated(error)
            if chosen is not None:  # OpenAPI's discriminator names the one branch that applies
                branches = {chosen: branches.get(chosen, [])}
            outcomes = [_residual(subs, diffs) for subs in branches.values()]
            passing = [ids for rest, ids in outcomes if not rest]
            if len(passing) == 1 or (passing and error.validator == "anyOf"):
                used |= passing[0]
                continue
            if len(passing) > 1:  # explained in more than one branch: it is valid, whichever branch it is
                used |= min(passing, key=len)
                continue
            left.append(min((rest for rest, _ in outcomes), key=len)[0] if outcomes else error)
            continue
        diff_id = _explained(error, diffs)
        if diff_id is None:
            left.append(error)
        else:
            used.add(diff_id)
    return left, used


def _discriminated(error: ValidationError) -> int | None:
    discriminator = error.schema.get("discriminator") if isinstance(error.schema, dict) else None
    if not discriminator or not isinstance(error.instance, dict):
        return None
    target = discriminator.get("mapping", {}).get(error.instance.get(discriminator["propertyName"]))
    for i, branch in enumerate(error.validator_value):
        if branch.get("$ref") == target:
            return i
    return None


def problems(instance: Any, pointer: str, context: str | list[dict]) -> tuple[list[str], set[str]]:
    """Errors no difference listed for `context` explains (as readable lines), and the differences used.

    `context` is "responses", "webhooks" or "requests", or an explicit list of differences.
    """
    diffs = differences(context) if isinstance(context, str) else context
    left, used = _residual(validator(pointer).iter_errors(instance), diffs)
    return [describe(e) for e in left], used


def explains_some_error(instance: Any, pointer: str, diff: dict) -> bool:
    """Whether `diff` explains at least one of the errors (at any depth) of instance against pointer."""
    pending = list(validator(pointer).iter_errors(instance))
    while pending:
        error = pending.pop()
        if _explained(error, [diff]):
            return True
        pending += error.context or []
    return False


def describe(error: ValidationError) -> str:
    where = _pointers().get(id(error.schema), "?")
    at = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {at}: {error.message[:300]} [{error.validator} in {where}]"
