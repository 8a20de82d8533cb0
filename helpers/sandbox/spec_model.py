"""What the sandbox knows of Meta's contract, taken from Meta's OpenAPI spec (helpers/spec/).

The way an AWS emulator derives itself from the published service models: node fields, their
enums, edges, message types, the business profile's rules and the phone_numbers filter come
from the spec's compact index; where live Meta serves more than the spec describes (fields its
schemas omit, enum values it lacks), the additions come from helpers/spec/live_meta.yaml, each
with its source. Nothing here is a hand-kept list of Meta's fields.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from .. import spec

PHONE_NUMBER = "WhatsAppBusinessPhoneNumber"
WABA = "WhatsAppBusinessAccount"
BUSINESS = "Business"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str | None
    values: frozenset[str]       # allowed enum values (spec's and live Meta's); empty: not an enum
    source: str                  # "spec" or the live_meta entry id


@functools.lru_cache(maxsize=None)
def node_fields(node_type: str) -> dict[str, FieldSpec]:
    """Every field Meta answers on `node_type`: the spec's, then live Meta's additions."""
    node = spec.index()["nodes"][node_type]
    extra_values: dict[str, set[str]] = {}
    for diff in spec.live_meta():
        if diff.get("check") == "enum":
            places = diff["where"] if isinstance(diff["where"], list) else [diff["where"]]
            for place in places:
                extra_values.setdefault(place, set()).update(str(v) for v in diff["values"])
    fields = {}
    for name, entry in node["fields"].items():
        values = set(entry["enum"])
        for place in entry["enum_at"]:
            values |= extra_values.get(place, set())
        fields[name] = FieldSpec(name, entry["type"], frozenset(values), "spec")
    for diff in spec.live_meta():
        if diff.get("node") == node_type:
            fields.setdefault(diff["field"], FieldSpec(diff["field"], None, frozenset(), diff["id"]))
    return fields


def edges(node_type: str) -> dict[str, tuple[str, ...]]:
    """The node's edges in the spec: name -> HTTP methods."""
    return {name: tuple(methods) for name, methods in spec.index()["nodes"][node_type]["edges"].items()}


def allowed(node_type: str, field: str) -> frozenset[str]:
    return node_fields(node_type)[field].values


def message_types() -> tuple[str, ...]:
    return tuple(spec.index()["message_types"])


def business_profile_fields() -> dict[str, dict]:
    return spec.index()["business_profile"]["fields"]


def phone_numbers_filtering() -> dict[str, list[str]]:
    return spec.index()["phone_numbers_filtering"]


def local_storage_regions() -> tuple[str, ...]:
    return tuple(spec.index()["local_storage_regions"])


def waba_permission_tasks() -> tuple[str, ...]:
    return tuple(spec.index()["waba_permission_tasks"])
