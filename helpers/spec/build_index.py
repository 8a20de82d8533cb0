"""Build `index.json`, the compact part of Meta's spec that the sandbox is made from.

Run `python -m helpers.spec` after replacing the vendored YAML; tests/contract/test_spec_index.py
fails while the committed index and the YAML disagree.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

# Graph node type -> the spec's path prefix for that node and the schemas that describe it
# (the node's own GET answer and the items of the edges that list it).
NODES = {
    "WhatsAppBusinessPhoneNumber": {
        "paths": ["/{Version}/{Phone-Number-ID}"],
        "schemas": ["PhoneNumberInfo", "WhatsAppBusinessAccountPhoneNumber"],
    },
    "WhatsAppBusinessAccount": {
        "paths": ["/{Version}/{WABA-ID}", "/{Version}/{WhatsApp-Business-Account-ID}"],
        "schemas": ["WhatsAppBusinessAccount"],
    },
    # The business portfolio: its GET answer's schema is written inline in the operation.
    "Business": {
        "paths": ["/{Version}/{Business-ID}"],
        "schemas": [],
        "responses": ["/{Version}/{Business-ID}"],
    },
}
SCHEMAS = "#/components/schemas/"
HTTP_METHODS = ("get", "post", "delete", "put", "patch")


def build(doc: dict[str, Any], source_bytes: bytes) -> dict[str, Any]:
    schemas = doc["components"]["schemas"]
    paths = doc["paths"]
    index: dict[str, Any] = {
        "source": {"file": "business-messaging-api_v23.0.yaml", "version": doc["info"]["version"],
                   "sha256": hashlib.sha256(source_bytes).hexdigest()},
        "nodes": {name: _node(spec, schemas, paths) for name, spec in NODES.items()},
        "operations": sorted(f"{method.upper()} {path}" for path, item in paths.items()
                             for method in HTTP_METHODS if method in item),
        "message_types": sorted(schemas["Message"]["discriminator"]["mapping"]),
        "business_profile": _business_profile(schemas),
        "phone_numbers_filtering": _filtering(paths["/{Version}/{WABA-ID}/phone_numbers"]["get"]),
        "webhook_fields": _webhook_fields(doc),
        "local_storage_regions": sorted(schemas["WhatsAppDataLocalizationRegion"]["enum"]),
        "waba_permission_tasks": _narrowed(schemas, "WhatsAppBusinessAccountPermissionTask"),
    }
    return index


def _narrowed(schemas: dict, name: str) -> list[str]:
    """The schema's enum without the values live_meta.yaml says live Meta refuses (a `narrows` entry)."""
    from . import live_meta  # the package's loader of live_meta.yaml
    refused = {str(v) for d in live_meta() if d.get("narrows") == SCHEMAS + name for v in d["refuses"]}
    return [v for v in schemas[name]["enum"] if v not in refused]


def _node(spec: dict, schemas: dict, paths: dict) -> dict:
    fields: dict[str, dict] = {}
    sources = [(name, schemas[name], f"{SCHEMAS}{name}") for name in spec["schemas"]]
    for path in spec.get("responses", []):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        sources.append((f"GET {path}", schema, f"#/paths/{path.replace('/', '~1')}/get/responses/200/content/application~1json/schema"))
    for schema_name, schema, pointer in sources:
        for field, prop in schema.get("properties", {}).items():
            entry = fields.setdefault(field, {"schemas": [], "type": None, "enum": [], "enum_at": []})
            entry["schemas"].append(schema_name)
            resolved, at = _resolve(prop, schemas, f"{pointer}/properties/{field}")
            entry["type"] = entry["type"] or resolved.get("type")
            if "enum" in resolved:
                entry["enum"] = sorted(set(entry["enum"]) | {v for v in resolved["enum"] if v is not None})
                entry["enum_at"].append(at)
    edges: dict[str, list[str]] = {}
    for prefix in spec["paths"]:
        for path, item in paths.items():
            rest = path[len(prefix):]
            if path.startswith(prefix + "/") and rest.count("/") == 1:
                edges.setdefault(rest[1:], sorted({*edges.get(rest[1:], []),
                                                   *(m.upper() for m in HTTP_METHODS if m in item)}))
    return {"schemas": spec["schemas"], "fields": dict(sorted(fields.items())), "edges": dict(sorted(edges.items()))}


def _resolve(prop: dict, schemas: dict, at: str) -> tuple[dict, str]:
    while "$ref" in prop:
        name = prop["$ref"].removeprefix(SCHEMAS)
        prop, at = schemas[name], SCHEMAS + name
    return prop, at


def _business_profile(schemas: dict) -> dict:
    profile = schemas["WhatsAppBusinessProfile"]
    fields = {}
    for name, prop in profile["properties"].items():
        resolved, _ = _resolve(prop, schemas, "")
        fields[name] = {key: resolved[key] for key in ("type", "minLength", "maxLength", "maxItems", "format", "enum")
                        if key in resolved}
        if "items" in resolved:
            fields[name]["items"] = {k: v for k, v in resolved["items"].items() if k in ("type", "maxLength", "format")}
    return {"fields": fields}


def _filtering(operation: dict) -> dict:
    for param in operation["parameters"]:
        if param.get("name") == "filtering":
            text = param["description"]
            supported = text.split("Supported fields:", 1)[1].split("\n", 1)[0]
            example = json.loads(param["schema"].get("example") or param.get("example"))
            return {"fields": [f.strip() for f in supported.split(",") if f.strip()],
                    "operators": sorted({f["operator"] for f in example})}
    raise ValueError("the phone_numbers operation has no filtering parameter")


def _webhook_fields(doc: dict) -> list[str]:
    fields = set(doc["components"]["schemas"]["Change"]["properties"]["field"]["enum"])
    examples = doc["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    for example in examples.values():
        for entry in example["value"].get("entry", []):
            fields.update(change["field"] for change in entry.get("changes", []))
    return sorted(fields)


def differences_table(differences: list[dict]) -> str:
    """docs/sandbox.md's "Known differences from the spec" table, from live_meta.yaml."""
    lines = ["| id | where | the spec says | live Meta, and the sandbox | source |", "|---|---|---|---|---|"]
    for diff in differences:
        if "node" in diff:
            where, says = f"`{diff['field']}` on {diff['node']}", "(no such field in the node's schemas)"
        elif "narrows" in diff:
            where = f"`{diff['narrows'].removeprefix(SCHEMAS)}`"
            says = "also lists " + ", ".join(f"`{v}`" for v in diff["refuses"])
        elif "where" in diff:
            places = diff["where"] if isinstance(diff["where"], list) else [diff["where"]]
            names = sorted({p.removeprefix(SCHEMAS) for p in places})
            where = ", ".join(f"`{n}`" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            values = ", ".join(f"`{v}`" for v in diff.get("values", []))
            says = f"`{diff['check']}` refuses {values or 'it'} (in {', '.join(diff['applies_to'])})"
            if diff.get("spec_example"):
                says += "; Meta's own example fails the same way: " + "; ".join(diff["spec_example"])
        else:
            where, says = "shape", "(omits it, or shapes it otherwise)"
        sources = " ; ".join(f"<{s.strip()}>" if s.strip().startswith("http") else s.strip()
                             for s in diff["source"].split(" ; "))
        cells = [f"`{diff['id']}`", where, says, diff["live"], sources]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"
