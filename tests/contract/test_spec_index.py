"""The vendored spec, its compact index and the differences list agree with each other and with the docs."""
from __future__ import annotations

import re
from pathlib import Path

from helpers import spec
from helpers.spec.build_index import build, differences_table
import spec_validation as sv

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def test_the_committed_index_is_built_from_the_vendored_spec():
    assert spec.index() == build(spec.load(), spec.SPEC_PATH.read_bytes()), \
        "helpers/spec/index.json is stale: run `python -m helpers.spec`"


def test_the_spec_is_vendored_unmodified_with_its_licence():
    assert spec.index()["source"]["version"] == spec.SPEC_VERSION == spec.load()["info"]["version"]
    assert spec.load()["openapi"].startswith("3.1")
    assert "MIT License" in (spec.HERE / "LICENSE").read_text()
    assert "unmodified" in (spec.HERE / "README.md").read_text()


def test_every_difference_is_well_formed():
    ids = [d["id"] for d in spec.live_meta()]
    assert len(ids) == len(set(ids)), "duplicate difference ids"
    for diff in spec.live_meta():
        assert diff.get("source") and diff.get("live"), diff["id"]
        if "where" in diff:
            places = diff["where"] if isinstance(diff["where"], list) else [diff["where"]]
            for place in places:
                sv.resolve(place)  # raises when the pointer does not exist in the spec
            assert diff["check"] in ("enum", "required", "additionalProperties", "type", "maxLength"), diff["id"]
            assert set(diff["applies_to"]) <= set(sv.CONTEXTS), diff["id"]
        if "node" in diff:
            assert diff["node"] in spec.index()["nodes"] and diff["field"], diff["id"]


def test_docs_list_exactly_the_differences():
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Known differences from the spec", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9_.-]+)` \|", section, flags=re.M)
    assert sorted(documented) == sorted(d["id"] for d in spec.live_meta())
    assert differences_table(spec.live_meta()) in section, "docs/sandbox.md is stale: run `python -m helpers.spec`"
