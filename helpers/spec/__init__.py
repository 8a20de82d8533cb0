"""Meta's OpenAPI spec of the WhatsApp Business Platform (v23.0, vendored unmodified; see README.md).

- `load()`: the whole spec as a dict (parsed once per process; about 0.2 s with libyaml). Tests
  and the index builder read it; the sandbox reads only `index()`.
- `index()`: the compact index the sandbox is built from (`index.json`, rebuilt with
  `python -m helpers.spec`): node fields and their enums, edges, webhook fields, message types.
- `live_meta()`: where the playbook follows live Meta rather than the spec (`live_meta.yaml`).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SPEC_PATH = HERE / "business-messaging-api_v23.0.yaml"
INDEX_PATH = HERE / "index.json"
LIVE_META_PATH = HERE / "live_meta.yaml"
SPEC_VERSION = "v23.0"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    """The spec, parsed (cached: treat it as read-only)."""
    with SPEC_PATH.open("rb") as fh:
        return yaml.load(fh, Loader=_Loader)


@functools.lru_cache(maxsize=1)
def index() -> dict[str, Any]:
    with INDEX_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=1)
def live_meta() -> list[dict[str, Any]]:
    with LIVE_META_PATH.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)["differences"]
